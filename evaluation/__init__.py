"""Evaluation of synthetic data: fidelity, privacy and utility metrics, and the Report.

Example:
    >>> import synthkit
    >>> from synthkit.datasets import load_adult
    >>> real = load_adult("train").head(1000)
    >>> report = synthkit.evaluate(real, real.sample(frac=1.0, random_state=0),
    ...                            metrics=["column_shapes", "exact_match_rate"])
    >>> report.to_dict()
    {'column_shapes': 1.0, 'exact_match_rate': 1.0}
"""

from synthkit.evaluation.audit import AuditResult, privacy_audit
from synthkit.evaluation.base import METRICS, Metric, MetricResult, metric_names
from synthkit.evaluation.evaluate import evaluate
from synthkit.evaluation.records import evaluate_records
from synthkit.evaluation.report import Gate, GateResults, Report

__all__ = [
    "METRICS",
    "AuditResult",
    "Gate",
    "GateResults",
    "Metric",
    "MetricResult",
    "Report",
    "evaluate",
    "evaluate_records",
    "metric_names",
    "privacy_audit",
]
