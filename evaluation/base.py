"""The metric contract: a ``Metric`` base class, its ``MetricResult`` and the metric registry."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from synthkit._registry import Registry
from synthkit.errors import ParameterError

if TYPE_CHECKING:
    from synthkit.evaluation.data import EvaluationData
    from synthkit.metadata import Metadata

__all__ = [
    "CATEGORIES",
    "DIRECTIONS",
    "METRICS",
    "Metric",
    "MetricResult",
    "is_better",
    "metric_names",
]

#: The three families a metric belongs to.
CATEGORIES = ("fidelity", "privacy", "utility")

#: Named directions; a float direction means "closest to this value is best".
DIRECTIONS = ("higher", "lower", "reference")


@dataclass(frozen=True)
class MetricResult:
    """The outcome of one metric.

    Args:
        value: The score (``nan`` if it could not be computed).
        interval: A confidence interval ``(low, high)`` around the score, if the
            metric has one.
        details: Per-column, per-pair or per-model breakdown and the settings used
            (sample sizes, columns left out), JSON-ready.

    Example:
        >>> MetricResult(0.93, details={"rows": 100}).value
        0.93
    """

    value: float
    interval: tuple[float, float] | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Metric:
    """Base class of every metric.

    A subclass sets the class attributes below and implements :meth:`score`,
    which reads the prepared, validated inputs from an
    :class:`~synthkit.evaluation.data.EvaluationData`. Keyword arguments given at
    construction are stored as attributes (scikit-learn style, no validation in
    ``__init__``) and override the class defaults listed in ``params``.

    Attributes:
        name: Registry name and report key.
        category: ``"fidelity"``, ``"privacy"`` or ``"utility"``.
        direction: ``"higher"`` or ``"lower"`` is better, a float (the best value,
            e.g. ``0.5``), or ``"reference"`` for a baseline that is not a score.
        requires: Inputs beyond real and synthetic data: ``"holdout"``, ``"target"``,
            ``"model"``.
        explanation: One line saying what the score means.
        params: Tunable settings and their defaults.
        shapes: The data shapes the metric scores: ``"table"`` (one row per
            unit of privacy) and ``"sequences"`` (entities with event histories,
            one entity with all its events per unit).
        sequence_view: How a table metric scores sequences: on one feature
            vector per entity (``"entities"``) or on the event and context tables
            (``"tables"``); ``None`` for metrics that read sequences themselves.
        worst_of_tables: With ``sequence_view="tables"``, report the worse of the
            event and context tables' values rather than their column-weighted
            mean (a worst-case check must not be diluted by a clean table).

    Example:
        >>> from synthkit.evaluation import METRICS
        >>> metric = METRICS.get("column_shapes")()
        >>> metric.category, metric.direction
        ('fidelity', 'higher')
    """

    name: ClassVar[str] = ""
    category: ClassVar[str] = ""
    direction: ClassVar[str | float] = "higher"
    requires: ClassVar[tuple[str, ...]] = ()
    explanation: ClassVar[str] = ""
    params: ClassVar[dict[str, Any]] = {}
    shapes: ClassVar[tuple[str, ...]] = ("table",)
    sequence_view: ClassVar[str | None] = None
    worst_of_tables: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ParameterError(
                f"Metric {self.name!r} has no parameter(s) {unknown}; "
                f"it accepts {sorted(self.params) or 'none'}."
            )
        for key, default in self.params.items():
            setattr(self, key, params.get(key, default))

    def get_params(self) -> dict[str, Any]:
        """Return the metric's settings."""
        return {key: getattr(self, key) for key in self.params}

    def not_applicable(self, data: EvaluationData) -> str | None:
        """Return why this metric cannot run on ``data``, or ``None`` if it can."""
        shape = getattr(data, "shape", "table")
        if shape not in self.shapes:
            if shape == "table":
                return "scores sequences only: pass SequenceDatasets"
            return f"scores {' and '.join(self.shapes)} data only, not {shape}"
        missing = [need for need in self.requires if getattr(data, need) is None]
        if missing:
            return f"needs {' and '.join(missing)}: pass {', '.join(f'{m}=...' for m in missing)}"
        return None

    def score(self, data: EvaluationData) -> MetricResult:
        """Compute the metric on prepared inputs."""
        raise NotImplementedError

    def compute(
        self,
        real: pd.DataFrame,
        synthetic: pd.DataFrame,
        holdout: pd.DataFrame | None = None,
        metadata: Metadata | None = None,
        target: str | None = None,
        model: Any | None = None,
    ) -> MetricResult:
        """Validate the inputs and compute this metric alone.

        Args:
            real: The real rows the generator was fitted on.
            synthetic: The synthetic rows.
            holdout: Real rows the generator never saw.
            metadata: Column kinds; detected from ``real`` when omitted.
            target: The label column, for utility metrics.
            model: The fitted model that made ``synthetic``, for model-based metrics.

        Raises:
            EvaluationError: If the inputs cannot be scored or a requirement is missing.

        Example:
            >>> import pandas as pd
            >>> from synthkit.evaluation import METRICS
            >>> real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
            >>> METRICS.get("column_shapes")().compute(real, real).value
            1.0
        """
        from synthkit.errors import EvaluationError
        from synthkit.evaluation.data import EvaluationData

        data = EvaluationData(
            real, synthetic, holdout=holdout, target=target, metadata=metadata, model=model
        )
        reason = self.not_applicable(data)
        if reason:
            raise EvaluationError(f"Metric {self.name!r} {reason}.")
        return self.score(data)

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({settings})"


def is_better(direction: str | float, value: float, threshold: float) -> bool:
    """Whether ``value`` is at least as good as ``threshold`` in ``direction``.

    A float direction is a best value: ``value`` passes when it is no farther from
    it than ``threshold`` is.

    Example:
        >>> is_better("higher", 0.9, 0.8), is_better(0.5, 0.53, 0.55), is_better(0.5, 0.4, 0.55)
        (True, True, False)
    """
    if isinstance(value, float) and math.isnan(value):
        return False
    if direction == "higher":
        return value >= threshold
    if direction == "lower":
        return value <= threshold
    if isinstance(direction, (int, float)):
        return abs(value - direction) <= abs(threshold - direction)
    raise ParameterError(
        f"direction={direction!r} has no ordering; gate this metric with a (low, high) pair."
    )


#: Every metric synthkit knows, by name. Third parties add theirs through the
#: ``synthkit.metrics`` entry-point group.
METRICS: Registry[type[Metric]] = Registry("metric", entry_point_group="synthkit.metrics")

_BUILTIN = {
    "fidelity": [
        ("column_shapes", "ColumnShapes"),
        ("column_pair_trends", "ColumnPairTrends"),
        ("detection_auc", "DetectionAUC"),
    ],
    "sequence_fidelity": [
        ("length_similarity", "LengthSimilarity"),
        ("gap_similarity", "GapSimilarity"),
        ("coherence", "Coherence"),
    ],
    "faithfulness": [
        ("alpha_precision", "AlphaPrecision"),
        ("beta_recall", "BetaRecall"),
        ("authenticity", "Authenticity"),
    ],
    "closeness": [
        ("exact_match_rate", "ExactMatchRate"),
        ("exact_match_rate_holdout", "ExactMatchRateHoldout"),
        ("dcr_share", "DCRShare"),
        ("nndr", "NNDR"),
    ],
    "leaks": [
        ("identifier_leak", "IdentifierLeak"),
    ],
    "membership": [
        ("mia_auc", "MembershipAUC"),
        ("mia_tpr_at_10_fpr", "MembershipTPRAt10FPR"),
    ],
    "likelihood": [
        ("likelihood_mia_auc", "LikelihoodMembershipAUC"),
    ],
    "attacks": [
        ("singling_out_risk", "SinglingOutRisk"),
        ("linkability_risk", "LinkabilityRisk"),
        ("inference_risk", "InferenceRisk"),
    ],
    "utility": [
        ("tstr_auc", "TSTRAUC"),
        ("trtr_auc", "TRTRAUC"),
        ("tstr_pr_auc", "TSTRPRAUC"),
        ("trtr_pr_auc", "TRTRPRAUC"),
        ("tstr_f1", "TSTRF1"),
        ("trtr_f1", "TRTRF1"),
        ("tstr_recall_at_precision", "TSTRRecallAtPrecision"),
        ("trtr_recall_at_precision", "TRTRRecallAtPrecision"),
        ("augmentation_auc", "AugmentationAUC"),
        ("tstr_r2", "TSTRR2"),
        ("trtr_r2", "TRTRR2"),
        ("tstr_rmse", "TSTRRMSE"),
        ("trtr_rmse", "TRTRRMSE"),
    ],
    "sequence_utility": [
        ("entity_tstr_auc", "EntityTSTRAUC"),
        ("entity_trtr_auc", "EntityTRTRAUC"),
        ("entity_tstr_r2", "EntityTSTRR2"),
        ("entity_trtr_r2", "EntityTRTRR2"),
    ],
}
for _module, _entries in _BUILTIN.items():
    for _name, _cls in _entries:
        METRICS.register(_name, f"synthkit.evaluation.{_module}:{_cls}")


def metric_names() -> list[str]:
    """Every registered metric name: built-ins in report order, then third-party ones.

    Example:
        >>> metric_names()[:3]
        ['column_shapes', 'column_pair_trends', 'detection_auc']
    """
    builtin = [name for entries in _BUILTIN.values() for name, _ in entries]
    return builtin + [name for name in METRICS.names() if name not in builtin]
