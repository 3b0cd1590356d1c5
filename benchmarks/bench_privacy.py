"""Differentially private 'ar' on Adult against AIM and TabularARGN's DP mode; NAFLD sequences.

Tables: for each epsilon (``inf`` is the ordinary fit) the table 'ar' model is fitted
on the Adult train split with delta = 1e-5 and samples as many rows: shape and trend
errors (sdmetrics, MEASURING.md), TSTR ROC AUC on the test split, detection AUC,
DCR share against the test split (ideal 0.5) and fit seconds (with the ratio to the
non-DP fit), with the epsilon spent and the empirical audit's lower bound on epsilon
(``synthkit.evaluation.privacy_audit``: 200 canary rows of a training sample, half
trained on, a likelihood attack; a bound above the epsilon spent would mean the
training leaks more than claimed). The DP fits use the model's own defaults when
epsilon is set (its private schedule: batches of a tenth of the rows, 5 epochs, a
64-wide network, learning rate 0.02; a quarter of epsilon for the column
histograms and a fifth for the one-way marginals), which the table's header
prints as the fit recorded them (``schedule_``); the non-DP fit uses the model's
defaults with ``--epochs``.
The targets at epsilon = 1: TSTR AUC >= 0.88, shape error <= 3 %, trend error
<= 6 % and below AIM's, DP fit at most 3x the non-DP fit.

Baselines at every finite epsilon, in the same run, each in a venv of its own run as
a subprocess (they are not dependencies of synthkit, and their dependencies conflict;
``benchmarks/requirements-privacy.txt`` has the recipe), scored here like 'ar':

* AIM (smartnoise-synth, ``--aim-python``): a quarter of epsilon for its preprocessor
  (DP bounds of the numeric columns, which it bins), the rest for AIM; bounded to
  ``--aim-rounds`` rounds (its default is 16 per column, 336 on Adult with the null
  indicators; it measures the 21 one-way marginals first, so fewer than 26 rounds
  leave it no budget) and ``--aim-model-size`` MB of model.
* TabularARGN's DP mode (mostlyai-engine, ``--argn-python``): its value protection
  spends a quarter of epsilon, its DP-SGD stops at the remaining three quarters
  (the two add up to epsilon by basic composition); ``--argn-minutes`` caps training.

Sequences (``--sequences``): NAFLD patients (``../shared/data/nafld1``) with their lab
tests (``nafld2``), a sample of patients split into training and holdout patients;
the sequence 'ar' model at each epsilon, scored by synthkit's entity-level evaluation
(the patient is the unit): column shapes, length and gap similarity, detection AUC,
DCR share and membership AUC against the holdout patients, fit seconds, epsilon spent
and the audit's bound (canary patients, a distance attack). With
``--argn-python``, TabularARGN's DP mode at each finite epsilon on the same patients:
a flat model of the patients and a sequential one of their labs (its two-table
recipe), each at half of epsilon split as for Adult (``--argn-vp-share`` sets its
value protection's share: it reads each column's range and the sequence lengths,
and where the lengths' share is too small for its DP quantiles it draws one event
per patient; its days are drawn as a column, so its histories are sorted by day
before scoring and the share of patients whose days went back is printed). BMI is declared as its
public definition, weight / height² (a ``Formula`` rule, which stores no real value,
so a private fit keeps it); ``--no-formula`` leaves it to be learned as a column.

    .venv/bin/python benchmarks/bench_privacy.py --eps 1 4 inf \
        --aim-python /tmp/venv-privbench/bin/python --argn-python /tmp/venv-argn/bin/python
    .venv/bin/python benchmarks/bench_privacy.py --sequences --patients 3000 --eps 4 inf \
        --argn-python /tmp/venv-argn/bin/python

The venvs are those of ``benchmarks/requirements-privacy.txt``; the one of
``benchmarks/requirements-sequences.txt`` holds the same mostlyai-engine and serves
for ``--argn-python`` too.

``--models`` runs some of the models, ``--save`` appends each row to a JSON-lines file
as it is measured and ``--merge`` adds saved rows to the table: the slow baselines can
run in a process of their own while 'ar' is measured.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import quality, tstr_auc

import synthkit
from synthkit.datasets import load_adult
from synthkit.evaluation import privacy_audit
from synthkit.generators import Synthesizer
from synthkit.metadata import Metadata

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
# The private fits' schedule as the model recorded it (printed with the table).
SCHEDULES: dict[float, dict] = {}


def ar_params(epsilon: float, args: argparse.Namespace) -> dict:
    """The 'ar' model's parameters: a private fit takes the model's DP defaults."""
    params = {"device": "cpu", "random_state": 0, "verbose": False}
    if math.isfinite(epsilon):
        params.update(epsilon=epsilon, delta=args.delta)
    else:
        params["epochs"] = args.epochs
    return params


def run(epsilon: float, train: pd.DataFrame, test: pd.DataFrame, args: argparse.Namespace) -> dict:
    params = ar_params(epsilon, args)
    model = Synthesizer("ar", **params)
    start = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - start
    if math.isfinite(epsilon):
        SCHEDULES[epsilon] = model.schedule_
    synthetic = model.sample(len(train), random_state=2)
    audit_params = ar_params(epsilon, args)
    return {
        "model": "ar",
        "epsilon": epsilon,
        "eps_spent": model.epsilon_spent_ if model.epsilon_spent_ is not None else math.inf,
        "fit_s": fit_seconds,
        **score(train, test, synthetic),
        "audit_eps_lb": audit(Synthesizer("ar", **audit_params), train, args),
    }


def score(train: pd.DataFrame, test: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    """Shape and trend errors, TSTR AUC, detection AUC and DCR share of one sample."""
    scores = quality(train, synthetic)
    report = synthkit.evaluate(
        train, synthetic, holdout=test, metrics=["detection_auc", "dcr_share"]
    ).to_dict()
    return {
        "shape_err_%": scores["shape_error"],
        "trend_err_%": scores["trend_error"],
        "tstr_auc": tstr_auc(synthetic, test),
        "detection_auc": float(report["detection_auc"]),
        "dcr_share": float(report["dcr_share"]),
    }


def in_worker(
    python: str, worker: str, epsilon: float, out: Path, args: argparse.Namespace, extra: list
) -> dict | None:
    """Run this script as ``worker`` in a baseline's venv, writing into ``out``.

    Returns the worker's facts (fit seconds, epsilon spent), or None after printing
    why it failed.
    """
    command = [python, __file__, "--worker", worker, "--worker-out", str(out)]
    command += ["--worker-eps", str(epsilon), "--delta", str(args.delta)]
    command += ["--threads", str(args.threads), "--argn-minutes", str(args.argn_minutes)]
    done = subprocess.run([*command, *extra], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{worker} at epsilon {epsilon:g} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads((out / "facts.json").read_text())


def run_baseline(
    name: str, epsilon: float, train: pd.DataFrame, test: pd.DataFrame, args: argparse.Namespace
) -> dict:
    """Fit a baseline in its own venv (a subprocess of this script), score it here."""
    python = args.aim_python if name == "aim" else args.argn_python
    extra = ["--aim-rounds", str(args.aim_rounds), "--aim-model-size", str(args.aim_model_size)]
    extra += ["--rows", str(args.rows)] if args.rows else []
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as folder:
        facts = in_worker(python, name, epsilon, Path(folder), args, extra)
        if facts is None:
            return {"model": name, "epsilon": epsilon}
        synthetic = conform(pd.read_csv(Path(folder) / "synthetic.csv.gz"), train)
    return {
        "model": name,
        "epsilon": epsilon,
        "eps_spent": facts["epsilon_spent"],
        "fit_s": facts["fit_s"],
        **score(train, test, synthetic),
    }


def conform(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """A baseline's output with the real columns' dtypes (CSV loses them)."""
    out = frame[list(like.columns)].copy()
    for column, dtype in like.dtypes.items():
        if pd.api.types.is_numeric_dtype(dtype):
            values = pd.to_numeric(out[column], errors="coerce")
            if pd.api.types.is_integer_dtype(dtype) and values.notna().all():
                values = values.round().astype(dtype)
            out[column] = values
        else:
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def worker(args: argparse.Namespace) -> None:
    """Inside a baseline's venv: fit it on Adult at ``--worker-eps``, write its sample."""
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    train = load_adult("train")
    if args.rows:
        train = train.sample(min(args.rows, len(train)), random_state=0)
    epsilon, out = args.worker_eps, Path(args.worker_out)
    start = time.perf_counter()
    if args.worker == "aim":
        from snsynth import Synthesizer as SmartNoise

        # AIM's epsilon is the total: the preprocessor's share is taken out of it.
        model = SmartNoise.create(
            "aim",
            epsilon=epsilon,
            delta=args.delta,
            rounds=args.aim_rounds,
            max_model_size=args.aim_model_size,
        )
        model.fit(
            train,
            categorical_columns=[c for c in train.columns if c not in NUMERIC],
            continuous_columns=NUMERIC,
            preprocessor_eps=0.25 * epsilon,
            nullable=True,
        )
        fit_seconds = time.perf_counter() - start
        synthetic = model.sample(len(train))
        spent = epsilon
    else:
        from mostlyai.engine import TabularARGN
        from mostlyai.engine.domain import DifferentialPrivacyConfig

        workspace = tempfile.mkdtemp(prefix="argn-dp-")
        model = TabularARGN(
            device="cpu",
            random_state=0,
            workspace_dir=workspace,
            max_training_time=args.argn_minutes,
            # A config object: its analysis step reads attributes, not dict keys.
            differential_privacy=DifferentialPrivacyConfig(
                max_epsilon=0.75 * epsilon,
                delta=args.delta,
                value_protection_epsilon=0.25 * epsilon,
            ),
        )
        model.fit(train)
        fit_seconds = time.perf_counter() - start
        synthetic = model.sample(n_samples=len(train))
        spent = epsilon
    synthetic.to_csv(out / "synthetic.csv.gz", index=False)
    (out / "facts.json").write_text(json.dumps({"fit_s": fit_seconds, "epsilon_spent": spent}))


def audit(model: object, train: pd.DataFrame, args: argparse.Namespace) -> float:
    """The audit's epsilon lower bound on a sample of the training rows."""
    sample = train.sample(min(args.audit_rows, len(train)), random_state=1)
    return privacy_audit(model, sample, n_canaries=200, random_state=0).epsilon_lower_bound


SEQUENCE_METRICS = [
    "column_shapes",
    "length_similarity",
    "gap_similarity",
    "detection_auc",
    "dcr_share",
    "mia_auc",
]


@cache
def nafld_split(n_patients: int) -> dict[str, pd.DataFrame]:
    """A sample of NAFLD patients split 70/30, with their lab tests (the same in every venv;
    read once per process, and never modified by its callers)."""
    patients = pd.read_csv(SHARED / "nafld1.csv.gz").drop(columns=["case.id"])
    labs = pd.read_csv(SHARED / "nafld2.csv.gz")
    chosen = patients.sample(min(n_patients, len(patients)), random_state=0)
    n_train = int(0.7 * len(chosen))
    train_patients, holdout_patients = chosen.iloc[:n_train], chosen.iloc[n_train:]
    return {
        "patients": patients,
        "labs": labs,
        "chosen": chosen,
        "train_patients": train_patients,
        "holdout_patients": holdout_patients,
        "train_labs": labs[labs.id.isin(train_patients.id)],
        "holdout_labs": labs[labs.id.isin(holdout_patients.id)],
    }


def score_sequences(
    split: dict[str, pd.DataFrame], events: pd.DataFrame, context: pd.DataFrame
) -> dict[str, float]:
    """Entity-level scores of synthetic patients against the training and holdout ones."""
    # TabularARGN draws each event's day as a column: a history may go back in time.
    step = events.groupby("id", sort=False)["days"].diff()
    backwards = events.loc[(step < 0).to_numpy(), "id"].nunique() / max(len(context), 1)
    report = synthkit.evaluate(
        synthkit.SequenceDataset(split["train_labs"], "id", "days"),
        synthkit.SequenceDataset(events, "id", "days", sort=True),
        holdout=synthkit.SequenceDataset(split["holdout_labs"], "id", "days"),
        context={
            "real": split["train_patients"],
            "synthetic": context,
            "holdout": split["holdout_patients"],
        },
        metrics=SEQUENCE_METRICS,
    )
    scores = {name: result.value for name, result in report.results.items()}
    # Real training patients hold about 23 tests each; one event each leaves no gap.
    return {
        "events_per_patient": len(events) / max(len(context), 1),
        "back_in_time": backwards,
        **scores,
    }


def run_sequences(epsilon: float, args: argparse.Namespace) -> dict:
    """Fit the sequence model on NAFLD patients at ``epsilon``; score by patient."""
    split = nafld_split(args.patients)
    context_metadata = None
    if args.formula:
        context_metadata = Metadata.detect(split["patients"]).add_rule(
            "formula", column="bmi", expression="weight / (height / 100) ** 2"
        )
    train = synthkit.SequenceDataset(
        split["train_labs"], "id", "days", context_metadata=context_metadata
    )
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
    model.fit(train, context=split["train_patients"])
    fit_seconds = time.perf_counter() - start
    synthetic = model.sample(len(split["train_patients"]), random_state=2)
    canaries = split["chosen"].iloc[: min(len(split["chosen"]), 1000)]
    labs = split["labs"]
    audited = privacy_audit(
        synthkit.SequenceSynthesizer("ar", **params),
        synthkit.SequenceDataset(
            labs[labs.id.isin(canaries.id)], "id", "days", context_metadata=context_metadata
        ),
        context=canaries,
        n_canaries=200,
    )
    return {
        "model": "ar",
        "epsilon": epsilon,
        "eps_spent": model.epsilon_spent_ if model.epsilon_spent_ is not None else math.inf,
        "fit_s": fit_seconds,
        **score_sequences(split, synthetic.data, synthetic.context),
        "audit_eps_lb": audited.epsilon_lower_bound,
    }


def run_sequence_baseline(epsilon: float, args: argparse.Namespace) -> dict:
    """TabularARGN's DP mode on the same patients, in its own venv; scored here like 'ar'."""
    split = nafld_split(args.patients)
    name = f"argn (value protection {args.argn_vp_share:g} of epsilon)"
    extra = ["--patients", str(args.patients), "--argn-vp-share", str(args.argn_vp_share)]
    with tempfile.TemporaryDirectory(prefix="bench-argn-seq-") as folder:
        facts = in_worker(args.argn_python, "argn-seq", epsilon, Path(folder), args, extra)
        if facts is None:
            return {"model": name, "epsilon": epsilon}
        context = pd.read_csv(Path(folder) / "context.csv.gz")
        events = pd.read_csv(Path(folder) / "events.csv.gz")
    # ARGN draws string keys; integers past the real keys keep the two frames joined.
    keys = pd.Series(range(len(context)), index=context["id"].to_numpy()) + 10**7
    events = events.assign(id=keys.reindex(events["id"].to_numpy()).to_numpy())
    context = conform(context.assign(id=keys.to_numpy()), split["train_patients"])
    events = conform(events, split["train_labs"])
    return {
        "model": name,
        "epsilon": epsilon,
        "eps_spent": facts["epsilon_spent"],
        "fit_s": facts["fit_s"],
        **score_sequences(split, events, context),
    }


def sequence_worker(args: argparse.Namespace) -> None:
    """Inside mostlyai-engine's venv: a flat model of the patients and a sequential one
    of their labs, each private at half of ``--worker-eps`` (basic composition), each
    half split like the table worker's (a quarter for value protection)."""
    from mostlyai.engine import TabularARGN
    from mostlyai.engine.domain import DifferentialPrivacyConfig

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    split = nafld_split(args.patients)
    epsilon, out = args.worker_eps, Path(args.worker_out)
    share = 0.5 * epsilon

    workspace = tempfile.mkdtemp(prefix="argn-dp-seq-")

    def private(part: str) -> dict:
        """Settings both models share: each is private at its half of epsilon."""
        return {
            "device": "cpu",
            "random_state": 0,
            "workspace_dir": f"{workspace}/{part}",
            "max_training_time": args.argn_minutes / 2,
            "differential_privacy": DifferentialPrivacyConfig(
                max_epsilon=(1 - args.argn_vp_share) * share,
                delta=args.delta,
                value_protection_epsilon=args.argn_vp_share * share,
            ),
        }

    flat = TabularARGN(tgt_primary_key="id", **private("context"))
    sequential = TabularARGN(
        tgt_context_key="id",
        ctx_data=split["train_patients"],
        ctx_primary_key="id",
        **private("events"),
    )
    start = time.perf_counter()
    flat.fit(split["train_patients"])
    sequential.fit(split["train_labs"])
    fit_seconds = time.perf_counter() - start
    context = flat.sample(n_samples=len(split["train_patients"]))
    events = sequential.sample(ctx_data=context)
    context.to_csv(out / "context.csv.gz", index=False)
    events.to_csv(out / "events.csv.gz", index=False)
    (out / "facts.json").write_text(json.dumps({"fit_s": fit_seconds, "epsilon_spent": epsilon}))


def keep(rows: list[dict], row: dict, save: str | None) -> None:
    """Add a row, print it and append it to ``save``: a long run's figures survive."""
    rows.append(row)
    print(row, flush=True)
    if save:
        with open(save, "a") as file:
            file.write(json.dumps(row) + "\n")


def measured(
    args: argparse.Namespace,
    run_ar: Callable[[float], dict],
    baselines: dict[str, tuple[str | None, Callable[[float], dict]]],
) -> pd.DataFrame:
    """Rows of 'ar' at every epsilon and of each baseline given a venv at the finite ones
    (with ``--merge``'s saved rows), indexed by model and epsilon, with the fit time
    against the ordinary 'ar' fit's."""
    rows = [json.loads(line) for path in args.merge for line in Path(path).read_text().splitlines()]
    for epsilon in args.eps if "ar" in args.models else []:
        keep(rows, run_ar(epsilon), args.save)
    finite = [e for e in args.eps if math.isfinite(e)]
    for name, (python, run_baseline_at) in baselines.items():
        if python and name in args.models:
            for epsilon in finite if args.baseline_eps is None else args.baseline_eps:
                keep(rows, run_baseline_at(epsilon), args.save)
    table = pd.DataFrame(rows).set_index(["model", "epsilon"])
    if ("ar", math.inf) in table.index:
        table["fit_vs_non_dp_ar"] = table["fit_s"] / table.loc[("ar", math.inf), "fit_s"]
    return table


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
    parser.add_argument(
        "--formula",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="declare bmi = weight / (height / 100) ** 2 for the NAFLD patients",
    )
    parser.add_argument("--aim-python", help="python of a venv with smartnoise-synth")
    parser.add_argument("--argn-python", help="python of a venv with mostlyai-engine")
    parser.add_argument("--baseline-eps", nargs="*", type=float, help="default: finite --eps")
    parser.add_argument("--aim-rounds", type=int, default=30, help="AIM's rounds (>= 26)")
    parser.add_argument("--aim-model-size", type=float, default=20.0, help="AIM's MB")
    parser.add_argument("--argn-minutes", type=float, default=10.0, help="ARGN's cap")
    parser.add_argument(
        "--argn-vp-share",
        type=float,
        default=0.25,
        help="share of each sequence ARGN model's epsilon for its value protection",
    )
    parser.add_argument(
        "--models", nargs="*", default=["ar", "argn", "aim"], help="models to run (ar argn aim)"
    )
    parser.add_argument("--save", help="append each row to this JSON-lines file")
    parser.add_argument("--merge", nargs="*", default=[], help="JSON-lines files of earlier rows")
    parser.add_argument("--worker", choices=["aim", "argn", "argn-seq"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    parser.add_argument("--worker-eps", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "argn-seq":
        sequence_worker(args)
        return
    if args.worker:
        worker(args)
        return
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    pd.set_option("display.width", 160)
    if args.sequences:
        baselines = {"argn": (args.argn_python, lambda e: run_sequence_baseline(e, args))}
        table = measured(args, lambda e: run_sequences(e, args), baselines)
        print(
            f"NAFLD sequences: {args.patients} patients (70 % train, 30 % holdout), "
            f"ar: {args.epochs} epochs; ARGN: at most {args.argn_minutes:g} minutes in all; "
            f"delta={args.delta:g}, unit: patient"
        )
        print(table.round(3).to_string())
        return
    train, test = load_adult("train"), load_adult("test")
    if args.rows:
        train = train.sample(min(args.rows, len(train)), random_state=0)
    baselines = {
        name: (python, lambda e, name=name: run_baseline(name, e, train, test, args))
        for name, python in (("argn", args.argn_python), ("aim", args.aim_python))
    }
    table = measured(args, lambda e: run(e, train, test, args), baselines)
    schedule = next(iter(SCHEDULES.values()), "not run")
    print(
        f"Adult, {len(train)} training rows, delta={args.delta:g}, unit: row; ar DP: the "
        f"model's defaults under epsilon ({schedule}); ar non-DP: defaults with "
        f"{args.epochs} epochs; AIM: {args.aim_rounds} rounds, {args.aim_model_size:g} MB; "
        f"ARGN: at most {args.argn_minutes:g} minutes"
    )
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
