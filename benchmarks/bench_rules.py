"""Rules between columns: how often synthetic rows obey the rules detected in real ones.

For each data set (Adult, cgd, nycflights13 planes, Titanic names, resumes) the
rules are detected on a training split with ``Metadata.detect``; each model is
fitted on that split and samples as many rows. Printed per model: the fit seconds,
the share of rows obeying each detected rule in the real rows, the synthetic rows,
and the rows of the same model fitted without rules (for a fixed combination: rows
whose combination occurs in the real data), and the DCR share against a holdout
split (privacy; ideal 0.5).

Then the fit time on planes twice: with ``tailnum`` (a unique code like ``N10156``)
detected as an ``id``, which is regenerated and never learned, and with it forced
``categorical`` by an override: pooled as a rare category by default (seen fewer
than 5 times), or, with ``rare_category_threshold=0``, learned as one category per
plane.

Run: python benchmarks/bench_rules.py [--models ctgan tvae] [--epochs 5] [--adult-rows 5000]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import dcr_share

from synthkit.datasets import load_adult
from synthkit.errors import EvaluationError
from synthkit.generators import GENERATORS, Synthesizer
from synthkit.metadata import Metadata
from synthkit.rules import FixedCombinations, share_held

SHARED = Path("/work/shared/data")


def datasets(adult_rows: int) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each data set as (train, holdout); holdout indexes never repeat training ones.

    Adult's two splits share index values, and its rows repeat, so the holdout is
    re-indexed for the privacy metric not to take its rows for training rows.
    """
    out = {}
    adult = load_adult("train").sample(adult_rows, random_state=0).reset_index(drop=True)
    holdout = load_adult("test").sample(min(adult_rows, 5_000), random_state=0)
    out["adult"] = (
        adult,
        holdout.reset_index(drop=True).set_axis(range(10**6, 10**6 + len(holdout))),
    )
    for name, path in (
        ("cgd", SHARED / "cgd.csv.gz"),
        ("planes", SHARED / "nycflights13" / "planes.csv.gz"),
        ("titanic", SHARED / "titanic_names.csv.gz"),
        ("resumes", SHARED / "resume_names.csv.gz"),
    ):
        frame = pd.read_csv(path)
        train = frame.sample(frac=0.7, random_state=0)
        out[name] = (train, frame.drop(train.index))
    return out


def rule_share(rule, real: pd.DataFrame, frame: pd.DataFrame, metadata: Metadata) -> float:
    """Share of ``frame``'s rows obeying ``rule`` (combinations: seen in ``real``)."""
    if isinstance(rule, FixedCombinations):
        columns = list(rule.columns)
        seen = set(real[columns].astype(str).itertuples(index=False, name=None))
        rows = frame[columns].astype(str).itertuples(index=False, name=None)
        return sum(row in seen for row in rows) / len(frame)
    return share_held(rule, frame, metadata.columns)


def privacy(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame) -> str:
    """The DCR share, or why it is not defined (planes repeat rows but for their id)."""
    try:
        return f"{dcr_share(train, holdout, synthetic):.3f}"
    except EvaluationError:
        return "n/a*"


def fit(name: str, train: pd.DataFrame, metadata: Metadata, epochs: int | None, **extra):
    params = {"device": "cpu", "random_state": 0, "verbose": False, **extra}
    if epochs is not None and "epochs" in GENERATORS.get(name)._param_names():
        params["epochs"] = epochs
    model = Synthesizer(name, **params)
    start = time.perf_counter()
    model.fit(train, metadata)
    return model, time.perf_counter() - start


def fit_seconds(name: str, train: pd.DataFrame, metadata: Metadata, epochs, **extra) -> str:
    """Best of two fits (the machine is shared), or '-' when the model lacks a parameter."""
    if not set(extra) <= set(GENERATORS.get(name)._param_names()):
        return "-"
    return f"{min(fit(name, train, metadata, epochs, **extra)[1] for _ in range(2)):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None, help="default: every model")
    parser.add_argument("--epochs", type=int, default=None, help="default: each model's own")
    parser.add_argument("--adult-rows", type=int, default=5_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    models = args.models or GENERATORS.names()
    data = datasets(args.adult_rows)

    for set_name, (train, holdout) in data.items():
        start = time.perf_counter()
        metadata = Metadata.detect(train)
        detect_s = time.perf_counter() - start
        rules = metadata.rules
        print(f"\n## {set_name}: {len(train)} training rows, detection {detect_s:.2f} s")
        if not rules:
            print("no rule detected (no pair obeyed by >= 97 % of rows, no exact combination)")
        for i, rule in enumerate(rules):
            print(f"  rule {i}: {rule!r}")
        header = f"{'model':<15}{'fit_s':>8}{'dcr_share':>11}"
        header += "".join(f"{f'rule {i} real/syn/no-rule %':>30}" for i in range(len(rules)))
        print(header)
        undefined = False
        for name in models:
            model, seconds = fit(name, train, metadata, args.epochs)
            synthetic = model.sample(len(train), random_state=1)
            row = f"{name:<15}{seconds:>8.1f}{privacy(train, holdout, synthetic):>11}"
            if rules:  # the same model fitted without the rules, for comparison
                plain, _ = fit(name, train, Metadata.detect(train, rules=False), args.epochs)
                unruled = plain.sample(len(train), random_state=1)
            for rule in rules:
                real = 100 * rule_share(rule, train, train, metadata)
                syn = 100 * rule_share(rule, train, synthetic, metadata)
                without = 100 * rule_share(rule, train, unruled, metadata)
                row += f"{f'{real:.1f} / {syn:.1f} / {without:.1f}':>30}"
            print(row, flush=True)
            undefined = undefined or "n/a" in row
        if undefined:
            print("* the holdout repeats training rows (identical but for their id): no DCR share")

    train, _ = data["planes"]
    print("\n## planes: fit seconds (best of 2) with tailnum detected as an id vs forced")
    print("## categorical: pooled below the default k=5 rows, and every plane a category (k=0)")
    print(f"{'model':<15}{'tailnum id':>12}{'categorical':>13}{'categorical k=0':>17}")
    as_id = Metadata.detect(train)
    as_category = Metadata.detect(train, overrides={"tailnum": "categorical"})
    for name in models:
        with_id = fit_seconds(name, train, as_id, args.epochs)
        pooled = fit_seconds(name, train, as_category, args.epochs)
        every = fit_seconds(name, train, as_category, args.epochs, rare_category_threshold=0)
        print(f"{name:<15}{with_id:>12}{pooled:>13}{every:>17}", flush=True)


if __name__ == "__main__":
    main()
