"""Measurements shared by the benchmark scripts, following MEASURING.md."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd

__all__ = ["dcr_share", "quality", "rows_per_second", "sdv_metadata", "timed", "tstr_auc"]


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn`` and return its result and the wall-clock seconds it took."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def rows_per_second(sample: Callable[[int], Any], n: int, repeats: int = 3) -> float:
    """Sampling throughput: ``n`` rows per median wall-clock time of ``repeats`` calls.

    The median of a few runs keeps one slow run on a shared machine from
    deciding the figure; both sides of a comparison are measured the same way.
    """
    seconds = sorted(timed(lambda: sample(n))[1] for _ in range(repeats))
    return n / seconds[len(seconds) // 2]


def sdv_metadata(real: pd.DataFrame) -> Any:
    """SDV's detected metadata for one table named "table"."""
    from sdv.metadata import Metadata

    return Metadata.detect_from_dataframes({"table": real})


def quality(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, float]:
    """sdmetrics QualityReport with every pair counted and nothing subsampled.

    Returns the overall score and the shape and trend errors in percent.
    """
    from sdmetrics.reports.single_table import QualityReport

    metadata = sdv_metadata(real).to_dict()["tables"]["table"]
    report = QualityReport()
    report.real_correlation_threshold = 0
    report.real_association_threshold = 0
    report.num_rows_subsample = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(real, synthetic[real.columns], metadata, verbose=False)
    scores = report.get_properties().set_index("Property")["Score"]
    return {
        "overall": float(report.get_score()),
        "shape_error": 100 * (1 - float(scores["Column Shapes"])),
        "trend_error": 100 * (1 - float(scores["Column Pair Trends"])),
    }


def dcr_share(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """Share of synthetic rows closer to a training row than to a holdout row (ideal 0.5)."""
    from synthkit.evaluation import evaluate

    report = evaluate(train, synthetic, holdout=holdout, metrics=["dcr_share"])
    return float(report.to_dict()["dcr_share"])


def tstr_auc(
    train: pd.DataFrame, test: pd.DataFrame, target: str = "income", positive: str = ">50K"
) -> float:
    """Train on ``train``, ROC AUC on ``test`` (MEASURING.md: one-hot over both, HistGB)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    features = pd.get_dummies(
        pd.concat([train.drop(columns=target), test.drop(columns=target)]), dummy_na=True
    )
    x_train, x_test = features.iloc[: len(train)], features.iloc[len(train) :]
    y_train = (train[target] == positive).to_numpy()
    y_test = (test[target] == positive).to_numpy()
    if y_train.all() or not y_train.any():
        return float("nan")
    model = HistGradientBoostingClassifier(random_state=0).fit(x_train, y_train)
    return float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))
