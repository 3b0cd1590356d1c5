"""Every registered tabular model on Adult, side by side: speed, fidelity, utility, privacy.

For each model: fit on the Adult train split on CPU, then print fit seconds,
sampling rows/s (on ``--sample-rows`` rows), shape and trend errors (sdmetrics
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
import time
import warnings

import numpy as np
import pandas as pd
import torch

from synthkit.datasets import load_adult
from synthkit.generators import GENERATORS, Synthesizer

TARGET = "income"
POSITIVE = ">50K"


def quality(real: pd.DataFrame, synthetic: pd.DataFrame) -> tuple[float, float]:
    """Shape and trend errors in percent (sdmetrics QualityReport, thresholds at 0)."""
    from sdmetrics.reports.single_table import QualityReport
    from sdv.metadata import Metadata as SDVMetadata

    metadata = SDVMetadata.detect_from_dataframes({"table": real}).to_dict()["tables"]["table"]
    report = QualityReport()
    report.real_correlation_threshold = 0
    report.real_association_threshold = 0
    report.num_rows_subsample = None
    report.generate(real, synthetic, metadata, verbose=False)
    scores = report.get_properties().set_index("Property")["Score"]
    return 100 * (1 - scores["Column Shapes"]), 100 * (1 - scores["Column Pair Trends"])


def tstr_auc(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """Train on ``train``, ROC AUC on ``test``: one-hot over the concatenation, HistGB."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    features = pd.get_dummies(
        pd.concat([train.drop(columns=TARGET), test.drop(columns=TARGET)]), dummy_na=True
    )
    x_train, x_test = features.iloc[: len(train)], features.iloc[len(train) :]
    y_train = (train[TARGET] == POSITIVE).to_numpy()
    y_test = (test[TARGET] == POSITIVE).to_numpy()
    if y_train.all() or not y_train.any():
        return float("nan")
    model = HistGradientBoostingClassifier(random_state=0).fit(x_train, y_train)
    return float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))


def _distance_space(frame: pd.DataFrame, reference: pd.DataFrame) -> np.ndarray:
    """Numbers scaled by the reference range; categories one-hot at 0.5 (mismatch = 1 in L1)."""
    parts = []
    for column in reference.columns:
        if pd.api.types.is_numeric_dtype(reference[column]):
            low, high = reference[column].min(), reference[column].max()
            span = float(high - low) or 1.0
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            parts.append(np.nan_to_num((values - low) / span, nan=-1.0)[:, None])
        else:
            categories = reference[column].astype(str).unique()
            codes = pd.Categorical(frame[column].astype(str), categories=categories)
            parts.append(0.5 * np.eye(len(categories) + 1)[codes.codes])
    return np.concatenate(parts, axis=1).astype(np.float32)


def dcr_share(
    synthetic: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame, rows: int, seed: int = 0
) -> float:
    """Share of synthetic rows closer to train than to an equal-size holdout (ties half)."""
    size = min(len(train), len(holdout))
    train = train.sample(size, random_state=seed)
    holdout = holdout.sample(size, random_state=seed)
    synthetic = synthetic.sample(min(rows, len(synthetic)), random_state=seed)
    to_space = lambda frame: torch.from_numpy(_distance_space(frame, train))  # noqa: E731
    s, t, h = to_space(synthetic), to_space(train), to_space(holdout)

    def nearest(reference: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                torch.cdist(s[i : i + 500], reference, p=1).min(dim=1).values
                for i in range(0, len(s), 500)
            ]
        )

    d_train, d_holdout = nearest(t), nearest(h)
    return float(((d_train < d_holdout).float() + 0.5 * (d_train == d_holdout).float()).mean())


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
    start = time.perf_counter()
    model.sample(args.sample_rows, random_state=1)
    rows_per_second = args.sample_rows / (time.perf_counter() - start)
    synthetic = model.sample(len(train), random_state=2)
    shape, trend = quality(train, synthetic)
    return {
        "fit_s": fit_seconds,
        "rows_per_s": rows_per_second,
        "shape_err_%": shape,
        "trend_err_%": trend,
        "tstr_auc": tstr_auc(synthetic, test),
        "dcr_share": dcr_share(synthetic, train, test, args.dcr_rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="registered names (default: all)")
    parser.add_argument("--epochs", type=int, help="epochs for every model (default: its own)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--sample-rows", type=int, default=100_000)
    parser.add_argument("--dcr-rows", type=int, default=2_000, help="synthetic rows for DCR")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    train, test = load_adult("train"), load_adult("test")
    names = [GENERATORS.get(n).name for n in args.models] if args.models else GENERATORS.names()

    # The floor: real rows never trained on (DCR needs a third split, so it is left out).
    shape, trend = quality(train, test)
    rows = {
        "real test split": {
            "shape_err_%": shape,
            "trend_err_%": trend,
            "tstr_auc": tstr_auc(train, test),
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
