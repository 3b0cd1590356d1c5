"""Differentially private 'ar' on Adult: quality and cost at several epsilons.

For each epsilon (``inf`` is the ordinary fit) the table 'ar' model is fitted on the
Adult train split with delta = 1e-5 and samples as many rows: shape and trend errors
(sdmetrics, MEASURING.md), TSTR ROC AUC on the test split, DCR share against the test
split (ideal 0.5) and fit seconds, with the epsilon spent. Issue 12's targets at
epsilon = 1: TSTR AUC >= 0.88, shape error <= 3 %, trend error <= 6 %, DP fit at most
3x the non-DP fit. Baselines (smartnoise-synth AIM) are not run: they are not package
dependencies, and a benchmark must not install them.

    .venv/bin/python benchmarks/bench_privacy.py --rows 8000 --epochs 5 --eps 1 4 inf
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

from synthkit.datasets import load_adult
from synthkit.generators import Synthesizer


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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="training rows (default: the whole split)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of every fit")
    parser.add_argument("--eps", nargs="*", type=float, default=[1.0, 4.0, math.inf])
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    train, test = load_adult("train"), load_adult("test")
    if args.rows:
        train = train.sample(min(args.rows, len(train)), random_state=0)
    rows = [run(epsilon, train, test, args) for epsilon in args.eps]
    table = pd.DataFrame(rows).set_index("epsilon")
    if math.inf in table.index:
        table["fit_vs_non_dp"] = table["fit_s"] / table.loc[math.inf, "fit_s"]
    pd.set_option("display.width", 140)
    print(f"Adult, {len(train)} training rows, {args.epochs} epochs, delta={args.delta:g}")
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
