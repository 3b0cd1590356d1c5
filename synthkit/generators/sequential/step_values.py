"""The index's time steps as exact values: from real events in training, drawn in sampling.

A sequence model learns its index as two numeric columns, the first event's
time and the gaps after it, each discretized into tokens (exact frequent values
and quantile bins). The time inputs of the network (the time left before the
entity's bound, the time since its first event) are sums of these steps. In
training they are the real events' exact times. In sampling each drawn bin
token gets its value drawn inside the bin on the model's device, exactly as
decoding would draw it (a uniform level inside the bin, mapped through the
column's piecewise-linear quantile function), so the time the network reads
while drawing a history is the time the decoded history has: the bin medians
would drift from it by hundreds of days over a long history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from synthkit.generators.sequential.index import _GAP, _START
from synthkit.processing.discretizer import NumericTokens

__all__ = ["TokenValues", "exact_steps"]


def exact_steps(frame: pd.DataFrame) -> np.ndarray:
    """Each event's time step: the first event's time, else the gap since the previous one.

    ``frame`` holds the learned columns of events grouped by entity in order
    (``_START`` set on first events, ``_GAP`` on later ones). Missing values
    count as 0 and gaps are never negative, as decoding treats them.

    Example:
        >>> frame = pd.DataFrame({_START: [5.0, np.nan, np.nan], _GAP: [np.nan, 2.0, 0.5]})
        >>> exact_steps(frame).tolist()
        [5.0, 2.0, 0.5]
    """
    start = frame[_START].to_numpy(dtype=np.float64)
    gap = frame[_GAP].to_numpy(dtype=np.float64) if _GAP in frame else np.zeros(len(frame))
    gap = np.maximum(gap, 0.0)
    return np.nan_to_num(np.where(np.isnan(start), gap, start))


class TokenValues:
    """Draws the value of a numeric column's tokens on a device, as decoding draws it.

    A point token is its value; a bin token a value drawn at a uniform level
    inside the bin through the column's quantile function; the missing token 0.

    Args:
        tokens: The column's fitted tokens.
        device: Where the draws run.

    Example:
        >>> tokens = NumericTokens([0.0], [1.0, 2.0, 3.0], n_bins=2, has_missing=False)
        >>> values = TokenValues(tokens, "cpu")
        >>> values.draw(torch.tensor([0, 1, 2]), torch.tensor([0.3, 0.5, 0.5])).tolist()
        [0.0, 1.5, 2.5]
    """

    def __init__(self, tokens: NumericTokens, device: torch.device | str) -> None:
        self.n_points = len(tokens.points)
        self.n_bins = tokens.n_bins
        self.points = torch.as_tensor(tokens.points, dtype=torch.float64, device=device)
        knots = np.asarray(tokens.knots, dtype=np.float64)
        self.knots = torch.as_tensor(knots if len(knots) else np.zeros(2), device=device)

    def draw(self, token: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
        """Float64 values of ``token`` (a bin's drawn at level ``uniform`` inside it)."""
        value = torch.zeros(token.shape, dtype=torch.float64, device=token.device)
        if self.n_points:
            is_point = token < self.n_points
            value = torch.where(is_point, self.points[token.clamp(max=self.n_points - 1)], value)
        if self.n_bins:
            bins = token - self.n_points
            in_bin = (bins >= 0) & (bins < self.n_bins)
            level = (bins.clamp(0, self.n_bins - 1) + uniform.to(torch.float64)) / self.n_bins
            value = torch.where(in_bin, self._quantile(level), value)
        return value

    def _quantile(self, level: torch.Tensor) -> torch.Tensor:
        """``np.interp(level, linspace(0, 1, len(knots)), knots)`` on the device."""
        last = len(self.knots) - 1
        position = level.clamp(0.0, 1.0) * last
        below = position.floor().long().clamp(max=last - 1)
        fraction = position - below
        low, high = self.knots[below], self.knots[below + 1]
        return low + fraction * (high - low)
