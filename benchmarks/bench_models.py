"""Every registered tabular model on Adult, side by side: speed, fidelity, utility, privacy.

For each model: fit on the Adult train split on CPU, then print fit seconds,
sampling rows/s (``--sample-rows`` rows, median of 3 runs), shape and trend errors (sdmetrics
QualityReport with both pair thresholds at 0 and no subsampling, as the TabSyn
paper reports them), TSTR ROC AUC on the test split, and the DCR share
(MEASURING.md protocols). The real test split scored the same way is printed
first as the floor.

Targets (issue 5): ``autoregressive`` shape error <= 1.5 %, trend error <= 3 %,
TSTR AUC >= 0.90, fit < 300 s on 2 cores; ``flow`` no worse than ``tvae`` on
both errors and sampling >= 100k rows/s.

Run: python benchmarks/bench_models.py [--models ar tvae] [--epochs 10] [--threads 2]
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

from _measure import dcr_share, quality, rows_per_second, tstr_auc

from synthkit.datasets import load_adult
from synthkit.generators import GENERATORS, Synthesizer


def run_model(
    name: str, train: pd.DataFrame, test: pd.DataFrame, args: argparse.Namespace
) -> dict[str, float]:
    params = {"device": "cpu", "random_state": 0, "verbose": False}
    cls = GENERATORS.get(name)
    if args.epochs is not None and "epochs" in cls._param_names():
        params["epochs"] = args.epochs
    model = Synthesizer(name, **params)
    start = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - start
    throughput = rows_per_second(lambda n: model.sample(n, random_state=1), args.sample_rows)
    synthetic = model.sample(len(train), random_state=2)
    scores = quality(train, synthetic)
    return {
        "fit_s": fit_seconds,
        "rows_per_s": throughput,
        "shape_err_%": scores["shape_error"],
        "trend_err_%": scores["trend_error"],
        "tstr_auc": tstr_auc(synthetic, test),
        "dcr_share": dcr_share(train, test, synthetic),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="registered names (default: all)")
    parser.add_argument("--epochs", type=int, help="epochs for every model (default: its own)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--sample-rows", type=int, default=100_000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    train, test = load_adult("train"), load_adult("test")
    names = [GENERATORS.get(n).name for n in args.models] if args.models else GENERATORS.names()

    # The floor: real rows never trained on; for DCR, half the test split plays
    # the synthetic rows and the other half the holdout.
    floor = quality(train, test)
    half = len(test) // 2
    rows = {
        "real test split": {
            "shape_err_%": floor["shape_error"],
            "trend_err_%": floor["trend_error"],
            "tstr_auc": tstr_auc(train, test),
            "dcr_share": dcr_share(train, test.iloc[half:], test.iloc[:half]),
        }
    }
    for name in names:
        rows[name] = run_model(name, train, test, args)
        print(f"{name}: {rows[name]}", flush=True)
    table = pd.DataFrame(rows).T
    print(f"\nAdult train ({len(train)} rows), CPU, {args.threads} threads, epochs={args.epochs}")
    print(table.to_string(float_format=lambda v: f"{v:,.3f}", na_rep="-"))


if __name__ == "__main__":
    main()
