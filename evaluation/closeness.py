"""Closeness privacy metrics: exact-match rates, DCR share and NNDR.

Distances are Gower-like (see :mod:`synthkit.evaluation.neighbors`): numbers
scaled by the training range, L1; categories 0/1 mismatch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.data import EvaluationData, row_hashes
from synthkit.evaluation.neighbors import nearest_l1

__all__ = ["NNDR", "DCRShare", "ExactMatchRate", "ExactMatchRateHoldout", "closeness"]


def _copy_share(rows: np.ndarray, training: np.ndarray) -> float:
    return float(np.isin(rows, training).mean())


class ExactMatchRate(Metric):
    """Share of synthetic rows identical to some training row (scored columns only)."""

    name = "exact_match_rate"
    category = "privacy"
    direction = "lower"
    explanation = "Share of synthetic rows that are exact copies of a training row."
    shapes = ("table", "sequences")
    sequence_view = "entities"

    def score(self, data: EvaluationData) -> MetricResult:
        """Hash every row and look the synthetic hashes up among the training ones."""
        training = data.cached("hash real", lambda: row_hashes(data.real))
        synthetic = data.cached("hash synthetic", lambda: row_hashes(data.synthetic))
        details: dict[str, Any] = {"synthetic_rows": len(synthetic)}
        if data.holdout is not None:
            holdout = data.cached("hash holdout", lambda: row_hashes(data.holdout))
            details["holdout_rate"] = _copy_share(holdout, training)
        return MetricResult(_copy_share(synthetic, training), details=details)


class ExactMatchRateHoldout(Metric):
    """Share of holdout rows identical to some training row: the natural copy rate."""

    name = "exact_match_rate_holdout"
    category = "privacy"
    direction = "reference"
    requires = ("holdout",)
    explanation = "Baseline: share of unseen real rows that happen to equal a training row."
    shapes = ("table", "sequences")
    sequence_view = "entities"

    def score(self, data: EvaluationData) -> MetricResult:
        """Hash the holdout rows and look them up among the training ones."""
        training = data.cached("hash real", lambda: row_hashes(data.real))
        holdout = data.cached("hash holdout", lambda: row_hashes(data.holdout))
        return MetricResult(_copy_share(holdout, training), details={"holdout_rows": len(holdout)})


def closeness(data: EvaluationData) -> dict[str, Any]:
    """Nearest-neighbour distances shared by DCR share and NNDR (computed once).

    Training and holdout rows are cut to equal numbers (the larger one is
    subsampled); at most ``max_rows`` synthetic and holdout rows are queried.

    Returns:
        A dict with ``train`` (synthetic to training, 2 nearest), ``holdout``
        (synthetic to holdout, nearest), ``baseline`` (holdout queries to
        training, 2 nearest) distance arrays and the sizes used.
    """

    def compute() -> dict[str, Any]:
        size = min(len(data.real), len(data.holdout))
        train_rows = data.positions(len(data.real), size, "dcr training rows (equal to holdout)")
        holdout_rows = data.positions(
            len(data.holdout), size, "dcr holdout rows (equal to training)"
        )
        query_rows = data.positions(len(data.synthetic), data.max_rows, "dcr synthetic queries")
        train = data.encoded("real").take(train_rows)
        holdout = data.encoded("holdout").take(holdout_rows)
        queries = data.encoded("synthetic").take(query_rows)
        # What a fresh real sample scores: holdout rows queried against training rows.
        baseline_rows = data.rng("dcr baseline").permutation(size)[: data.max_rows // 2]
        to_train, _ = nearest_l1(queries, train, k=2)
        to_holdout, _ = nearest_l1(queries, holdout, k=1)
        baseline, _ = nearest_l1(holdout.take(baseline_rows), train, k=2)
        return {
            "train": to_train,
            "holdout": to_holdout[:, 0],
            "baseline": baseline,
            "reference_rows": size,
            "synthetic_queries": len(query_rows),
        }

    return data.cached("closeness", compute)


def _quantiles(values: np.ndarray) -> dict[str, float]:
    points = np.quantile(values, [0.01, 0.05, 0.5])
    return {"p1": float(points[0]), "p5": float(points[1]), "median": float(points[2])}


class DCRShare(Metric):
    """Share of synthetic rows closer to the training rows than to the holdout rows.

    With equal numbers of training and holdout rows a generator that does not
    memorise gives 0.5; copying training rows pushes it toward 1. Ties count
    half.
    """

    name = "dcr_share"
    category = "privacy"
    direction = 0.5
    requires = ("holdout",)
    explanation = "Share of synthetic rows nearer a training row than a holdout row (0.5 is ideal)."
    shapes = ("table", "sequences")
    sequence_view = "entities"

    def score(self, data: EvaluationData) -> MetricResult:
        """Compare each synthetic row's distance to the training and holdout sets."""
        found = closeness(data)
        to_train, to_holdout = found["train"][:, 0], found["holdout"]
        closer = (to_train < to_holdout).mean()
        ties = (to_train == to_holdout).mean()
        return MetricResult(
            float(closer + 0.5 * ties),
            details={
                "ties": float(ties),
                "dcr_synthetic_to_train": _quantiles(to_train),
                "dcr_synthetic_to_holdout": _quantiles(to_holdout),
                "dcr_holdout_to_train": _quantiles(found["baseline"][:, 0]),
                "reference_rows_each": found["reference_rows"],
                "synthetic_queries": found["synthetic_queries"],
                "distance": "Gower-like: numbers / training range (L1) + category mismatches",
            },
        )


def _ratios(distances: np.ndarray) -> np.ndarray:
    first, second = distances[:, 0], distances[:, 1]
    # Two zero distances mean an exact copy of a duplicated row: the riskiest case.
    return np.divide(first, second, out=np.zeros_like(first), where=second > 0)


class NNDR(Metric):
    """Mean nearest-neighbour distance ratio of synthetic rows to the training rows.

    For each synthetic row, the distance to its closest training row divided by
    the distance to the second closest. Values near 0 mean a synthetic row sits
    on one particular training row; details give the holdout rows' ratio as the
    baseline a fresh real sample achieves.
    """

    name = "nndr"
    category = "privacy"
    direction = "higher"
    requires = ("holdout",)
    explanation = "Mean ratio of 1st to 2nd nearest training-row distance (low = sits on a row)."
    shapes = ("table", "sequences")
    sequence_view = "entities"

    def score(self, data: EvaluationData) -> MetricResult:
        """Average the ratios of the synthetic queries."""
        found = closeness(data)
        synthetic = _ratios(found["train"])
        baseline = _ratios(found["baseline"])
        return MetricResult(
            float(synthetic.mean()),
            details={
                "holdout_nndr": float(baseline.mean()),
                "synthetic_quantiles": _quantiles(synthetic),
                "holdout_quantiles": _quantiles(baseline),
                "reference_rows": found["reference_rows"],
                "synthetic_queries": found["synthetic_queries"],
            },
        )
