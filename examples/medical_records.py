"""Medical records: a synthetic database of NAFLD patients with their lab tests and clinical events.

The bundled NAFLD sample is a three-table medical record keyed by the patient
``id``: 1,500 patients (age, sex, body measures, follow-up and death), their lab
tests and vitals over time (``days``, ``test``, ``value``) and their clinical
events (``days``, ``event``: diabetes, hypertension, heart attack, ...). We
split the patients into training and holdout patients (each with every row
hanging off them), fit the record model on the training database, draw a
synthetic database of as many patients, score it against the holdout with the
patient as the unit of privacy, and write it to a SQLite file (foreign keys
declared) and to nested JSON (one record per patient with lists of labs and
events).

Run it with ``python examples/medical_records.py``; ``SYNTHKIT_EXAMPLE_EPOCHS``
sets the training epochs (the model's default schedule otherwise). Files go to
``synthetic_records.db`` and ``synthetic_patients.json`` in the working
directory.
"""

import os
import sqlite3

import numpy as np
import pandas as pd

import synthkit
from synthkit.datasets import load_nafld_events, load_nafld_labs

epochs = os.environ.get("SYNTHKIT_EXAMPLE_EPOCHS")
labs, patients = load_nafld_labs()
events = load_nafld_events()

# Split by patient, never by row: a patient goes to one side with all their labs and events.
order = np.random.default_rng(0).permutation(patients["id"].to_numpy())
train_ids, holdout_ids = order[:1000], order[1000:]


def database(ids: np.ndarray) -> synthkit.RecordDataset:
    """The patients ``ids`` with their labs and events, lists ordered by ``days``."""
    return synthkit.RecordDataset(
        {
            "patients": patients[patients["id"].isin(ids)].reset_index(drop=True),
            "labs": labs[labs["id"].isin(ids)].reset_index(drop=True),
            "events": events[events["id"].isin(ids)].reset_index(drop=True),
        },
        [
            synthkit.Relationship("patients", "labs", "id", "id", order="days"),
            synthkit.Relationship("patients", "events", "id", "id", order="days"),
        ],
        primary_keys={"patients": "id"},
    )


train, holdout = database(train_ids), database(holdout_ids)
print(f"Training database: {train}; holdout: {holdout}")

model = synthkit.RecordSynthesizer(
    "ar",
    random_state=0,
    verbose=False,
    **({"epochs": int(epochs)} if epochs else {}),
)
model.fit(train)
synthetic = model.sample(random_state=1)
print(f"Synthetic database: {synthetic}")
print(synthetic.tables["events"].head(5).to_string(index=False))

report = synthkit.evaluate(
    train,
    synthetic,
    holdout=holdout,
    metrics=[
        "referential_integrity",
        "cardinality_similarity",
        "inter_table_trends",
        "column_shapes",
        "dcr_share",
        "entity_copy_rate",
    ],
)
print(f"\nBy relationship:\n{report.by_relationship().to_string(float_format='{:.3f}'.format)}")
figures = report.to_dict()
print(
    f"\nReferential integrity {figures['referential_integrity']:.3f} (1.0: every key valid), "
    f"cardinality similarity {figures['cardinality_similarity']:.3f}, inter-table trends "
    f"{figures['inter_table_trends']:.3f}, column shapes {figures['column_shapes']:.3f}; "
    f"beside them the patient-level DCR share {figures['dcr_share']:.3f} (0.5 is ideal) and "
    f"copied patients {figures['entity_copy_rate']:.3f}."
)

# One SQLite file with primary and foreign keys declared, written in one transaction.
synthkit.save(synthetic, "sqlite:///synthetic_records.db", if_exists="replace")
with sqlite3.connect("synthetic_records.db") as connection:
    keys = pd.read_sql("SELECT * FROM pragma_foreign_key_list('labs')", connection)
    broken = connection.execute("PRAGMA foreign_key_check").fetchall()
print(
    f"\nWrote synthetic_records.db: labs.{keys['from'][0]} references "
    f"{keys['table'][0]}.{keys['to'][0]}; {len(broken)} broken foreign keys."
)

# Nested JSON: one record per patient with the lists of their labs and events.
synthkit.save(synthetic, "synthetic_patients.json")
first = synthetic.to_records()[0]
print(
    f"Wrote synthetic_patients.json: {len(synthetic.tables['patients']):,} patients, the first "
    f"with {len(first['labs'])} labs and {len(first['events'])} events."
)
