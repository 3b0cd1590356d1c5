"""Membership inference: can an attacker holding the synthetic data tell training rows apart?

Two attacks score candidate rows (training members against holdout non-members):

* distance: a row close to some synthetic row is more likely a member;
* density ratio (DOMIAS, van Breugel et al. 2023): ``log p_synthetic(x) -
  log p_reference(x)``, with both densities Gaussian mixtures fitted in a
  PCA projection of the encoded rows. The reference rows are a part of the
  holdout kept apart from the non-member candidates.

The score of each metric is the stronger attack (the MIDST challenge reports ROC
AUC and TPR at 10 % FPR).

References:
    van Breugel, Sun, Qian, van der Schaar. Membership Inference Attacks against
    Synthetic Data through Overfitting Detection. AISTATS 2023.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.data import EvaluationData
from synthkit.evaluation.neighbors import Encoded, nearest_l1

__all__ = ["MembershipAUC", "MembershipTPRAt10FPR", "membership_attacks", "tpr_at_fpr"]

_PCA_DIMENSIONS = 10
_MIXTURE_COMPONENTS = 10
_MIXTURE_ITERATIONS = 30


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: float = 0.1) -> float:
    """Highest true-positive rate at a false-positive rate of at most ``fpr``.

    Example:
        >>> tpr_at_fpr(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.5, 0.1]), 0.0)
        0.5
    """
    from sklearn.metrics import roc_curve

    false_positive, true_positive, _ = roc_curve(labels, scores)
    return float(true_positive[false_positive <= fpr + 1e-12].max())


def membership_attacks(data: EvaluationData) -> dict[str, Any]:
    """Run both attacks once and return their ROC AUC and TPR at 10 % FPR."""

    def compute() -> dict[str, Any]:
        from sklearn.metrics import roc_auc_score

        half = len(data.holdout) // 2
        size = min(half, len(data.real), data.max_rows // 4)
        if size < 10:
            from synthkit.errors import EvaluationError

            raise EvaluationError(
                f"Membership inference needs at least 20 holdout rows; got {len(data.holdout)}."
            )
        order = data.rng("mia holdout split").permutation(len(data.holdout))
        non_members = order[:size]
        reference = order[half:][: data.max_rows]
        members = data.rng("mia members").choice(len(data.real), size=size, replace=False)
        candidates = _concat(
            data.encoded("real").take(members), data.encoded("holdout").take(non_members)
        )
        labels = np.r_[np.ones(size, dtype=int), np.zeros(size, dtype=int)]
        synthetic = data.encoded("synthetic")

        distances, _ = nearest_l1(candidates, synthetic, k=1)
        distance_scores = -distances[:, 0]
        synthetic_rows = data.positions(len(synthetic), data.max_rows, "mia synthetic density fit")
        density_scores = _density_ratio(
            candidates,
            synthetic.take(synthetic_rows),
            data.encoded("holdout").take(reference),
            data.random_state,
        )
        attacks = {}
        for name, scores in (("distance", distance_scores), ("density_ratio", density_scores)):
            attacks[name] = {
                "auc": float(roc_auc_score(labels, scores)),
                "tpr_at_10_fpr": tpr_at_fpr(labels, scores, 0.1),
            }
        return {
            "attacks": attacks,
            "members": size,
            "non_members": size,
            "reference_rows": len(reference),
        }

    return data.cached("membership", compute)


def _concat(first: Encoded, second: Encoded) -> Encoded:
    return Encoded(
        torch.cat([first.numbers, second.numbers]),
        torch.cat([first.onehot, second.onehot]),
        np.concatenate([first.codes, second.codes]),
        first.number_columns,
        first.onehot_columns,
    )


def _features(rows: Encoded) -> np.ndarray:
    return torch.cat([rows.numbers, rows.onehot], dim=1).numpy().astype(np.float64)


def _density_ratio(
    candidates: Encoded, synthetic: Encoded, reference: Encoded, random_state: int
) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    synthetic_x, reference_x = _features(synthetic), _features(reference)
    dimensions = max(1, min(_PCA_DIMENSIONS, synthetic_x.shape[1], len(reference_x) - 1))
    projection = PCA(dimensions, random_state=random_state).fit(
        np.vstack([synthetic_x, reference_x])
    )
    log_densities = []
    for rows in (synthetic_x, reference_x):
        components = max(1, min(_MIXTURE_COMPONENTS, len(rows) // 50))
        mixture = GaussianMixture(
            components,
            covariance_type="full",
            reg_covar=1e-4,
            max_iter=_MIXTURE_ITERATIONS,
            random_state=random_state,
        )
        with warnings.catch_warnings():
            # A mixture that has not fully converged still ranks densities well.
            warnings.simplefilter("ignore", ConvergenceWarning)
            mixture.fit(projection.transform(rows))
        log_densities.append(mixture.score_samples(projection.transform(_features(candidates))))
    return log_densities[0] - log_densities[1]


def _result(data: EvaluationData, key: str) -> MetricResult:
    found = membership_attacks(data)
    attacks = found["attacks"]
    strongest = max(attacks, key=lambda name: attacks[name][key])
    return MetricResult(
        attacks[strongest][key],
        details={
            "strongest_attack": strongest,
            "attacks": attacks,
            "members": found["members"],
            "non_members": found["non_members"],
            "reference_rows": found["reference_rows"],
        },
    )


class MembershipAUC(Metric):
    """ROC AUC of the stronger membership-inference attack (0.5 = no better than chance)."""

    name = "mia_auc"
    category = "privacy"
    direction = 0.5
    requires = ("holdout",)
    explanation = "ROC AUC of telling training rows from unseen rows using the synthetic data."
    shapes = ("table", "sequences")
    sequence_view = "entities"

    def score(self, data: EvaluationData) -> MetricResult:
        """Return the higher AUC of the distance and density-ratio attacks."""
        return _result(data, "auc")


class MembershipTPRAt10FPR(Metric):
    """True-positive rate of the stronger attack at 10 % false positives (chance = 0.1)."""

    name = "mia_tpr_at_10_fpr"
    category = "privacy"
    direction = 0.1
    requires = ("holdout",)
    explanation = "Share of training rows an attacker spots while flagging 10 % of unseen rows."
    shapes = ("table", "sequences")
    sequence_view = "entities"

    def score(self, data: EvaluationData) -> MetricResult:
        """Return the higher TPR at 10 % FPR of the two attacks."""
        return _result(data, "tpr_at_10_fpr")
