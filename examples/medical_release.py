"""A privacy-safe release of patient records: NAFLD patients with their lab histories.

The release trains the sequence model with differential privacy at ε = 4 with the
patient as the unit (one patient with all their lab tests is what the guarantee
protects), samples synthetic patients, evaluates them against patients the model
never saw and checks every privacy gate. Only when all pass does it write the
release directory: the synthetic patients and lab events (Parquet and CSV), the
report (HTML and JSON) and a model card stating ε, δ and the unit. When a gate
fails, nothing is written and the failed gates are printed; either way the example
prints every gate and the main figures.

Run it with ``python examples/medical_release.py``; ``SYNTHKIT_EXAMPLE_EPOCHS`` sets
the training epochs and ``SYNTHKIT_EXAMPLE_SEED`` the seed of the fit, the sample
and the evaluation (0 by default; the split of the patients stays the same). The
release goes to ``nafld_release/`` in the working directory (a new directory each
run: remove the old one first).
"""

import json
import os
import shutil
import time
from pathlib import Path

import synthkit
from synthkit.datasets import load_nafld_labs
from synthkit.errors import ReleaseGateError
from synthkit.metadata import Metadata

epochs = int(os.environ.get("SYNTHKIT_EXAMPLE_EPOCHS", "16"))
seed = int(os.environ.get("SYNTHKIT_EXAMPLE_SEED", "0"))
KEY, INDEX = "id", "days"
output = Path("nafld_release")
shutil.rmtree(output, ignore_errors=True)

labs, patients = load_nafld_labs()
# case.id names the matched case: another patient's identifier, not a property of
# this patient. A release carries no links between people, so it is left out.
patients = patients.drop(columns=["case.id"])
# BMI is weight / height² by definition: declared as a formula (public knowledge that
# stores no real value, so the private fit keeps it), it is computed from each
# synthetic patient's weight and height instead of being learned as a column.
context_metadata = Metadata.detect(patients, rules=False).add_rule(
    "formula", column="bmi", expression="weight / (height / 100) ** 2"
)
# Split by patient: each patient's lab tests and context row land on one side,
# patients without lab tests included; each side carries its patients as .context.
train, holdout = synthkit.holdout_split(
    synthkit.SequenceDataset(labs, KEY, INDEX, context_metadata=context_metadata),
    holdout=500,
    random_state=0,
    context=patients,
)
print(
    f"{len(train.context):,} training patients with {len(train.data):,} lab events; "
    f"{len(holdout.context):,} holdout patients"
)

# Public domains, known without looking at the patients, so no budget is spent on
# finding them: the lab panel the study recorded (its documented test names),
# physiological ranges of adult lab values, vitals and body measures (mg/dL, mmHg,
# years, kg, cm), and twenty years either side of the index date for the calendar.
public = {
    "bounds": {
        "value": (0, 300),
        INDEX: (-7305, 7305),
        "age": (18, 100),
        "weight": (30, 250),
        "height": (120, 220),
        "futime": (0, 7305),
    },
    "categories": {"test": ["hdl", "chol", "sbp", "dbp", "smoke", "fib4"]},
}
started = time.perf_counter()
try:
    result = synthkit.release(
        train,
        output,
        holdout=holdout,
        model="ar",
        epsilon=4.0,
        target="status",
        random_state=seed,
        # DP-SGD computes one gradient per patient and adds noise to every weight: a
        # small network, batches of a quarter of the patients and coarse bins keep
        # the noise small relative to what a step learns; short windows keep it quick.
        model_params={
            "epochs": epochs,
            "batch_size": 256,
            "max_window": 16,
            "state_dim": 32,
            "hidden_dim": 32,
            "n_bins": 16,
            "context_params": {"epochs": max(epochs, 1), "n_bins": 8},
            # Lab tests are taken during follow-up (futime is its length in days):
            # declared, this public fact keeps every drawn test within its patient's.
            "index_bound": "futime",
            "verbose": False,
            **public,
        },
    )
except ReleaseGateError as error:
    print(error)
    print(f"Nothing was written: {output} exists = {output.exists()}.")
    gates, report = error.gates, error.report
else:
    card = json.loads((result.path / "model_card.json").read_text())
    privacy = card["privacy"]
    print(
        f"Released to {result.path}: {', '.join(result.files)}\n"
        f"ε spent {privacy['epsilon_spent']:.2f} of {privacy['epsilon_target']} at "
        f"δ = {privacy['delta']:.2g}, per {privacy['unit']}."
    )
    gates, report = result.gates, result.report
print(f"Fit, sample and evaluation: {time.perf_counter() - started:.0f} s. Gates:")
for gate in gates:
    print("  ", gate.line())
for name in (
    "column_shapes",
    "length_similarity",
    "gap_similarity",
    "detection_auc",
    "dcr_share",
    "inference_risk",
):
    if name in report.results:
        print(f"   {name}: {report.results[name].value:.3f}")
if "inference_risk" in report.results:
    # The inference risk pools every secret column; the details say which were scored.
    details = report.results["inference_risk"].details
    print(
        f"   inference_risk pooled {len(details['secrets'])} secrets over "
        f"{details['control_targets']} holdout patients; duplicates merged: "
        f"{details['merged'] or 'none'}; left out: {list(details['left_out']) or 'none'}"
    )
