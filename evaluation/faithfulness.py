"""alpha-precision, beta-recall and authenticity (Alaa et al. 2022).

Rows are embedded with the Gower-like encoding (numbers scaled by the training
range, one-hot categories scaled by 1/√2 so a category mismatch adds 1 to the
squared Euclidean distance); the embedding centre is the mean of the real rows
(the paper's "naive" variant, without a learned one-class network).

* alpha-precision: for each alpha, the share of synthetic rows inside the ball holding
  the alpha most typical real rows, compared with alpha; summarised as
  ``1 - 2 * area between the curve and the diagonal`` (1 is ideal). The diagonal
  is the curve the real rows trace against themselves, so ties and sample size
  do not cost an identical copy its perfect score.
* beta-recall: for each beta, the share of real rows whose nearest synthetic row lies
  inside the row's k-nearest-neighbour ball among real rows (k = 5) and in the
  beta-support of the synthetic rows; summarised the same way. (With k = 1, as
  some implementations use, even a fresh real sample only scores about 0.5.)
* Authenticity: the share of synthetic rows farther from their nearest real row
  than that real row is from its own nearest real neighbour (not copies).

References:
    Alaa, van Breugel, Saveliev, van der Schaar. How Faithful is your Synthetic
    Data? Sample-level Metrics for Evaluating and Auditing Generative Models.
    ICML 2022.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.data import EvaluationData
from synthkit.evaluation.neighbors import nearest_l2

__all__ = ["AlphaPrecision", "Authenticity", "BetaRecall", "faithfulness"]

_STEPS = 30


#: Real-row neighbourhood size for beta-recall's coverage balls.
NEIGHBOURS = 5


def faithfulness(data: EvaluationData) -> dict[str, Any]:
    """Compute the three scores and their curves once per evaluation."""

    def compute() -> dict[str, Any]:
        size = min(len(data.real), len(data.synthetic), data.max_rows)
        real_rows = data.positions(len(data.real), size, "alpha/beta real rows")
        synthetic_rows = data.positions(len(data.synthetic), size, "alpha/beta synthetic rows")
        real = _embedding(data, "real", real_rows)
        synthetic = _embedding(data, "synthetic", synthetic_rows)
        scores = _scores(real, synthetic)
        # Authenticity looks copies up among all real rows, not only the subsample; a
        # quarter of the synthetic sample is enough for its share (standard error < 0.01).
        every_real = _embedding(data, "real", np.arange(len(data.real)))
        queries = data.positions(len(synthetic_rows), data.max_rows // 4, "authenticity queries")
        scores["authenticity"] = _authenticity(every_real, synthetic[torch.as_tensor(queries)])
        scores["authenticity_queries"] = len(queries)
        return scores

    return data.cached("faithfulness", compute)


def _embedding(data: EvaluationData, which: str, rows: np.ndarray) -> torch.Tensor:
    encoded = data.encoded(which).take(rows)
    return torch.cat([encoded.numbers, encoded.onehot / np.sqrt(2.0)], dim=1)


def _scores(real: torch.Tensor, synthetic: torch.Tensor) -> dict[str, Any]:
    alphas = np.linspace(0.0, 1.0, _STEPS)
    center = real.mean(dim=0)
    real_radius = torch.linalg.vector_norm(real - center, dim=1).numpy()
    synthetic_radius = torch.linalg.vector_norm(synthetic - center, dim=1).numpy()
    radii = np.quantile(real_radius, alphas)
    precision_curve = (synthetic_radius[None, :] <= radii[:, None]).mean(axis=1)
    # The diagonal as the real rows themselves trace it: with ties and a finite sample the
    # share inside the alpha-quantile ball is not exactly alpha, and identical data must score 1.
    diagonal = (real_radius[None, :] <= radii[:, None]).mean(axis=1)

    real_to_real, _ = nearest_l2(real, real, k=NEIGHBOURS + 1)
    # Column 0 is the row itself; column k its k-th nearest other real row.
    coverage_radius = real_to_real[:, NEIGHBOURS]
    real_to_synthetic, nearest_synthetic = nearest_l2(real, synthetic, k=1)
    real_to_synthetic, nearest_synthetic = real_to_synthetic[:, 0], nearest_synthetic[:, 0]
    synthetic_center = synthetic.mean(dim=0)
    closest_radius = torch.linalg.vector_norm(
        synthetic[torch.as_tensor(nearest_synthetic)] - synthetic_center, dim=1
    ).numpy()
    closest_radii = np.quantile(closest_radius, alphas)
    covered = real_to_synthetic <= coverage_radius
    recall_curve = (covered[None, :] & (closest_radius[None, :] <= closest_radii[:, None])).mean(
        axis=1
    )

    step = alphas[1] - alphas[0]
    return {
        "alpha_precision": float(1 - 2 * np.abs(diagonal - precision_curve).sum() * step),
        "beta_recall": float(1 - 2 * np.abs(diagonal - recall_curve).sum() * step),
        "alphas": alphas.tolist(),
        "precision_curve": precision_curve.tolist(),
        "recall_curve": recall_curve.tolist(),
        "rows_each": len(real),
        "neighbours": NEIGHBOURS,
    }


def _authenticity(real: torch.Tensor, synthetic: torch.Tensor) -> float:
    """Share of synthetic rows farther from their nearest real row than it is from its own."""
    synthetic_to_real, nearest_real = nearest_l2(synthetic, real, k=1)
    matched, position = np.unique(nearest_real[:, 0], return_inverse=True)
    # Column 0 is the real row itself (or an identical duplicate); column 1 its neighbour.
    real_to_real, _ = nearest_l2(real[torch.as_tensor(matched)], real, k=2)
    return float((synthetic_to_real[:, 0] > real_to_real[position, 1]).mean())


class _Faithfulness(Metric):
    category = "fidelity"
    direction = "higher"

    def score(self, data: EvaluationData) -> MetricResult:
        """Read this metric's score from the shared computation."""
        found = faithfulness(data)
        curve = {"alpha_precision": "precision_curve", "beta_recall": "recall_curve"}.get(self.name)
        details: dict[str, Any] = {"rows_each": found["rows_each"]}
        if self.name == "authenticity":
            details = {"synthetic_queries": found["authenticity_queries"], "real_rows": "all"}
        if curve:
            details.update(alphas=found["alphas"], curve=found[curve])
        return MetricResult(found[self.name], details=details)


class AlphaPrecision(_Faithfulness):
    """How much synthetic mass falls where typical real rows are (1 = ideal)."""

    name = "alpha_precision"
    explanation = "Synthetic rows lie where real rows are, at every typicality level (1 = ideal)."


class BetaRecall(_Faithfulness):
    """How much of the real data's variety the synthetic rows cover (1 = ideal)."""

    name = "beta_recall"
    explanation = "Synthetic rows cover the variety of the real rows (1 = ideal)."


class Authenticity(_Faithfulness):
    """Share of synthetic rows that are not near-copies of a real row."""

    name = "authenticity"
    explanation = "Share of synthetic rows that are not closer to a real row than its neighbours."
