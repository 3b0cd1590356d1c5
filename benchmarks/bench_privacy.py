"""Differentially private 'ar' on Adult, and private sequences on NAFLD: quality, cost, audit.

Tables: for each epsilon (``inf`` is the ordinary fit) the table 'ar' model is fitted
on the Adult train split with delta = 1e-5 and samples as many rows: shape and trend
errors (sdmetrics, MEASURING.md), TSTR ROC AUC on the test split, DCR share against the
test split (ideal 0.5) and fit seconds, with the epsilon spent, and the empirical
audit's lower bound on epsilon (``synthkit.evaluation.privacy_audit``: 200 canary rows
of a training sample, half trained on, a likelihood attack; a bound above the epsilon
spent would mean the training leaks more than claimed). Issue 12's targets at
epsilon = 1: TSTR AUC >= 0.88, shape error <= 3 %, trend error <= 6 %, DP fit at most
3x the non-DP fit.

Sequences (``--sequences``): NAFLD patients (``../shared/data/nafld1``) with their lab
tests (``nafld2``), a sample of patients split into training and holdout patients;
the sequence 'ar' model at each epsilon, scored by synthkit's entity-level evaluation
(the patient is the unit): column shapes, length similarity, detection AUC, DCR
share and membership AUC against the holdout patients, fit seconds, epsilon spent and
the audit's bound (canary patients, a distance attack).

Baselines (smartnoise-synth AIM, mostlyai-engine's DP mode) are not run: they are not
package dependencies, and a benchmark must not install them.

    .venv/bin/python benchmarks/bench_privacy.py --rows 8000 --epochs 5 --eps 1 4 inf
    .venv/bin/python benchmarks/bench_privacy.py --sequences --patients 3000 --eps 4 inf
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import dcr_share, quality, tstr_auc

import synthkit
from synthkit.datasets import load_adult
from synthkit.evaluation import privacy_audit
from synthkit.generators import Synthesizer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def run(epsilon: float, train: pd.DataFrame, test: pd.DataFrame, args: argparse.Namespace) -> dict:
    params = {"device": "cpu", "random_state": 0, "verbose": False, "epochs": args.epochs}
    if math.isfinite(epsilon):
        params.update(epsilon=epsilon, delta=args.delta)
    model = Synthesizer("ar", **params)
    start = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - start
    synthetic = model.sample(len(train), random_state=2)
    scores = quality(train, synthetic)
    return {
        "epsilon": epsilon,
        "eps_spent": model.epsilon_spent_ if model.epsilon_spent_ is not None else math.inf,
        "fit_s": fit_seconds,
        "shape_err_%": scores["shape_error"],
        "trend_err_%": scores["trend_error"],
        "tstr_auc": tstr_auc(synthetic, test),
        "dcr_share": dcr_share(train, test, synthetic),
        "audit_eps_lb": audit(Synthesizer("ar", **params), train, args),
    }


def audit(model: object, train: pd.DataFrame, args: argparse.Namespace) -> float:
    """The audit's epsilon lower bound on a sample of the training rows."""
    sample = train.sample(min(args.audit_rows, len(train)), random_state=1)
    return privacy_audit(model, sample, n_canaries=200, random_state=0).epsilon_lower_bound


def run_sequences(epsilon: float, args: argparse.Namespace) -> dict:
    """Fit the sequence model on NAFLD patients at ``epsilon``; score by patient."""
    patients = pd.read_csv(SHARED / "nafld1.csv.gz").drop(columns=["case.id"])
    labs = pd.read_csv(SHARED / "nafld2.csv.gz")
    chosen = patients.sample(min(args.patients, len(patients)), random_state=0)
    n_train = int(0.7 * len(chosen))
    train_patients, holdout_patients = chosen.iloc[:n_train], chosen.iloc[n_train:]
    train = synthkit.SequenceDataset(labs[labs.id.isin(train_patients.id)], "id", "days")
    holdout = synthkit.SequenceDataset(labs[labs.id.isin(holdout_patients.id)], "id", "days")
    params = {
        "device": "cpu",
        "random_state": 0,
        "verbose": False,
        "epochs": args.epochs,
        "batch_size": 128,
        "max_window": 16,
    }
    if math.isfinite(epsilon):
        params.update(epsilon=epsilon, delta=args.delta)
    model = synthkit.SequenceSynthesizer("ar", **params)
    start = time.perf_counter()
    model.fit(train, context=train_patients)
    fit_seconds = time.perf_counter() - start
    synthetic = model.sample(len(train_patients), random_state=2)
    report = synthkit.evaluate(
        train,
        synthetic,
        holdout=holdout,
        context={
            "real": train_patients,
            "synthetic": synthetic.context,
            "holdout": holdout_patients,
        },
        metrics=["column_shapes", "length_similarity", "detection_auc", "dcr_share", "mia_auc"],
    )
    canaries = chosen.iloc[: min(len(chosen), 1000)]
    audited = privacy_audit(
        synthkit.SequenceSynthesizer("ar", **params),
        synthkit.SequenceDataset(labs[labs.id.isin(canaries.id)], "id", "days"),
        context=canaries,
        n_canaries=200,
    )
    return {
        "epsilon": epsilon,
        "eps_spent": model.epsilon_spent_ if model.epsilon_spent_ is not None else math.inf,
        "fit_s": fit_seconds,
        **{name: result.value for name, result in report.results.items()},
        "audit_eps_lb": audited.epsilon_lower_bound,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="training rows (default: the whole split)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of every fit")
    parser.add_argument("--eps", nargs="*", type=float, default=[1.0, 4.0, math.inf])
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--audit-rows", type=int, default=2000, help="rows the audit fits on")
    parser.add_argument("--sequences", action="store_true", help="NAFLD sequences instead")
    parser.add_argument("--patients", type=int, default=3000, help="NAFLD patients sampled")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    pd.set_option("display.width", 160)
    if args.sequences:
        table = pd.DataFrame([run_sequences(e, args) for e in args.eps]).set_index("epsilon")
        if math.inf in table.index:
            table["fit_vs_non_dp"] = table["fit_s"] / table.loc[math.inf, "fit_s"]
        print(
            f"NAFLD sequences: {args.patients} patients (70 % train, 30 % holdout), "
            f"{args.epochs} epochs, delta={args.delta:g}, unit: patient"
        )
        print(table.round(3).to_string())
        return
    train, test = load_adult("train"), load_adult("test")
    if args.rows:
        train = train.sample(min(args.rows, len(train)), random_state=0)
    rows = [run(epsilon, train, test, args) for epsilon in args.eps]
    table = pd.DataFrame(rows).set_index("epsilon")
    if math.inf in table.index:
        table["fit_vs_non_dp"] = table["fit_s"] / table.loc[math.inf, "fit_s"]
    print(f"Adult, {len(train)} training rows, {args.epochs} epochs, delta={args.delta:g}")
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
