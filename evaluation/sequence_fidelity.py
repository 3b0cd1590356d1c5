"""Fidelity of event histories: sequence lengths, gaps between events and coherence.

These metrics read :class:`~synthkit.evaluation.sequences.SequenceEvaluationData`
and apply to sequences only; each compares the real (training) entities with
the synthetic ones. Scoring a holdout of real entities in place of the
synthetic ones gives the floor a perfect model reaches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.fidelity import _numeric_histogram, ks_complement
from synthkit.evaluation.sequences import SequenceEvaluationData

__all__ = ["Coherence", "GapSimilarity", "LengthSimilarity", "gaps", "transition_similarity"]

# Levels kept per column for transitions; rarer ones pool into one, so a
# column with many levels does not spread a few thousand pairs over a sparse grid.
_TRANSITION_LEVELS = 20
# Numeric event columns enter the transitions as deciles of the real values.
_NUMERIC_BINS = 10


def gaps(keys: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Differences of the index between consecutive events of the same entity.

    Example:
        >>> gaps(np.array([1, 1, 1, 2, 2]), np.array([0.0, 2.0, 2.0, 5.0, 9.0])).tolist()
        [2.0, 0.0, 4.0]
    """
    same = keys[1:] == keys[:-1]
    return np.diff(index)[same]


def transition_similarity(
    real_keys: np.ndarray,
    real_codes: np.ndarray,
    synthetic_keys: np.ndarray,
    synthetic_codes: np.ndarray,
) -> float:
    """One minus the total variation distance of (previous, next) value pair frequencies.

    Codes are non-negative integers; pairs are taken within an entity only.

    Example:
        >>> keys, alternating = np.array([1, 1, 1, 2, 2]), np.array([0, 1, 0, 1, 0])
        >>> transition_similarity(keys, alternating, keys, alternating)
        1.0
        >>> round(transition_similarity(keys, alternating, keys, np.array([0, 0, 0, 1, 1])), 9)
        0.0
    """
    width = int(max(real_codes.max(initial=0), synthetic_codes.max(initial=0))) + 1

    def frequencies(keys: np.ndarray, codes: np.ndarray) -> np.ndarray:
        same = keys[1:] == keys[:-1]
        pairs = codes[:-1][same] * width + codes[1:][same]
        counts = np.bincount(pairs, minlength=width * width).astype(float)
        return counts / counts.sum() if counts.sum() else counts

    real, synthetic = (
        frequencies(real_keys, real_codes),
        frequencies(synthetic_keys, synthetic_codes),
    )
    if not real.sum() or not synthetic.sum():
        return float("nan")
    return float(1.0 - 0.5 * np.abs(real - synthetic).sum())


class LengthSimilarity(Metric):
    """One minus the KS statistic of the number of events per entity.

    Entities of a context table without events count as length 0.
    """

    name = "length_similarity"
    category = "fidelity"
    direction = "higher"
    explanation = "How alike the number of events per entity is (1 - KS statistic)."
    shapes = ("sequences",)

    def score(self, data: SequenceEvaluationData) -> MetricResult:
        """Compare the length distributions of real and synthetic entities."""
        real, synthetic = data.lengths("real"), data.lengths("synthetic")
        return MetricResult(
            ks_complement(pd.Series(real), pd.Series(synthetic)),
            details={
                "mean_length": {"real": float(real.mean()), "synthetic": float(synthetic.mean())},
                "no_events_share": {
                    "real": float((real == 0).mean()),
                    "synthetic": float((synthetic == 0).mean()),
                },
                "entities": {"real": len(real), "synthetic": len(synthetic)},
                "distribution": _numeric_histogram(pd.Series(real), pd.Series(synthetic), 20),
                "unit": "entity",
            },
        )


class GapSimilarity(Metric):
    """One minus the KS statistic of the index's differences within entities.

    Datetime indexes count in seconds; ties (events sharing an index value) are
    gaps of 0. sdmetrics calls this comparison ``InterRowMSAS``.
    """

    name = "gap_similarity"
    category = "fidelity"
    direction = "higher"
    explanation = "How alike the gaps between consecutive events of an entity are (1 - KS)."
    shapes = ("sequences",)

    def not_applicable(self, data: SequenceEvaluationData) -> str | None:
        """Skip sequences ordered by row alone: they have no gaps."""
        reason = super().not_applicable(data)
        if reason is None and data.index is None:
            reason = "needs a sequence_index: these sequences are ordered by row only"
        return reason

    def score(self, data: SequenceEvaluationData) -> MetricResult:
        """Compare the within-entity index differences of real and synthetic events."""
        found = {
            side: gaps(data.keys(side), data.index_values(side)) for side in ("real", "synthetic")
        }
        summary: dict[str, Any] = {}
        for side, values in found.items():
            summary[side] = (
                {
                    "median": float(np.median(values)),
                    "p90": float(np.quantile(values, 0.9)),
                    "ties": float((values == 0).mean()),
                }
                if values.size
                else None
            )
        return MetricResult(
            ks_complement(pd.Series(found["real"]), pd.Series(found["synthetic"])),
            details={
                "gaps": summary,
                "count": {side: int(values.size) for side, values in found.items()},
                "distribution": _numeric_histogram(
                    pd.Series(found["real"]), pd.Series(found["synthetic"]), 20
                ),
                "index": data.index,
                "unit": "seconds" if _is_datetime(data) else "index units",
            },
        )


def _is_datetime(data: SequenceEvaluationData) -> bool:
    values = data.sequences["real"].data[data.index]
    return not pd.api.types.is_numeric_dtype(values)


class Coherence(Metric):
    """How alike consecutive events and each entity's variety of categories are.

    Two parts, averaged over event columns, then together:

    * transitions: for each event column, one minus the total variation distance
      of the frequencies of (previous value, next value) pairs within entities;
      numbers (not the index) are cut at the real deciles first;
    * distinct categories: for each categorical event column, one minus the KS
      statistic of the number of distinct categories per entity.

    Histories whose events were shuffled across entities keep every column's
    shape but lose both.
    """

    name = "coherence"
    category = "fidelity"
    direction = "higher"
    explanation = "How alike consecutive event pairs and distinct categories per entity are."
    shapes = ("sequences",)

    def not_applicable(self, data: SequenceEvaluationData) -> str | None:
        """Skip sequences whose only scored event column is the index."""
        reason = super().not_applicable(data)
        if reason is None and not _columns(data):
            reason = "needs an event column besides the sequence key and index"
        return reason

    def score(self, data: SequenceEvaluationData) -> MetricResult:
        """Score transitions of every event column and distinct categories of categorical ones."""
        real, synthetic = data.event_frame("real"), data.event_frame("synthetic")
        real_keys, synthetic_keys = data.keys("real"), data.keys("synthetic")
        transitions: dict[str, float] = {}
        distinct: dict[str, float] = {}
        for column in _columns(data):
            real_codes, synthetic_codes = _codes(
                real[column], synthetic[column], column in data.events.numeric_columns
            )
            transitions[column] = transition_similarity(
                real_keys, real_codes, synthetic_keys, synthetic_codes
            )
            if column in data.events.discrete_columns:
                distinct[column] = ks_complement(
                    _distinct_per_entity(real_keys, real[column]),
                    _distinct_per_entity(synthetic_keys, synthetic[column]),
                )
        parts = [_mean(transitions), _mean(distinct)]
        known = [p for p in parts if not np.isnan(p)]
        return MetricResult(
            float(np.mean(known)) if known else float("nan"),
            details={
                "transitions": transitions,
                "distinct_categories": distinct,
                "transition_score": parts[0],
                "distinct_categories_score": parts[1],
                "unit": "entity",
            },
        )


def _columns(data: SequenceEvaluationData) -> list[str]:
    return [c for c in data.events.columns if c != data.index]


def _mean(values: dict[str, float]) -> float:
    finite = [v for v in values.values() if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _codes(real: pd.Series, synthetic: pd.Series, numeric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes shared by both sides; missing values and pooled levels get their own."""
    if numeric:
        real_values = _as_float(real)
        synthetic_values = _as_float(synthetic)
        finite = real_values[~np.isnan(real_values)]
        edges = (
            np.unique(np.quantile(finite, np.linspace(0, 1, _NUMERIC_BINS + 1))[1:-1])
            if finite.size
            else np.zeros(0)
        )

        def cut(values: np.ndarray) -> np.ndarray:
            codes = np.searchsorted(edges, values, side="right")
            return np.where(np.isnan(values), len(edges) + 1, codes)

        return cut(real_values), cut(synthetic_values)
    real_text = real.astype(object).where(real.notna(), None).astype(str)
    synthetic_text = synthetic.astype(object).where(synthetic.notna(), None).astype(str)
    kept = real_text.value_counts().index[:_TRANSITION_LEVELS]
    lookup = {level: code for code, level in enumerate(kept)}
    pooled = len(kept)

    def encode(values: pd.Series) -> np.ndarray:
        return values.map(lookup).fillna(pooled).astype(int).to_numpy()

    return encode(real_text), encode(synthetic_text)


def _as_float(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values):
        numbers = values.astype("datetime64[ns]").astype("int64").astype(float)
        return numbers.where(values.notna()).to_numpy()
    return pd.to_numeric(values, errors="coerce").astype(float).to_numpy()


def _distinct_per_entity(keys: np.ndarray, values: pd.Series) -> pd.Series:
    return values.groupby(keys, sort=False).nunique(dropna=False)
