"""Patient histories: synthetic NAFLD patients with their lab tests, evaluated by patient.

The bundled NAFLD sample holds 1,500 patients (age, sex, body measures,
follow-up and death) and their lab tests and vitals over time (``days``, ``test``,
``value``; many tests share a day; some patients have none). We split the
patients into training and holdout patients, fit the sequence model on the
training patients, draw as many synthetic patients, score them against the
holdout with the patient as the unit (fidelity of lengths, gaps and
consecutive events, detection, utility for predicting death, and privacy), and
write the synthetic events and patients to Parquet.

Run it with ``python examples/patient_histories.py``; ``SYNTHKIT_EXAMPLE_EPOCHS`` sets
the training epochs (the default keeps the example quick). Files go to
``synthetic_patients/`` in the working directory.
"""

import os
from pathlib import Path

import synthkit
from synthkit.datasets import load_nafld_labs

epochs = int(os.environ.get("SYNTHKIT_EXAMPLE_EPOCHS", "15"))
KEY, INDEX = "id", "days"

labs, patients = load_nafld_labs()
# Split by patient: a patient's row and every lab test of theirs land on one side.
train, holdout = synthkit.holdout_split(
    synthkit.SequenceDataset(labs, KEY, INDEX, context=patients), holdout=500, random_state=0
)
print(
    f"{len(train.context):,} training patients with {len(train.data):,} lab events; "
    f"{len(holdout.context):,} holdout patients"
)

model = synthkit.SequenceSynthesizer(
    "ar",
    epochs=epochs,
    # The context model picks its own schedule; quick runs (few epochs) shorten it too.
    context_params=None if epochs >= 10 else {"epochs": epochs},
    random_state=0,
    verbose=False,
)
model.fit(train)  # the patients come with the events, as train.context
synthetic = model.sample(n_entities=len(train.context), random_state=1)
print(f"Drew {synthetic.n_entities:,} patients with events, {len(synthetic.data):,} events:")
print(synthetic.data.head(6).to_string(index=False))

report = synthkit.evaluate(
    train,
    synthetic,
    holdout=holdout,  # each side's patients are read from its .context
    target="status",
    metrics=[
        "column_shapes",
        "length_similarity",
        "gap_similarity",
        "coherence",
        "detection_auc",
        "entity_tstr_auc",
        "entity_trtr_auc",
        "dcr_share",
        "exact_match_rate",
    ],
)
print(f"\nScores by patient (the unit of privacy is {report.meta['unit']}):")
print(report.to_frame()[["value", "explanation"]].to_string())

out = Path("synthetic_patients")
out.mkdir(exist_ok=True)
synthetic.data.to_parquet(out / "labs.parquet", index=False)
synthetic.context.to_parquet(out / "patients.parquet", index=False)
figures = report.to_dict()
print(
    f"\nWrote {out}/labs.parquet and {out}/patients.parquet. Detection AUC "
    f"{figures['detection_auc']:.3f} (0.5: indistinguishable), death-prediction AUC "
    f"{figures['entity_tstr_auc']:.3f} trained on synthetic vs {figures['entity_trtr_auc']:.3f} "
    f"on real patients, entity DCR share {figures['dcr_share']:.3f} (0.5 is ideal)."
)
