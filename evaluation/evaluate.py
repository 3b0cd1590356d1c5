"""``evaluate``: run the requested metrics on one real/synthetic pair and build a Report."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from synthkit.errors import EvaluationError
from synthkit.evaluation.base import METRICS, Metric, MetricResult, metric_names
from synthkit.evaluation.data import EvaluationData
from synthkit.evaluation.report import Report
from synthkit.metadata import Metadata

__all__ = ["evaluate"]


def evaluate(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    metadata: Metadata | None = None,
    metrics: Sequence[str | Metric] | None = None,
    *,
    random_state: int = 0,
    max_rows: int = 10_000,
    model: Any | None = None,
) -> Report:
    """Score how close, safe and useful ``synthetic`` is with respect to ``real``.

    Args:
        real: The real rows the generator was fitted on.
        synthetic: The synthetic rows.
        holdout: Real rows the generator never saw; privacy metrics and utility need it.
        target: The label column for utility (train on synthetic, test on real).
        metadata: Column kinds; detected from ``real`` when omitted. Columns of
            kind id, pii and text are not scored (the report lists them).
        metrics: Names or :class:`Metric` instances; default every registered
            metric, skipping (with the reason) those whose inputs are missing.
        random_state: Seed for every subsample and model.
        max_rows: Cap on the rows a nearest-neighbour query side or detection
            classifier uses; sizes actually used are in ``report.meta["sampling"]``.
        model: The fitted model that made ``synthetic``; with a holdout, models
            that declare ``log_prob`` (``flow``, ``autoregressive``) also get the
            likelihood membership attack, which sees the model, not only its rows;
            for other models it is skipped with the reason.

    Returns:
        The :class:`Report`.

    Raises:
        EvaluationError: For inputs that cannot be scored, or a named metric whose
            requirements (holdout, target) are missing.
        UnknownNameError: For a metric name that is not registered.

    Example:
        >>> import synthkit
        >>> from synthkit.datasets import load_adult
        >>> real = load_adult("train").head(2000)
        >>> report = synthkit.evaluate(real, real, metrics=["column_shapes", "column_pair_trends"])
        >>> report.to_dict()
        {'column_shapes': 1.0, 'column_pair_trends': 1.0}
    """
    data = EvaluationData(
        real,
        synthetic,
        holdout=holdout,
        target=target,
        metadata=metadata,
        random_state=random_state,
        max_rows=max_rows,
        model=model,
    )
    chosen = _resolve(metrics)
    explicit = metrics is not None
    results: dict[str, MetricResult] = {}
    info: dict[str, dict[str, object]] = {}
    skipped: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for metric in chosen:
        reason = metric.not_applicable(data)
        if reason:
            if explicit:
                raise EvaluationError(f"Metric {metric.name!r} {reason}.")
            skipped[metric.name] = reason
            continue
        start = time.perf_counter()
        results[metric.name] = metric.score(data)
        seconds[metric.name] = round(time.perf_counter() - start, 3)
        info[metric.name] = {
            "category": metric.category,
            "direction": metric.direction,
            "explanation": metric.explanation,
            "requires": list(metric.requires),
            "params": metric.get_params(),
        }
    meta = {
        "rows": {
            "real": len(real),
            "synthetic": len(synthetic),
            "holdout": None if holdout is None else len(holdout),
        },
        "scored_columns": data.columns,
        "excluded_columns": data.excluded,
        "kinds": data.kinds,
        "target": target,
        "random_state": random_state,
        "max_rows": max_rows,
        "sampling": dict(data.sampling),
        "seconds": seconds,
    }
    return Report(results, info, skipped, meta)


def _resolve(metrics: Sequence[str | Metric] | None) -> list[Metric]:
    if metrics is None:
        return [METRICS.get(name)() for name in metric_names()]
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    resolved: list[Metric] = []
    for entry in metrics:
        if isinstance(entry, Metric):
            resolved.append(entry)
        elif isinstance(entry, str):
            resolved.append(METRICS.get(entry)())
        else:
            raise EvaluationError(
                f"metrics must hold metric names or Metric instances; got {entry!r}."
            )
    names = [m.name for m in resolved]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise EvaluationError(f"metrics names {repeated} more than once; list each metric once.")
    return resolved
