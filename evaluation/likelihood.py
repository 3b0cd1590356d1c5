"""Likelihood membership inference: does the model itself score its training rows higher?

The attacker holds the fitted model (a released model file, say) rather than only
its synthetic rows, and flags a row as a training member when the model gives it a
high log-likelihood: the loss-threshold attack of Yeom et al. (2018), which is
optimal when the model leaks through its fit. A model that generalizes scores
members and unseen rows alike (ROC AUC near 0.5); one that memorized its training
rows scores them visibly higher, even when its synthetic rows look harmless.

References:
    Yeom, Giacomelli, Fredrikson, Jha. Privacy Risk in Machine Learning: Analyzing
    the Connection to Overfitting. IEEE CSF 2018.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synthkit.errors import EvaluationError
from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.data import EvaluationData, likelihood_unavailable
from synthkit.evaluation.membership import tpr_at_fpr

__all__ = ["LikelihoodMembershipAUC", "likelihood_attack"]


def likelihood_attack(data: EvaluationData) -> dict[str, Any]:
    """Score equal numbers of training and holdout rows by the model's log-likelihood.

    Returns the attack's ROC AUC, its TPR at 10 % FPR, the row counts and the mean
    log-likelihood of each group.
    """

    def compute() -> dict[str, Any]:
        from sklearn.metrics import roc_auc_score

        real, holdout = data.original["real"], data.original["holdout"]
        size = min(len(real), len(holdout), data.max_rows)
        if size < 10:
            raise EvaluationError(
                f"The likelihood attack needs at least 10 holdout rows; got {len(holdout)}."
            )
        members = data.positions(len(real), size, "likelihood members")
        non_members = data.positions(len(holdout), size, "likelihood non-members")
        member_scores = np.asarray(data.model.log_prob(real.iloc[members]), dtype=np.float64)
        other_scores = np.asarray(data.model.log_prob(holdout.iloc[non_members]), dtype=np.float64)
        scores = np.r_[member_scores, other_scores]
        if not np.isfinite(scores).all():
            raise EvaluationError(
                "The model's log_prob returned non-finite values; the likelihood attack "
                "needs a finite log-likelihood for every row."
            )
        labels = np.r_[np.ones(len(members), dtype=int), np.zeros(len(non_members), dtype=int)]
        return {
            "auc": float(roc_auc_score(labels, scores)),
            "tpr_at_10_fpr": tpr_at_fpr(labels, scores, 0.1),
            "members": len(members),
            "non_members": len(non_members),
            "mean_log_likelihood": {
                "members": float(member_scores.mean()),
                "non_members": float(other_scores.mean()),
            },
        }

    return data.cached("likelihood attack", compute)


class LikelihoodMembershipAUC(Metric):
    """ROC AUC of telling training rows from unseen rows by the model's log-likelihood.

    0.5 means the model scores its training rows like fresh ones; values towards
    1.0 mean it memorized them. The details add the TPR at 10 % FPR and each
    group's mean log-likelihood.

    Example:
        >>> import synthkit
        >>> from synthkit.datasets import load_adult
        >>> train, test = load_adult("train").head(1000), load_adult("test").head(1000)
        >>> model = synthkit.Synthesizer("ar", epochs=2, verbose=False, random_state=0)
        >>> model = model.fit(train)
        >>> report = synthkit.evaluate(train, model.sample(1000, random_state=0), holdout=test,
        ...                            model=model, metrics=["likelihood_mia_auc"])
        >>> 0.4 < report.to_dict()["likelihood_mia_auc"] < 0.6
        True
    """

    name = "likelihood_mia_auc"
    category = "privacy"
    direction = 0.5
    requires = ("holdout", "model")
    explanation = "ROC AUC of telling training rows from unseen rows by the model's likelihood."

    def not_applicable(self, data: EvaluationData) -> str | None:
        """Skip, with the reason, without a holdout or a model that declares ``log_prob``."""
        return super().not_applicable(data) or likelihood_unavailable(data.model)

    def score(self, data: EvaluationData) -> MetricResult:
        """Return the AUC of the log-likelihood threshold attack."""
        found = likelihood_attack(data)
        details = {key: value for key, value in found.items() if key != "auc"}
        return MetricResult(found["auc"], details=details)
