"""Sequence models side by side: synthkit "ar", SDV PARSynthesizer, mostlyai-engine TabularARGN.

One process, two data sets of entities with event histories and a context row each:

- CDNOW: 23,570 customers and their 69,659 purchases (index ``date``, ties
  where a customer bought twice a day); context: the customer's acquisition
  cohort (month of the first purchase);
- NAFLD: 17,549 patients (``nafld1``, context) and their 400k lab tests and
  vitals (``nafld2``, events; many share a day; some patients have none).

Entities are split in two halves (training, holdout); every model is fitted on
the training entities with their context, samples as many entities as the
holdout holds, and is scored against that holdout. Per model and data set it
prints fit seconds (preprocessing included), sampling entities per second,
every metric of ``synthkit.evaluate`` on sequences (privacy unit: one entity
with its whole history), and mostlyai-qa's accuracy and coherence figures and
its DCR share; the holdout scored as if it were synthetic is the floor a
perfect model reaches. synthkit and TabularARGN are fitted with ``--seeds``
seeds and their figures averaged (± half the range between seeds); PAR once.

The baselines are fitted as their authors document them: PAR on one long table
(the context columns repeated on every event; it cannot represent an entity
without events, so those are left out of its training data), with
``--par-epochs`` epochs (its default is 128; with fewer, the seconds per epoch
and the fit extrapolated to 128 are printed, labelled as such);
synthkit at its defaults (its size-based schedule as a ceiling, with early
stopping on a tenth of its training entities held out; printed as a note);
TabularARGN at its defaults, as its two-table recipe: a flat model of the
context table, then a sequential model of the events given ``ctx_data``;
sampling draws contexts from the first and histories for them from the second.

``--scale`` instead fits synthkit on 50,000 entities x 45 events (2.25 M rows,
10 columns of mixed kinds: NAFLD patients with at least 45 lab tests, their
first 45 tests with the patient's columns, replicated under new keys), and
prints the schedule synthkit picked, fit seconds (and CPU seconds) and the peak
memory of the process, then the sampling speed for histories of ~10 events.
``--scale-fraction`` runs a stated share of it.

A baseline that is not installed is reported as such and skipped (see
``benchmarks/requirements-sequences.txt`` for a venv with all of them).

Usage:
    python benchmarks/bench_sequences.py                      # full data, defaults
    python benchmarks/bench_sequences.py --quick              # 1,000 entities per set
    python benchmarks/bench_sequences.py --entities 4000 --par-epochs 16
    python benchmarks/bench_sequences.py --scale --scale-fraction 0.2
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import synthkit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PAR_DEFAULT_EPOCHS = 128
# Fidelity figures compared model against model; of these, lower is better for
# detection AUC and for histories going back in time.
LOWER_IS_BETTER = {"detection_auc", "share_of_entities_going_back_in_time"}
FIDELITY = [
    "column_shapes",
    "column_pair_trends",
    "detection_auc",
    "length_similarity",
    "gap_similarity",
    "coherence",
    "share_of_entities_going_back_in_time",
    "entity_tstr_auc",
    "qa_overall",
    "qa_univariate",
    "qa_bivariate",
    "qa_trivariate",
    "qa_coherence",
]


@dataclass
class Split:
    """One data set split by entity: training and holdout events with their context."""

    name: str
    key: str
    index: str
    train: pd.DataFrame
    train_ctx: pd.DataFrame
    hold: pd.DataFrame
    hold_ctx: pd.DataFrame
    target: str | None


@dataclass
class Fitted:
    """A fitted model: its fit seconds and a sampler of ``n`` entities (events, context)."""

    seconds: float
    sample: Callable[[int, int], tuple[pd.DataFrame, pd.DataFrame]]
    note: str = ""


# ------------------------------------------------------------------ data
def cdnow() -> tuple[pd.DataFrame, pd.DataFrame, str, str, str | None]:
    events = pd.read_csv(DATA / "cdnow_transactions.csv.gz")
    events["date"] = pd.to_datetime(events["date"].astype(str), format="%Y%m%d")
    first = events.groupby("customer_id")["date"].min()
    context = pd.DataFrame(
        {"customer_id": first.index, "cohort": first.dt.strftime("%Y-%m").to_numpy()}
    )
    return events, context, "customer_id", "date", None


def nafld() -> tuple[pd.DataFrame, pd.DataFrame, str, str, str | None]:
    # case.id names another patient (an identifier), not a property to learn.
    patients = pd.read_csv(DATA / "nafld1.csv.gz").drop(columns=["case.id"])
    labs = pd.read_csv(DATA / "nafld2.csv.gz")
    return labs, patients, "id", "days", "status"


def split(name: str, loader: Callable, entities: int, seed: int) -> Split:
    events, context, key, index, target = loader()
    rng = np.random.default_rng(seed)
    context = context.iloc[rng.permutation(len(context))]
    if entities:
        context = context.iloc[:entities]
    context = context.sort_values(key).reset_index(drop=True)
    events = events[events[key].isin(context[key])].sort_values([key, index], kind="stable")
    in_train = np.zeros(len(context), dtype=bool)
    in_train[rng.permutation(len(context))[: len(context) // 2]] = True
    train_ctx, hold_ctx = context[in_train], context[~in_train]
    return Split(
        name,
        key,
        index,
        events[events[key].isin(train_ctx[key])].reset_index(drop=True),
        train_ctx.reset_index(drop=True),
        events[events[key].isin(hold_ctx[key])].reset_index(drop=True),
        hold_ctx.reset_index(drop=True),
        target,
    )


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


# ---------------------------------------------------------------- models
def fit_synthkit(data: Split, seed: int) -> Fitted:
    model = synthkit.SequenceSynthesizer("ar", random_state=seed, device="cpu", verbose=False)
    _, seconds = timed(
        lambda: model.fit(
            synthkit.SequenceDataset(data.train, data.key, data.index), context=data.train_ctx
        )
    )

    def sample(n: int, draw_seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        synthetic = model.sample(n_entities=n, random_state=draw_seed)
        return synthetic.data, synthetic.context

    note = f"default schedule picked {model.schedule_}"
    if getattr(model, "best_epoch_", None) is not None:
        # Early stopping on held-out training entities kept this epoch's weights.
        ran = len(model.loss_history_)
        note += f"; best held-out epoch {model.best_epoch_} of {ran} run"
    return Fitted(seconds, sample, note)


def _sdv_columns(frame: pd.DataFrame, key: str) -> dict[str, dict[str, str]]:
    columns: dict[str, dict[str, str]] = {}
    for name, values in frame.items():
        if name == key:
            columns[name] = {"sdtype": "id"}
        elif pd.api.types.is_datetime64_any_dtype(values):
            columns[name] = {"sdtype": "datetime"}
        elif pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            columns[name] = {"sdtype": "categorical"}
        else:
            columns[name] = {"sdtype": "numerical"}
    return columns


def fit_par(data: Split, seed: int, *, epochs: int) -> Fitted:
    from sdv.metadata import Metadata
    from sdv.sequential import PARSynthesizer

    context_columns = [c for c in data.train_ctx.columns if c != data.key]
    long = data.train.merge(data.train_ctx, on=data.key, how="inner")
    metadata = Metadata.load_from_dict(
        {
            "tables": {
                "events": {
                    "columns": _sdv_columns(long, data.key),
                    "sequence_key": data.key,
                    "sequence_index": data.index,
                }
            }
        }
    )
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = PARSynthesizer(
        metadata, context_columns=context_columns, epochs=epochs, cuda=False, verbose=False
    )
    _, seconds = timed(lambda: model.fit({"events": long}))
    left_out = len(data.train_ctx) - long[data.key].nunique()

    def sample(n: int, draw_seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        torch.manual_seed(draw_seed)
        np.random.seed(draw_seed)
        drawn = model.sample_sequences(n)
        drawn = next(iter(drawn.values())) if isinstance(drawn, dict) else drawn
        context = drawn.groupby(data.key, sort=False)[context_columns].first().reset_index()
        events = drawn[[c for c in data.train.columns]]
        return events, context[data.train_ctx.columns]

    note = f"{left_out} training entities without events left out (PAR needs >= 1 event)"
    return Fitted(seconds, sample, note if left_out else "")


def fit_argn(data: Split, seed: int) -> Fitted:
    from mostlyai.engine import TabularARGN

    workspace = tempfile.mkdtemp(prefix="argn-")
    flat = TabularARGN(
        tgt_primary_key=data.key,
        device="cpu",
        random_state=seed,
        workspace_dir=f"{workspace}/context",
    )
    sequential = TabularARGN(
        tgt_context_key=data.key,
        ctx_data=data.train_ctx,
        ctx_primary_key=data.key,
        device="cpu",
        random_state=seed,
        workspace_dir=f"{workspace}/events",
    )

    def fit() -> None:
        flat.fit(data.train_ctx)
        sequential.fit(data.train)

    _, seconds = timed(fit)

    def sample(n: int, draw_seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        flat.random_state = sequential.random_state = draw_seed
        context = flat.sample(n_samples=n)
        events = sequential.sample(ctx_data=context)
        return events[data.train.columns], context[data.train_ctx.columns]

    return Fitted(seconds, sample)


# --------------------------------------------------------------- scoring
def conform(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Cast a baseline's output to the real dtypes (some return objects or floats)."""
    out = frame.copy()
    for column, dtype in like.dtypes.items():
        if out[column].dtype == dtype:
            continue
        if pd.api.types.is_datetime64_any_dtype(dtype):
            out[column] = pd.to_datetime(out[column], errors="coerce")
        elif pd.api.types.is_numeric_dtype(dtype):
            # Through float64: nullable Int64/Float64 outputs become plain columns.
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
            if pd.api.types.is_integer_dtype(dtype) and out[column].notna().all():
                out[column] = out[column].round().astype(dtype)
        else:
            out[column] = out[column].astype(str).where(out[column].notna())
    return out


def out_of_order(events: pd.DataFrame, key: str, index: str) -> float:
    """Share of entities whose index decreases somewhere along their history."""
    values = events[index]
    numbers = values.astype("int64") if pd.api.types.is_datetime64_any_dtype(values) else values
    step = numbers.groupby(events[key].to_numpy()).diff()
    n = events[key].nunique()
    return float(events.loc[(step < 0).to_numpy(), key].nunique() / n) if n else 0.0


def renumber(
    events: pd.DataFrame, context: pd.DataFrame, data: Split
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """New integer keys past the real ones (TabularARGN draws strings such as 'mostly0c-...')."""
    start = max(data.train_ctx[data.key].max(), data.hold_ctx[data.key].max()) + 1
    keys = pd.Series(np.arange(start, start + len(context)), index=context[data.key].to_numpy())
    return (
        events.assign(**{data.key: keys.reindex(events[data.key].to_numpy()).to_numpy()}),
        context.assign(**{data.key: keys.to_numpy()}),
    )


def ours(data: Split, events: pd.DataFrame, context: pd.DataFrame, seed: int) -> dict[str, float]:
    train = synthkit.SequenceDataset(data.train, data.key, data.index)
    candidate = synthkit.SequenceDataset(events, data.key, data.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if events is data.hold:
            # The holdout cannot be its own privacy reference: fidelity only.
            report = synthkit.evaluate(
                train,
                candidate,
                target=data.target,
                context={"real": data.train_ctx, "synthetic": data.hold_ctx},
                random_state=seed,
            )
        else:
            report = synthkit.evaluate(
                train,
                candidate,
                holdout=synthkit.SequenceDataset(data.hold, data.key, data.index),
                target=data.target,
                context={"real": data.train_ctx, "synthetic": context, "holdout": data.hold_ctx},
                random_state=seed,
            )
    return {k: float(v) for k, v in report.to_dict().items() if v is not None}


def theirs(data: Split, events: pd.DataFrame, context: pd.DataFrame) -> dict[str, float]:
    """mostlyai-qa's accuracy, coherence and DCR share (its own sampling and binning)."""
    from mostlyai import qa

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, metrics = qa.report(
            syn_tgt_data=events,
            trn_tgt_data=data.train,
            hol_tgt_data=data.hold,
            syn_ctx_data=context,
            trn_ctx_data=data.train_ctx,
            hol_ctx_data=data.hold_ctx,
            ctx_primary_key=data.key,
            tgt_context_key=data.key,
            report_path=Path(folder) / "report.html",
        )
    if metrics is None:  # mostlyai-qa's own minimum: 100 synthetic, 90 training entities
        return {}
    accuracy = metrics.accuracy
    out = {
        f"qa_{name}": getattr(accuracy, name)
        for name in ("overall", "univariate", "bivariate", "trivariate", "coherence")
    }
    out["qa_overall_max(holdout)"] = accuracy.overall_max
    out["qa_dcr_share"] = metrics.distances.dcr_share
    return {k: float(v) for k, v in out.items() if v is not None}


def score_model(
    data: Split, make: Callable[[int], Fitted], seeds: list[int], with_qa: bool
) -> tuple[dict[str, list[float]], str]:
    """Fit once per seed, sample as many entities as the holdout, score; lists per figure."""
    figures: dict[str, list[float]] = {}
    note = ""
    for seed in seeds:
        fitted = make(seed)
        note = fitted.note
        n = len(data.hold_ctx)
        (events, context), seconds = timed(partial(fitted.sample, n, seed + 100))
        events, context = renumber(events, context, data)
        events, context = conform(events, data.train), conform(context, data.train_ctx)
        # TabularARGN draws each event's time as a column, so a history can go
        # back in time; the share of such entities is a figure, then rows are sorted.
        backwards = out_of_order(events, data.key, data.index)
        events = events.sort_values([data.key, data.index], kind="stable").reset_index(drop=True)
        row = {"fit_seconds": fitted.seconds, "sample_entities_per_s": n / seconds}
        row["mean_events_per_entity"] = len(events) / max(len(context), 1)
        row["share_of_entities_going_back_in_time"] = backwards
        print(f"  seed {seed}: fit {fitted.seconds:.0f} s, sampling {seconds:.0f} s", flush=True)
        row.update(ours(data, events, context, seed))
        if with_qa:
            row.update(theirs(data, events, context))
        for name, value in row.items():
            figures.setdefault(name, []).append(value)
        # Each seed's figures as soon as they exist: a run cut short still reports them.
        print("  " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    return figures, note


def floor(data: Split, seed: int) -> dict[str, float]:
    """The holdout scored as if synthetic (mostlyai-qa's own ceiling is qa_overall_max)."""
    row = {"mean_events_per_entity": len(data.hold) / len(data.hold_ctx)}
    row.update(ours(data, data.hold, data.hold_ctx, seed))
    return row


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def table(results: dict[str, dict[str, list[float]]], floor_row: dict[str, float]) -> str:
    names = list(dict.fromkeys(n for figures in results.values() for n in figures))
    columns: dict[str, list[str]] = {}
    for model, figures in results.items():
        cells = []
        for name in names:
            values = figures.get(name)
            if not values:
                cells.append("-")
            elif len(values) == 1:
                cells.append(f"{values[0]:.3f}")
            else:
                spread = (max(values) - min(values)) / 2
                cells.append(f"{np.mean(values):.3f}±{spread:.3f}")
        columns[model] = cells
    columns["holdout (floor)"] = [f"{floor_row[n]:.3f}" if n in floor_row else "-" for n in names]
    return pd.DataFrame(columns, index=names).to_string()


def compare(results: dict[str, dict[str, list[float]]]) -> list[str]:
    """Fit and sampling ratios, fidelity wins and losses, and the privacy targets."""
    lines = []
    mine = {k: float(np.mean(v)) for k, v in results["synthkit ar"].items()}
    noise = {k: (max(v) - min(v)) / 2 for k, v in results["synthkit ar"].items()}
    for model, figures in results.items():
        if model == "synthkit ar":
            continue
        other = {k: float(np.mean(v)) for k, v in figures.items()}
        extrapolated = "fit_seconds_at_128_epochs" in other
        fit_other = other["fit_seconds_at_128_epochs" if extrapolated else "fit_seconds"]
        label = " (extrapolated to 128 epochs)" if extrapolated else ""
        speed = mine["sample_entities_per_s"] / other["sample_entities_per_s"]
        lines.append(
            f"{model}: fit time {fit_other / mine['fit_seconds']:.1f}x synthkit's{label}; "
            f"synthkit samples {speed:.1f}x as many entities/s"
        )
        better, worse = [], []
        for name in FIDELITY:
            if name not in mine or name not in other:
                continue
            a, b = mine[name], other[name]
            gain = (b - a) if name in LOWER_IS_BETTER else (a - b)
            text = f"{name} {a:.3f} vs {b:.3f}"
            if gain >= 0:
                better.append(text)
            else:
                spread = noise.get(name, 0.0) + (max(figures[name]) - min(figures[name])) / 2
                worse.append(f"{text} (by {-gain:.3f}; seed half-ranges sum {spread:.3f})")
        lines.append(f"  fidelity, synthkit at least as good: {'; '.join(better) or '-'}")
        lines.append(f"  fidelity, synthkit worse:            {'; '.join(worse) or '-'}")
    shares = {m: float(np.mean(f["dcr_share"])) for m, f in results.items() if "dcr_share" in f}
    lines.append(
        "entity DCR share (0.5 ideal; target <= 0.52): "
        + ", ".join(f"{m} {v:.3f}" for m, v in shares.items())
    )
    return lines


def run_set(data: Split, args: argparse.Namespace, have: dict[str, bool]) -> None:
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(
        f"\n=== {data.name}: {len(data.train_ctx):,} training / {len(data.hold_ctx):,} holdout "
        f"entities, {len(data.train):,} / {len(data.hold):,} events; key {data.key!r}, "
        f"index {data.index!r}, target {data.target!r} ===",
        flush=True,
    )
    with_qa = have["mostlyai.qa"]
    results: dict[str, dict[str, list[float]]] = {}
    notes: dict[str, str] = {}
    if "synthkit" in args.models.split(","):
        results["synthkit ar"], notes["synthkit ar"] = score_model(
            data, lambda s: fit_synthkit(data, s), seeds, with_qa
        )
        seconds = np.mean(results["synthkit ar"]["fit_seconds"])
        print(f"synthkit ar done ({seconds:.0f} s fit)", flush=True)
    if have["sdv"]:
        figures, notes["PAR"] = score_model(
            data, partial(fit_par, data, epochs=args.par_epochs), seeds[:1], with_qa
        )
        per_epoch = figures["fit_seconds"][0] / args.par_epochs
        figures["par_seconds_per_epoch"] = [per_epoch]
        if args.par_epochs != PAR_DEFAULT_EPOCHS:
            figures["fit_seconds_at_128_epochs"] = [per_epoch * PAR_DEFAULT_EPOCHS]
        results[f"PAR ({args.par_epochs} epochs)"] = figures
        print("PAR done", flush=True)
    if have["mostlyai.engine"]:
        results["TabularARGN"], _ = score_model(data, lambda s: fit_argn(data, s), seeds, with_qa)
        print("TabularARGN done", flush=True)
    print(table(results, floor(data, 0)))
    for name, note in notes.items():
        if note:
            print(f"note, {name}: {note}")
    if "PAR" in "".join(results) and args.par_epochs != PAR_DEFAULT_EPOCHS:
        print(
            f"note, PAR: fitted at {args.par_epochs} epochs, not its default 128; "
            "fit_seconds_at_128_epochs = seconds per epoch x 128 (extrapolated, not run)"
        )
    if "synthkit ar" in results:
        for line in compare(results):
            print(line)


# ------------------------------------------------------------------ scale
def scale_events(n_entities: int, length: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """NAFLD patients with >= ``length`` tests: their first ``length`` with the patient's
    columns (10 columns besides the key), replicated under new keys to ``n_entities``."""
    patients = pd.read_csv(DATA / "nafld1.csv.gz").drop(columns=["case.id"])
    labs = pd.read_csv(DATA / "nafld2.csv.gz").sort_values(["id", "days"], kind="stable")
    labs = labs[labs.groupby("id").cumcount() < length]
    full = labs.groupby("id").size()
    labs = labs[labs["id"].isin(full.index[full == length])]
    events = labs.merge(patients, on="id")
    # Each source entity holds exactly ``length`` rows, consecutive once sorted.
    block = events.sort_values(["id", "days"], kind="stable").reset_index(drop=True)
    picks = np.resize(np.arange(block["id"].nunique()), n_entities)
    rows = picks[:, None] * length + np.arange(length)
    out = block.iloc[rows.ravel()].reset_index(drop=True)
    out["id"] = np.repeat(np.arange(1, n_entities + 1), length)
    return out, pd.DataFrame({"id": np.arange(1, n_entities + 1)})


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_scale(args: argparse.Namespace) -> None:
    torch.set_num_threads(2)
    n = round(50_000 * args.scale_fraction)
    events, _ = scale_events(n, 45)
    kinds = ", ".join(f"{c}:{t}" for c, t in events.dtypes.astype(str).items())
    print(
        f"scale: {n:,} entities x 45 events = {len(events):,} rows "
        f"({args.scale_fraction:.0%} of 50,000 x 45), {events.shape[1] - 1} columns besides "
        f"the key ({kinds}); torch threads {torch.get_num_threads()}",
        flush=True,
    )
    before = peak_gb()
    # --scale-epochs shortens a run meant for its memory figure (peak memory does
    # not grow with epochs); fit seconds then cover that many epochs only.
    epochs = {"epochs": args.scale_epochs} if args.scale_epochs else {}
    model = synthkit.SequenceSynthesizer(
        "ar", random_state=0, device="cpu", verbose=False, **epochs
    )
    cpu = time.process_time()
    _, seconds = timed(lambda: model.fit(synthkit.SequenceDataset(events, "id", "days")))
    cpu = time.process_time() - cpu
    print(f"schedule: {model.schedule_}; fit CPU seconds {cpu:.0f}")
    print(
        f"fit ({args.scale_epochs or 'default'} epochs): {seconds:.0f} s (target < 900 s at full "
        "size, default epochs); peak memory of the process "
        f"{peak_gb():.2f} GB (before fitting {before:.2f} GB; target < 4 GB)"
    )
    if args.scale_fraction < 1:
        print(
            "extrapolated linearly to 50,000 entities at the same epochs (not run): "
            f"{seconds / args.scale_fraction:.0f} s"
        )
    # Sampling speed on histories of about 10 events: a model of the first 10 events.
    short = events[events.groupby("id").cumcount() < 10]
    short = short[short["id"] <= 2_000]
    small = synthkit.SequenceSynthesizer(
        "ar", epochs=3, random_state=0, device="cpu", verbose=False
    ).fit(synthkit.SequenceDataset(short, "id", "days"))
    small.sample(n_entities=1_000, random_state=0)  # warm-up
    cpu = time.process_time()
    drawn, seconds = timed(lambda: small.sample(n_entities=20_000, random_state=1))
    cpu = time.process_time() - cpu
    mean = len(drawn.data) / 20_000
    print(
        f"sampling: {20_000 / seconds:,.0f} entities/s for histories of {mean:.1f} events on "
        f"average (target >= 5,000/s; model fitted 3 epochs on 2,000 entities x 10 events); "
        f"{20_000 / cpu:,.0f} entities per CPU second"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=0, help="entities per data set (0: all)")
    parser.add_argument("--datasets", default="cdnow,nafld")
    parser.add_argument("--par-epochs", type=int, default=PAR_DEFAULT_EPOCHS)
    parser.add_argument("--seeds", type=int, default=2, help="fits of synthkit and TabularARGN")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run: first, first+1, ...")
    parser.add_argument("--models", default="synthkit,par,argn")
    parser.add_argument("--quick", action="store_true", help="1,000 entities, PAR 8 epochs")
    parser.add_argument("--scale", action="store_true")
    parser.add_argument("--scale-fraction", type=float, default=1.0)
    parser.add_argument("--scale-epochs", type=int, default=0, help="0: the model's default")
    args = parser.parse_args()
    # torch imports its compiler stack the first time any optimizer is built (a few
    # seconds, once per process): pay it here, not in whichever model fits first.
    torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
    # The machine is shared: the load average says how much of it this run had.
    print(f"cpu cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at start")
    if args.scale:
        run_scale(args)
        return
    if args.quick:
        args.entities = args.entities or 1_000
        args.par_epochs = 8 if args.par_epochs == PAR_DEFAULT_EPOCHS else args.par_epochs
    torch.set_num_threads(2)
    wanted = args.models.split(",")
    have = {
        "sdv": "par" in wanted and installed("sdv"),
        "mostlyai.engine": "argn" in wanted and installed("mostlyai.engine"),
        "mostlyai.qa": installed("mostlyai.qa"),
    }
    for module, package in [
        ("sdv", "sdv (PARSynthesizer)"),
        ("mostlyai.engine", "mostlyai-engine (TabularARGN)"),
        ("mostlyai.qa", "mostlyai-qa (independent scorer)"),
    ]:
        if not installed(module):
            print(f"not installed: {package}; see benchmarks/requirements-sequences.txt")
    print(
        f"entities per data set: {args.entities or 'all'}; seeds (synthkit, TabularARGN): "
        f"{args.seeds} from {args.first_seed}; PAR epochs: {args.par_epochs}; "
        f"torch threads: {torch.get_num_threads()}"
    )
    loaders = {"cdnow": ("CDNOW", cdnow), "nafld": ("NAFLD", nafld)}
    for key in args.datasets.split(","):
        name, loader = loaders[key]
        run_set(split(name, loader, args.entities, 0), args, have)


if __name__ == "__main__":
    main()
