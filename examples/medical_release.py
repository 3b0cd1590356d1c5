"""A privacy-safe release of patient records: NAFLD patients with their lab histories.

The release trains the sequence model with differential privacy at ε = 4 with the
patient as the unit (one patient with all their lab tests is what the guarantee
protects), samples synthetic patients, evaluates them against patients the model
never saw and checks every privacy gate. Only when all pass does it write the
release directory: the synthetic patients and lab events (Parquet and CSV), the
report (HTML and JSON) and a model card stating ε, δ and the unit. When a gate
fails, nothing is written and the failed gates are printed.

Run it with ``python examples/medical_release.py``; ``SYNTHKIT_EXAMPLE_EPOCHS`` sets
the training epochs. The release goes to ``nafld_release/`` in the working directory
(a new directory each run: remove the old one first).
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np

import synthkit
from synthkit.datasets import load_nafld_labs
from synthkit.errors import ReleaseGateError

epochs = int(os.environ.get("SYNTHKIT_EXAMPLE_EPOCHS", "8"))
KEY, INDEX = "id", "days"
output = Path("nafld_release")
shutil.rmtree(output, ignore_errors=True)

labs, patients = load_nafld_labs()
order = np.random.default_rng(0).permutation(patients[KEY].to_numpy())
train_ids, holdout_ids = order[:1000], order[1000:]
train_patients = patients[patients[KEY].isin(train_ids)].reset_index(drop=True)
holdout_patients = patients[patients[KEY].isin(holdout_ids)].reset_index(drop=True)
train = synthkit.SequenceDataset(labs[labs[KEY].isin(train_ids)], KEY, INDEX)
holdout = synthkit.SequenceDataset(labs[labs[KEY].isin(holdout_ids)], KEY, INDEX)
print(
    f"{len(train_ids):,} training patients with {len(train.data):,} lab events; "
    f"{len(holdout_ids):,} holdout patients"
)

try:
    result = synthkit.release(
        train,
        output,
        holdout=holdout,
        # Patients split as the events are, those without lab tests included.
        context={"real": train_patients, "holdout": holdout_patients},
        model="ar",
        epsilon=4.0,
        target="status",
        random_state=0,
        # DP-SGD computes one gradient per patient: short windows and larger batches
        # keep it quick and the noise small relative to the batch.
        model_params={
            "epochs": epochs,
            "batch_size": 128,
            "max_window": 16,
            "context_params": {"epochs": epochs},
            "verbose": False,
        },
    )
except ReleaseGateError as error:
    print(error)
    print(f"Nothing was written: {output} exists = {output.exists()}.")
else:
    card = json.loads((result.path / "model_card.json").read_text())
    privacy = card["privacy"]
    print(
        f"Released to {result.path}: {', '.join(result.files)}\n"
        f"ε spent {privacy['epsilon_spent']:.2f} of {privacy['epsilon_target']} at "
        f"δ = {privacy['delta']:.2g}, per {privacy['unit']}."
    )
    for gate in result.gates:
        print("  ", gate.line())
    report = result.report
    for name in ("length_similarity", "column_shapes", "detection_auc", "dcr_share"):
        if name in report.results:
            print(f"   {name}: {report.results[name].value:.3f}")
