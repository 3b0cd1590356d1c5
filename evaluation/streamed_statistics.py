"""Column shapes and column pair trends of tables read batch by batch, never whole.

Two passes over each of the real and synthetic tables hold what
:mod:`synthkit.evaluation.fidelity` reads from whole frames:

1. :class:`ColumnStatistics`: exact category counts (TV complement), and per
   number or datetime column a seeded
   :class:`~synthkit.processing.sketches.NumericSketch` of the values the KS
   test compares (exact value counts up to 10,000 distinct values, beyond that
   a uniform sample) and the column's exact range.
2. :class:`PairStatistics`: for two number columns, the centred co-moments of
   the rows where both are present (Pearson correlation, merged batch by batch
   as Chan, Golub and LeVeque do); for any other pair, exact counts of the
   contingency table's cells, a number column cut into the 10 equal-width bins
   of its own table's range (from pass 1), as ``fidelity`` cuts it.

:func:`column_shapes` and :func:`column_pair_trends` turn them into the same
:class:`~synthkit.evaluation.base.MetricResult` the in-memory metrics return.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import EvaluationError, ParameterError
from synthkit.evaluation.base import MetricResult
from synthkit.evaluation.fidelity import (
    ColumnPairTrends,
    _category_frequencies,
    _numeric_histogram,
    _numeric_values,
    tv_complement_of_counts,
)
from synthkit.processing.sketches import CategoryCounts, NumericSketch, quantile_rank_error

__all__ = ["ColumnStatistics", "PairStatistics", "column_pair_trends", "column_shapes"]

# Probability that a sampled column's KS estimate is off by more than the stated bound.
FAILURE = 1e-6


class ColumnStatistics:
    """One table's per-column statistics (the first pass).

    Args:
        numeric: Number and datetime columns.
        discrete: Category and boolean columns.
        sample_size: Values of each number column's sample once it has more
            than 10,000 distinct values.
        seed: Seed of those samples.

    Example:
        >>> frame = pd.DataFrame({"x": [1.0, 2.0, None, 2.0], "c": ["a", "b", "a", None]})
        >>> stats = ColumnStatistics(["x"], ["c"], sample_size=100, seed=0)
        >>> stats.update(frame.iloc[:2]); stats.update(frame.iloc[2:])
        >>> stats.n_rows, stats.ranges["x"], stats.counts["c"].value_counts().tolist()
        (4, (1.0, 2.0), [2, 1, 1])
    """

    def __init__(self, numeric: list[str], discrete: list[str], sample_size: int, seed: int):
        seeds = np.random.SeedSequence(seed).spawn(max(len(numeric), 1))
        self.n_rows = 0
        self.sketches = {
            column: NumericSketch(sample_size, extremes=1, seed=int(s.generate_state(1)[0]))
            for column, s in zip(numeric, seeds, strict=False)
        }
        self.counts = {column: CategoryCounts() for column in discrete}
        # Unrounded range of the pair-trend floats: the bins' edges.
        self.ranges: dict[str, tuple[float, float]] = {}

    def update(self, frame: pd.DataFrame) -> None:
        """Add one batch of prepared rows (``EvaluationData``'s column forms)."""
        self.n_rows += len(frame)
        for column, sketch in self.sketches.items():
            sketch.update(_numeric_values(frame[column]))
            values = pair_floats(frame[column])
            values = values[~np.isnan(values)]
            if values.size:
                low, high = self.ranges.get(column, (np.inf, -np.inf))
                self.ranges[column] = (
                    float(min(low, values.min())),
                    float(max(high, values.max())),
                )
        for column, counts in self.counts.items():
            counts.update(frame[column])

    def edges(self, column: str) -> np.ndarray:
        """The 10 equal-width bins ``np.histogram_bin_edges`` gives the whole column."""
        if column not in self.ranges:
            return np.array([0.0, 1.0])
        return np.histogram_bin_edges(np.array(self.ranges[column]))

    def is_constant(self, column: str) -> bool:
        """Whether the column has exactly one distinct present value (``nunique() == 1``)."""
        low, high = self.ranges.get(column, (0.0, 1.0))
        return bool(column in self.ranges and low == high)


def pair_floats(column: pd.Series) -> np.ndarray:
    """A number or datetime column as ``fidelity``'s pair trends read it (nanoseconds, NaN)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        missing = column.isna()
        column = pd.to_numeric(column).astype(float).where(~missing, np.nan)
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


class Codebook:
    """Codes of a category column's values, shared by the real and synthetic tables.

    Missing values share code 0, as ``pd.factorize(..., use_na_sentinel=False)`` gives
    them one code of their own.
    """

    def __init__(self) -> None:
        self._codes: dict[Any, int] = {}

    def codes(self, column: pd.Series) -> np.ndarray:
        """The codes of one batch of the column."""
        local, uniques = pd.factorize(column, use_na_sentinel=True)
        lookup = np.array(
            [self._codes.setdefault(value, len(self._codes) + 1) for value in uniques] + [0],
            dtype=np.int64,
        )
        return lookup[local]  # -1 (missing) takes the last entry, 0


class _Moments:
    """Count, means and centred co-moments of two columns' rows where both are present."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = np.zeros(2)
        self.sums = np.zeros(3)  # xx, yy, xy

    def update(self, x: np.ndarray, y: np.ndarray) -> None:
        keep = ~(np.isnan(x) | np.isnan(y))
        x, y = x[keep], y[keep]
        m = x.size
        if not m:
            return
        mean = np.array([x.mean(), y.mean()])
        dx, dy = x - mean[0], y - mean[1]
        batch = np.array([dx @ dx, dy @ dy, dx @ dy])
        n = self.n + m
        delta = mean - self.mean
        # Chan et al.'s merge: exact in exact arithmetic, stable in floating point.
        self.sums += batch + np.array([delta[0] ** 2, delta[1] ** 2, delta[0] * delta[1]]) * (
            self.n * m / n
        )
        self.mean += delta * m / n
        self.n = n

    def correlation(self) -> float:
        if self.n < 2:
            return float("nan")
        denominator = math.sqrt(self.sums[0]) * math.sqrt(self.sums[1])
        if denominator == 0:
            return float("nan")
        return float(np.clip(self.sums[2] / denominator, -1.0, 1.0))


class _Cells:
    """Exact counts of a contingency table's cells, keyed ``first code << 32 | second code``."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.int64)
        self.counts = np.empty(0, dtype=np.int64)

    def update(self, first: np.ndarray, second: np.ndarray) -> None:
        keys, counts = np.unique((first << 32) | second, return_counts=True)
        merged, inverse = np.unique(np.concatenate([self.keys, keys]), return_inverse=True)
        total = np.zeros(len(merged), dtype=np.int64)
        np.add.at(total, inverse, np.concatenate([self.counts, counts]))
        self.keys, self.counts = merged, total

    def table(self) -> np.ndarray:
        """The dense contingency table (rows: first column's codes)."""
        rows, row = np.unique(self.keys >> 32, return_inverse=True)
        columns, column = np.unique(self.keys & 0xFFFFFFFF, return_inverse=True)
        dense = np.zeros((len(rows), len(columns)), dtype=np.int64)
        dense[row, column] = self.counts
        return dense


class PairStatistics:
    """One table's pair statistics (the second pass), for every pair of scored columns.

    Args:
        columns: The scored columns, in order.
        statistics: The same table's first pass: the number columns and their bins.
        codebooks: Codes of each category column, shared with the other table.

    Example:
        >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 5.0], "y": [2.0, 4.0, 5.0, 9.0],
        ...                       "c": ["a", "b", "a", "b"]})
        >>> first = ColumnStatistics(["x", "y"], ["c"], sample_size=100, seed=0)
        >>> first.update(frame)
        >>> pairs = PairStatistics(["x", "y", "c"], first, {"c": Codebook()})
        >>> pairs.update(frame.iloc[:3]); pairs.update(frame.iloc[3:])
        >>> round(pairs.moments["x", "y"].correlation(), 6), int(pairs.cells["x", "c"].counts.sum())
        (0.99449, 4)
    """

    def __init__(
        self, columns: list[str], statistics: ColumnStatistics, codebooks: dict[str, Codebook]
    ) -> None:
        self.numeric = [c for c in columns if c in statistics.sketches]
        self.edges = {column: statistics.edges(column) for column in self.numeric}
        self.codebooks = codebooks
        self.n_rows = 0
        self.moments: dict[tuple[str, str], _Moments] = {}
        self.cells: dict[tuple[str, str], _Cells] = {}
        self.pairs = list(itertools.combinations(columns, 2))
        for pair in self.pairs:
            if all(column in self.edges for column in pair):
                self.moments[pair] = _Moments()
            else:
                self.cells[pair] = _Cells()

    def update(self, frame: pd.DataFrame) -> None:
        """Add one batch of prepared rows."""
        self.n_rows += len(frame)
        floats = {column: pair_floats(frame[column]) for column in self.numeric}
        codes = {
            column: np.digitize(values, self.edges[column]).astype(np.int64)
            for column, values in floats.items()
        }
        for column, book in self.codebooks.items():
            codes[column] = book.codes(frame[column])
        for (first, second), moments in self.moments.items():
            moments.update(floats[first], floats[second])
        for (first, second), cells in self.cells.items():
            cells.update(codes[first], codes[second])


# ------------------------------------------------------------------ scores
def column_shapes(
    real: ColumnStatistics,
    synthetic: ColumnStatistics,
    columns: list[str],
    plotted: tuple[pd.DataFrame, pd.DataFrame],
    excluded: dict[str, str],
) -> MetricResult:
    """``ColumnShapes`` from both tables' first pass: per column 1 - KS or 1 - TV, averaged.

    Args:
        real: The real table's statistics.
        synthetic: The synthetic table's statistics.
        columns: The scored columns, in order.
        plotted: Row samples of the real and synthetic tables, for the report's plots.
        excluded: Columns not scored, by kind.
    """
    per_column: dict[str, dict[str, Any]] = {}
    distributions: dict[str, dict[str, Any]] = {}
    for column in columns:
        if column in real.sketches:
            one, other = real.sketches[column], synthetic.sketches[column]
            value = _ks_complement(one.distribution(), other.distribution())
            bound = sum(
                quantile_rank_error(s.sample_size, FAILURE) for s in (one, other) if not s.exact
            )
            entry = {"metric": "KSComplement", "score": value, "exact": one.exact and other.exact}
            if not entry["exact"]:
                entry["error_bound"] = bound
                entry["sampled_values"] = {
                    side: int(s.distribution()[1].sum())
                    for side, s in (("real", one), ("synthetic", other))
                    if not s.exact
                }
            distributions[column] = _numeric_histogram(plotted[0][column], plotted[1][column])
        else:
            value = _tv_complement(real.counts[column], synthetic.counts[column])
            entry = {"metric": "TVComplement", "score": value, "exact": True}
            distributions[column] = _category_frequencies(plotted[0][column], plotted[1][column])
        per_column[column] = entry
    scores = [entry["score"] for entry in per_column.values()]
    value = float(np.nanmean(scores)) if not np.all(np.isnan(scores)) else float("nan")
    bounded = [e["error_bound"] for e in per_column.values() if "error_bound" in e]
    return MetricResult(
        value,
        details={
            "columns": per_column,
            "distributions": distributions,
            "distributions_from": "the row samples (plots only; scores read every row)",
            "excluded_columns": dict(excluded),
            # Each KS estimate is within its bound (a sum of DKW bounds) with
            # probability at least 1 - 2 * FAILURE; the average within their mean.
            "error_bound": float(np.sum(bounded) / len(per_column)) if bounded else 0.0,
            "error_probability": 2 * FAILURE * len(bounded),
        },
    )


def _ks_complement(
    real: tuple[np.ndarray, np.ndarray, bool], synthetic: tuple[np.ndarray, np.ndarray, bool]
) -> float:
    """``ks_complement`` from sorted distinct values and their counts."""
    (a, a_counts, _), (b, b_counts, _) = real, synthetic
    if not a_counts.sum() or not b_counts.sum():
        return float("nan")
    pooled = np.union1d(a, b)
    return float(1.0 - np.max(np.abs(_cdf(a, a_counts, pooled) - _cdf(b, b_counts, pooled))))


def _cdf(values: np.ndarray, counts: np.ndarray, at: np.ndarray) -> np.ndarray:
    ends = np.concatenate([[0], np.cumsum(counts)])
    return ends[np.searchsorted(values, at, side="right")] / ends[-1]


def _tv_complement(real: CategoryCounts, synthetic: CategoryCounts) -> float:
    """``tv_complement`` from exact counts (missing values left out)."""
    real_counts, synthetic_counts = (
        counts[~counts.index.isna()] for counts in (real.value_counts(), synthetic.value_counts())
    )
    return tv_complement_of_counts(real_counts, synthetic_counts)


def column_pair_trends(
    metric: ColumnPairTrends,
    real: tuple[ColumnStatistics, PairStatistics],
    synthetic: tuple[ColumnStatistics, PairStatistics],
    excluded: dict[str, str],
) -> MetricResult:
    """``ColumnPairTrends`` from both tables' passes, with the metric's thresholds.

    Raises:
        EvaluationError: For Spearman correlations, whose ranks need whole columns.
    """
    if metric.coefficient not in ("Pearson", "Spearman"):
        raise ParameterError(f"coefficient={metric.coefficient!r}: use 'Pearson' or 'Spearman'.")
    if metric.coefficient != "Pearson":
        raise EvaluationError(
            "coefficient='Spearman' ranks whole columns, which a streamed evaluation does not "
            "hold; use the default Pearson coefficient, or load the tables and evaluate frames."
        )
    (real_columns, real_pairs), (synthetic_columns, synthetic_pairs) = real, synthetic
    pairs: list[dict[str, Any]] = []
    for first, second in real_pairs.pairs:
        entry: dict[str, Any] = {"column_1": first, "column_2": second}
        if (first, second) in real_pairs.moments:
            constant = any(
                side.is_constant(column)
                for side in (real_columns, synthetic_columns)
                for column in (first, second)
            )
            r_real = real_pairs.moments[first, second].correlation()
            r_synthetic = synthetic_pairs.moments[first, second].correlation()
            if constant:
                score = r_real = r_synthetic = float("nan")
            else:
                score = 1.0 - abs(r_real - r_synthetic) / 2.0
            score, counts = metric.correlation_entry(entry, score, r_real, r_synthetic)
        else:
            one, other = real_pairs.cells[first, second], synthetic_pairs.cells[first, second]
            counts = True
            if metric.real_association_threshold > 0:
                counts = _cramers_v(one.table()) > metric.real_association_threshold
            score = (
                _contingency(one, other, real_pairs.n_rows, synthetic_pairs.n_rows)
                if counts
                else float("nan")
            )
            entry["metric"] = "ContingencySimilarity"
        entry.update(score=score, counted=bool(counts))
        pairs.append(entry)
    return metric.result(pairs, excluded, exact=True)


def _contingency(real: _Cells, synthetic: _Cells, n_real: int, n_synthetic: int) -> float:
    """``contingency_similarity`` from exact cell counts: 1 - TV of the joint distributions."""
    keys = np.union1d(real.keys, synthetic.keys)
    shares = [
        np.bincount(np.searchsorted(keys, cells.keys), cells.counts, len(keys)) / n
        for cells, n in ((real, n_real), (synthetic, n_synthetic))
    ]
    return float(1.0 - np.abs(shares[0] - shares[1]).sum() / 2.0)


def _cramers_v(table: np.ndarray) -> float:
    from scipy.stats.contingency import association

    if table.sum() == 0 or min(table.shape) < 2:
        return float("nan")
    return float(association(table, method="cramer"))
