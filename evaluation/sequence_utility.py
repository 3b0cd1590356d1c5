"""Entity-level utility of sequences: predict an entity's label from its history.

The target is a context column, one label per entity (a card's default flag, a
patient's outcome). Each entity becomes one feature vector
(:func:`~synthkit.evaluation.sequences.entity_features`: number of events,
index span, per-column aggregates, first and last values, category shares and
the other context columns). A model is trained on the synthetic entities
(TSTR) and on the real training entities (TRTR) and both are scored on the
real holdout entities, with the models and features of the table utility
metrics; the details hold both scores and their ratio.
"""

from __future__ import annotations

from typing import Any, ClassVar

from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.sequences import SequenceEvaluationData
from synthkit.evaluation.utility import MODELS, _task, utility_grid

__all__ = ["EntityTRTRAUC", "EntityTRTRR2", "EntityTSTRAUC", "EntityTSTRR2"]


class _EntityUtility(Metric):
    """Train on synthetic (or real) entities, test on real holdout entities."""

    category = "utility"
    requires = ("holdout", "target")
    shapes = ("sequences",)
    params: ClassVar[dict[str, Any]] = {"positive": None, "models": MODELS}
    regime: ClassVar[str] = "tstr"
    key: ClassVar[str] = "roc_auc"
    task: ClassVar[str] = "classification"

    def not_applicable(self, data: SequenceEvaluationData) -> str | None:
        """Also skip metrics of the other task (classification vs regression)."""
        reason = super().not_applicable(data)
        if reason is None:
            task = _task(data.entities)
            if task != self.task:
                reason = f"applies to {self.task} targets; {data.target!r} is a {task} target"
        return reason

    def score(self, data: SequenceEvaluationData) -> MetricResult:
        """Fit the models on per-entity features of each side; report TSTR, TRTR and ratio."""
        found = utility_grid(data.entities, self.positive, self.models)
        model = next(iter(found["grid"]))
        scores = {regime: found["grid"][model][regime] for regime in ("tstr", "trtr")}
        details: dict[str, Any] = {
            "model": model,
            "task": found["task"],
            "target": found["target"],
            "positive": found.get("positive"),
            "test_entities": found["test_rows"],
            "grid": found["grid"],  # every score of every model, trained on each side
            "features": [c for c in data.entities.columns if c != data.target],
            "unit": "entity",
        }
        errors = {r: s["error"] for r, s in scores.items() if "error" in s}
        if self.regime in errors:
            details["reason"] = errors[self.regime]
            return MetricResult(float("nan"), details=details)
        tstr = scores["tstr"].get(self.key, float("nan"))
        trtr = scores["trtr"].get(self.key, float("nan"))
        details.update(tstr=tstr, trtr=trtr, ratio=tstr / trtr if trtr else float("nan"))
        return MetricResult(scores[self.regime][self.key], details=details)


class EntityTSTRAUC(_EntityUtility):
    """ROC AUC on real holdout entities of a classifier trained on synthetic entities."""

    name = "entity_tstr_auc"
    direction = "higher"
    explanation = "ROC AUC on holdout entities of a model trained on synthetic entities' features."


class EntityTRTRAUC(_EntityUtility):
    """Baseline: the same classifier trained on the real training entities."""

    name = "entity_trtr_auc"
    direction = "reference"
    regime = "trtr"
    explanation = "Baseline: the same ROC AUC of a model trained on the real training entities."


class EntityTSTRR2(_EntityUtility):
    """R² on real holdout entities of a regressor trained on synthetic entities."""

    name = "entity_tstr_r2"
    direction = "higher"
    key = "r2"
    task = "regression"
    explanation = "R² on holdout entities of a model trained on synthetic entities' features."


class EntityTRTRR2(_EntityUtility):
    """Baseline: the same regressor trained on the real training entities."""

    name = "entity_trtr_r2"
    direction = "reference"
    regime = "trtr"
    key = "r2"
    task = "regression"
    explanation = "Baseline: the same R² of a model trained on the real training entities."
