"""Identifiers and names: does any real one reach the synthetic rows, and do they agree?

For Titanic passengers (full names ``Last, Title First Middle``, also split into
``first`` and ``last`` columns), resumes (first names with a gender column) and
nycflights13 planes (``tailnum`` codes such as ``N10156``), each model is fitted on
70 % of the rows and samples as many. Printed per model: fit seconds; for every
column detected as ``id`` or ``pii``, the share of synthetic values equal to a
training value of that column (0 is the promise) and to a held-out value (names the
model never saw; a common first name there is a coincidence, not a leak); the share
of rows whose ``first`` is the first name inside ``Name``; the share of generated
first names that Faker's gendered lists put in the row's gender;
``identifier_leak``; and the DCR share against the other 30 % (privacy, ideal 0.5).

Run: python benchmarks/bench_identifiers.py [--models tvae ar] [--epochs 5]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import dcr_share

from synthkit.errors import EvaluationError
from synthkit.evaluation.base import METRICS
from synthkit.generators import GENERATORS, Synthesizer
from synthkit.metadata import Metadata
from synthkit.pii.names import base_pools, split_full_names

SHARED = Path("/work/shared/data")


def datasets() -> dict[str, pd.DataFrame]:
    titanic = pd.read_csv(SHARED / "titanic_names.csv.gz")
    parts = split_full_names(titanic["Name"])
    titanic["first"], titanic["last"] = parts["first"], parts["last"]
    return {
        "titanic": titanic,
        "resumes": pd.read_csv(SHARED / "resume_names.csv.gz"),
        "planes": pd.read_csv(SHARED / "nycflights13" / "planes.csv.gz"),
    }


def reused(synthetic: pd.Series, real: pd.Series) -> float:
    """Share of synthetic values that equal a value of ``real``."""
    return float(synthetic.dropna().isin(set(real.dropna())).mean())


def gender_match(first: pd.Series, gender: pd.Series) -> float:
    """Share of first names Faker lists under the row's gender (among names it lists)."""
    pools = base_pools()
    female, male = set(pools["first_female"]), set(pools["first_male"])
    said = np.where(first.isin(female), "female", np.where(first.isin(male), "male", ""))
    listed = said != ""
    return float((said[listed] == gender.str.lower().to_numpy()[listed]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None, help="default: every model")
    parser.add_argument("--epochs", type=int, default=None, help="default: each model's own")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    models = args.models or GENERATORS.names()
    leak = METRICS.get("identifier_leak")()
    for set_name, frame in datasets().items():
        train = frame.sample(frac=0.7, random_state=0)
        holdout = frame.drop(train.index)
        metadata = Metadata.detect(train)
        never_learned = metadata.columns_of_kind("id", "pii")
        print(f"\n## {set_name}: {len(train)} training rows")
        for column in never_learned:
            print(f"  {column}: {metadata.explain(column)}")
        for name in models:
            params = {"device": "cpu", "random_state": 0, "verbose": False}
            if args.epochs is not None:
                params["epochs"] = args.epochs
            model = Synthesizer(name, **params)
            start = time.perf_counter()
            model.fit(train, metadata)
            seconds = time.perf_counter() - start
            synthetic = model.sample(len(train), random_state=1)
            seen = {c: reused(synthetic[c], train[c]) for c in never_learned}
            unseen = {c: reused(synthetic[c], holdout[c]) for c in never_learned}
            line = f"{name:<15} fit {seconds:6.1f} s  training / held-out values reused: "
            line += ", ".join(
                f"{c} {100 * seen[c]:.2f} / {100 * unseen[c]:.2f} %" for c in never_learned
            )
            if {"first", "Name"} <= set(synthetic.columns):
                present = synthetic["first"].notna()
                inside = split_full_names(synthetic["Name"])["first"][present]
                agree = float((inside == synthetic["first"][present]).mean())
                line += f"; first = first name in Name {100 * agree:.1f} %"
            gender = (
                metadata.column(never_learned[0]).get("gender_column") if never_learned else None
            )
            first = "first" if "first" in synthetic.columns else "name"
            if gender is not None and first in synthetic.columns:
                shown = synthetic[first].notna()
                match = gender_match(synthetic[first][shown], synthetic[gender][shown])
                line += f"; first name fits {gender} {100 * match:.1f} %"
            line += f"; identifier_leak {leak.compute(train, synthetic).value:.3f}"
            try:
                line += f"; DCR share {dcr_share(train, holdout, synthetic):.3f}"
            except EvaluationError:
                line += "; DCR share n/a (holdout repeats training rows but for their id)"
            print(line, flush=True)


if __name__ == "__main__":
    main()
