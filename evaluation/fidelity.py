"""Fidelity metrics: column shapes, column pair trends and classifier detection (C2ST).

Column shapes and pair trends follow sdmetrics' definitions (``KSComplement``,
``TVComplement``, ``CorrelationSimilarity``, ``ContingencySimilarity`` and the
single-table QualityReport's pairing rules) and agree with them to 1e-9.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.data import EvaluationData
from synthkit.evaluation.tabular import (
    classifier_features,
    hist_gradient_boosting,
    single_thread,
)

__all__ = [
    "ColumnPairTrends",
    "ColumnShapes",
    "DetectionAUC",
    "contingency_similarity",
    "correlation_similarity",
    "ks_complement",
    "tv_complement",
]

# sdmetrics rounds numbers to this many decimals before the KS test.
_KS_DECIMALS = 14
# Regularisation sdmetrics gives real counts of categories only seen in synthetic data.
_TV_UNSEEN = 1e-6


def ks_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """One minus the two-sample Kolmogorov-Smirnov statistic (sdmetrics' KSComplement).

    Missing values are dropped; datetimes compare as nanoseconds.

    Example:
        >>> ks_complement(pd.Series([1, 2, 3, 4]), pd.Series([1, 2, 3, 4]))
        1.0
        >>> ks_complement(pd.Series([1, 2, 3, 4]), pd.Series([3, 4, 5, 6]))
        0.5
    """
    a = _numeric_values(real)
    b = _numeric_values(synthetic)
    if a.size == 0 or b.size == 0:
        return float("nan")
    a.sort()
    b.sort()
    pooled = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, pooled, side="right") / a.size
    cdf_b = np.searchsorted(b, pooled, side="right") / b.size
    return float(1.0 - np.max(np.abs(cdf_a - cdf_b)))


def tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """One minus the total variation distance of two category columns (sdmetrics' TVComplement).

    Example:
        >>> tv_complement(pd.Series(["a", "a", "b", "b"]), pd.Series(["a", "b", "b", "b"]))
        0.75
    """
    real_counts, synthetic_counts = (
        _as_objects(side).value_counts(dropna=True) for side in (real, synthetic)
    )
    return tv_complement_of_counts(real_counts, synthetic_counts)


def tv_complement_of_counts(real_counts: pd.Series, synthetic_counts: pd.Series) -> float:
    """:func:`tv_complement` from each side's counts per category (missing values left out).

    Example:
        >>> tv_complement_of_counts(pd.Series({"a": 2, "b": 2}), pd.Series({"a": 1, "b": 3}))
        0.75
    """
    if real_counts.sum() == 0 or synthetic_counts.sum() == 0:
        return float("nan")
    unseen = synthetic_counts.index.difference(real_counts.index)
    if unseen.size:
        real_counts = pd.concat([real_counts, pd.Series(_TV_UNSEEN, index=unseen)])
    synthetic_counts = synthetic_counts.reindex(real_counts.index, fill_value=0)
    observed = synthetic_counts.to_numpy(float) / synthetic_counts.sum()
    expected = real_counts.to_numpy(float) / real_counts.sum()
    return float(1.0 - 0.5 * np.abs(observed - expected).sum())


def correlation_similarity(
    real: pd.DataFrame, synthetic: pd.DataFrame, coefficient: str = "Pearson"
) -> tuple[float, float, float]:
    """Return ``(score, real correlation, synthetic correlation)`` for two number columns.

    The score is ``1 - |r_real - r_synthetic| / 2`` (sdmetrics' CorrelationSimilarity);
    rows with a missing value in either column are dropped. Constant columns give nan.

    Example:
        >>> frame = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": [2.0, 4, 5, 9]})
        >>> correlation_similarity(frame, frame)[0]
        1.0
    """
    if (real.nunique() == 1).any() or (synthetic.nunique() == 1).any():
        return float("nan"), float("nan"), float("nan")
    r_real = _correlation(real.dropna(), coefficient)
    r_synthetic = _correlation(synthetic.dropna(), coefficient)
    return 1.0 - abs(r_real - r_synthetic) / 2.0, r_real, r_synthetic


def contingency_similarity(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """One minus the total variation distance of two joint category distributions.

    Missing values are a category of their own (sdmetrics' ContingencySimilarity).

    Example:
        >>> frame = pd.DataFrame({"a": ["x", "y", "x"], "b": [1, 1, 2]})
        >>> contingency_similarity(frame, frame)
        1.0
    """
    first = pd.factorize(pd.concat([real.iloc[:, 0], synthetic.iloc[:, 0]]), use_na_sentinel=False)
    second = pd.factorize(pd.concat([real.iloc[:, 1], synthetic.iloc[:, 1]]), use_na_sentinel=False)
    return _contingency_from_codes(first[0], second[0], len(real), len(first[1]), len(second[1]))


def _contingency_from_codes(
    first: np.ndarray, second: np.ndarray, n_real: int, n_first: int, n_second: int
) -> float:
    cells = first.astype(np.int64) * n_second + second
    size = n_first * n_second
    real = np.bincount(cells[:n_real], minlength=size) / n_real
    synthetic = np.bincount(cells[n_real:], minlength=size) / (len(cells) - n_real)
    return float(1.0 - np.abs(real - synthetic).sum() / 2.0)


def _correlation(frame: pd.DataFrame, coefficient: str) -> float:
    x = frame.iloc[:, 0].to_numpy(np.float64)
    y = frame.iloc[:, 1].to_numpy(np.float64)
    if coefficient == "Spearman":
        x = pd.Series(x).rank().to_numpy()
        y = pd.Series(y).rank().to_numpy()
    if x.size < 2:
        return float("nan")
    x = x - x.mean()
    y = y - y.mean()
    denominator = np.sqrt((x * x).sum()) * np.sqrt((y * y).sum())
    if denominator == 0:
        return float("nan")
    return float(np.clip((x * y).sum() / denominator, -1.0, 1.0))


def _numeric_values(column: pd.Series) -> np.ndarray:
    column = column.dropna()
    if pd.api.types.is_datetime64_any_dtype(column):
        column = pd.to_numeric(column)
    return column.round(_KS_DECIMALS).to_numpy(dtype=np.float64, copy=True)


def _as_objects(column: pd.Series) -> pd.Series:
    # Plain Python values, so a categorical dtype's unused levels do not appear.
    return pd.Series(column.to_numpy(dtype=object))


class ColumnShapes(Metric):
    """Average per-column similarity of marginal distributions.

    KS complement for numbers and datetimes, TV complement for categories and
    booleans; 1 means identical marginals. Details give each column's score and
    the binned distributions the HTML report plots.
    """

    name = "column_shapes"
    category = "fidelity"
    direction = "higher"
    explanation = "How alike each column's distribution is (1 - KS or TV distance), averaged."
    shapes = ("table", "sequences")
    sequence_view = "tables"

    def score(self, data: EvaluationData) -> MetricResult:
        """Score every column and average the scores, ignoring nan."""
        per_column: dict[str, dict[str, Any]] = {}
        distributions: dict[str, dict[str, Any]] = {}
        for column in data.columns:
            real, synthetic = data.real[column], data.synthetic[column]
            if column in data.numeric_columns:
                value, method = ks_complement(real, synthetic), "KSComplement"
                distributions[column] = _numeric_histogram(real, synthetic)
            else:
                value, method = tv_complement(real, synthetic), "TVComplement"
                distributions[column] = _category_frequencies(real, synthetic)
            per_column[column] = {"metric": method, "score": value}
        scores = [entry["score"] for entry in per_column.values()]
        value = float(np.nanmean(scores)) if not np.all(np.isnan(scores)) else float("nan")
        return MetricResult(
            value,
            details={
                "columns": per_column,
                "distributions": distributions,
                "excluded_columns": dict(data.excluded),
            },
        )


def _numeric_histogram(real: pd.Series, synthetic: pd.Series, bins: int = 30) -> dict[str, Any]:
    a, b = _numeric_values(real), _numeric_values(synthetic)
    if a.size == 0:
        return {"type": "numeric", "edges": [], "real": [], "synthetic": []}
    # Edges from the real 0.5-99.5 % range keep a few far outliers from flattening the plot.
    low, high = np.quantile(a, [0.005, 0.995])
    if high <= low:
        low, high = float(a.min()) - 0.5, float(a.max()) + 0.5
    edges = np.linspace(low, high, bins + 1)
    real_share = np.histogram(np.clip(a, low, high), edges)[0] / a.size
    synthetic_share = (
        np.histogram(np.clip(b, low, high), edges)[0] / b.size if b.size else np.zeros(bins)
    )
    return {
        "type": "datetime" if pd.api.types.is_datetime64_any_dtype(real) else "numeric",
        "edges": edges.tolist(),
        "real": real_share.tolist(),
        "synthetic": synthetic_share.tolist(),
    }


def _category_frequencies(real: pd.Series, synthetic: pd.Series, top: int = 12) -> dict[str, Any]:
    real_share = _as_objects(real).value_counts(normalize=True, dropna=False)
    synthetic_share = _as_objects(synthetic).value_counts(normalize=True, dropna=False)
    shown = list(real_share.index[:top])
    labels = ["(missing)" if pd.isna(v) else str(v) for v in shown]
    real_values = [float(real_share.get(v, 0.0)) for v in shown]
    synthetic_values = [
        float(synthetic_share.reindex(shown).fillna(0.0).iloc[i]) for i in range(len(shown))
    ]
    if len(real_share) > top or synthetic_share.index.difference(pd.Index(shown)).size:
        labels.append("(other)")
        real_values.append(max(0.0, 1.0 - sum(real_values)))
        synthetic_values.append(max(0.0, 1.0 - sum(synthetic_values)))
    return {
        "type": "categorical",
        "labels": labels,
        "real": real_values,
        "synthetic": synthetic_values,
    }


class ColumnPairTrends(Metric):
    """Average similarity of pairwise trends, as sdmetrics' QualityReport computes it.

    Two number or datetime columns: correlation similarity (Pearson by default).
    Any other pair: contingency similarity, where a number column paired with a
    category column is first cut into 10 equal-width bins over its own range in
    each table (sdmetrics' rule). With the default thresholds of 0 every pair
    counts, as the TabSyn paper reports it.
    """

    name = "column_pair_trends"
    category = "fidelity"
    direction = "higher"
    explanation = "How alike the pairwise correlations and contingency tables are, averaged."
    shapes = ("table", "sequences")
    sequence_view = "tables"
    params: ClassVar[dict[str, Any]] = {
        "coefficient": "Pearson",
        "real_correlation_threshold": 0.0,
        "real_association_threshold": 0.0,
    }

    def correlation_entry(
        self, entry: dict[str, Any], score: float, r_real: float, r_synthetic: float
    ) -> tuple[float, bool]:
        """Record a number pair's correlations in ``entry``; return its score and whether it counts.

        A pair whose real correlation is not above ``real_correlation_threshold``
        does not count (its score is NaN), as in sdmetrics.
        """
        threshold = self.real_correlation_threshold
        counts = threshold <= 0 or abs(r_real) > threshold
        entry.update(
            metric="CorrelationSimilarity",
            real_correlation=r_real,
            synthetic_correlation=r_synthetic,
        )
        return (score if counts else float("nan")), counts

    def score(self, data: EvaluationData) -> MetricResult:
        """Score every pair of scored columns."""
        from synthkit.errors import ParameterError

        if self.coefficient not in ("Pearson", "Spearman"):
            raise ParameterError(f"coefficient={self.coefficient!r}: use 'Pearson' or 'Spearman'.")
        real, real_bins = _numbers_and_bins(data.real, data.numeric_columns)
        synthetic, synthetic_bins = _numbers_and_bins(data.synthetic, data.numeric_columns)
        pairs: list[dict[str, Any]] = []
        for first, second in itertools.combinations(data.columns, 2):
            continuous = (first in real_bins, second in real_bins)
            entry: dict[str, Any] = {"column_1": first, "column_2": second}
            if all(continuous):
                score, counts = self.correlation_entry(
                    entry,
                    *correlation_similarity(
                        real[[first, second]], synthetic[[first, second]], self.coefficient
                    ),
                )
            else:
                real_pair = pd.DataFrame(
                    {
                        first: real_bins.get(first, real[first]),
                        second: real_bins.get(second, real[second]),
                    }
                )
                synthetic_pair = pd.DataFrame(
                    {
                        first: synthetic_bins.get(first, synthetic[first]),
                        second: synthetic_bins.get(second, synthetic[second]),
                    }
                )
                counts = True
                if self.real_association_threshold > 0:
                    counts = _cramers_v(real_pair) > self.real_association_threshold
                score = (
                    contingency_similarity(real_pair, synthetic_pair) if counts else float("nan")
                )
                entry["metric"] = "ContingencySimilarity"
            entry.update(score=score, counted=bool(counts))
            pairs.append(entry)
        return self.result(pairs, data.excluded)

    def result(
        self, pairs: list[dict[str, Any]], excluded: Mapping[str, str], **details: Any
    ) -> MetricResult:
        """The mean score of the pairs that count, with every pair in the details."""
        scores = np.array([p["score"] for p in pairs if p["counted"]], dtype=float)
        value = (
            float(np.nanmean(scores))
            if scores.size and not np.isnan(scores).all()
            else float("nan")
        )
        return MetricResult(
            value,
            details={
                "pairs": pairs,
                "coefficient": self.coefficient,
                "real_correlation_threshold": self.real_correlation_threshold,
                "real_association_threshold": self.real_association_threshold,
                "excluded_columns": dict(excluded),
                **details,
            },
        )


def _numbers_and_bins(
    frame: pd.DataFrame, numeric: list[str]
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    frame = frame.copy()
    bins: dict[str, pd.Series] = {}
    for column in numeric:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            missing = frame[column].isna()
            frame[column] = pd.to_numeric(frame[column]).astype(float).where(~missing, np.nan)
        values = frame[column].to_numpy(dtype=np.float64)
        finite = values[~np.isnan(values)]
        edges = np.histogram_bin_edges(finite) if finite.size else np.array([0.0, 1.0])
        bins[column] = pd.Series(np.digitize(values, bins=edges), index=frame.index)
    return frame, bins


def _cramers_v(pair: pd.DataFrame) -> float:
    from scipy.stats.contingency import association

    table = pair.groupby(list(pair.columns), dropna=False).size().unstack(fill_value=0)
    if table.to_numpy().sum() == 0 or min(table.shape) < 2:
        return float("nan")
    return float(association(table.to_numpy(), method="cramer"))


class DetectionAUC(Metric):
    """Classifier two-sample test: can a model tell real rows from synthetic ones?

    A histogram gradient-boosting classifier is cross-validated (3 folds,
    stratified) on real rows labelled 1 and synthetic rows labelled 0; the score
    is the mean ROC AUC. 0.5 means indistinguishable, 1 means trivially separable.
    Each side is subsampled to ``max_rows`` rows when larger.
    """

    name = "detection_auc"
    category = "fidelity"
    direction = 0.5
    explanation = (
        "ROC AUC of a classifier telling real from synthetic rows (0.5 = indistinguishable)."
    )
    shapes = ("table", "sequences")
    sequence_view = "entities"
    params: ClassVar[dict[str, Any]] = {"folds": 3}

    def score(self, data: EvaluationData) -> MetricResult:
        """Cross-validate the detector and average the fold AUCs."""
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        size = min(len(data.real), len(data.synthetic), data.max_rows)
        real = data.subsample(data.real, size, "detection_auc real")
        synthetic = data.subsample(data.synthetic, size, "detection_auc synthetic")
        pooled = pd.concat([real, synthetic], ignore_index=True)
        features, categorical = classifier_features(pooled, data)
        labels = np.r_[np.ones(len(real), dtype=int), np.zeros(len(synthetic), dtype=int)]
        folds = StratifiedKFold(self.folds, shuffle=True, random_state=data.random_state)
        aucs = []
        for train, test in folds.split(features, labels):
            model = hist_gradient_boosting(categorical, data.random_state)
            with single_thread():
                model.fit(features.iloc[train], labels[train])
            aucs.append(roc_auc_score(labels[test], model.predict_proba(features.iloc[test])[:, 1]))
        return MetricResult(
            float(np.mean(aucs)),
            details={
                "fold_auc": [float(a) for a in aucs],
                "rows_per_side": size,
                "classifier": "HistGradientBoostingClassifier",
                "excluded_columns": dict(data.excluded),
            },
        )
