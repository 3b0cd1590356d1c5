"""A column's empirical quantile function, shared by the token and copula encoders."""

from __future__ import annotations

import numpy as np

__all__ = ["QuantileFunction"]


class QuantileFunction:
    """A piecewise-linear quantile function through ``knots`` at evenly spaced levels.

    ``knots[i]`` is the value at level ``i / (len(knots) - 1)``; between knots the
    function is linear, so values read through it are continuous and follow the
    real distribution between its knots too.

    Args:
        knots: Non-decreasing values at evenly spaced levels from 0 to 1.

    Example:
        >>> q = QuantileFunction([0.0, 10.0, 20.0])
        >>> q.value(np.array([0.25, 0.75])).tolist()
        [5.0, 15.0]
        >>> q.level(np.array([5.0]), "left").tolist()
        [0.25]
    """

    def __init__(self, knots: list[float] | np.ndarray) -> None:
        self.knots = np.asarray(knots, dtype=np.float64)
        self.levels = np.linspace(0.0, 1.0, len(self.knots)) if len(self.knots) else self.knots

    def level(self, x: np.ndarray, side: str) -> np.ndarray:
        """Level of each value of ``x`` (the lowest or highest level of tied knots)."""
        knots, levels = self.knots, self.levels
        j = np.searchsorted(knots, x, side=side)
        lo = np.clip(j - 1, 0, len(knots) - 1)
        hi = np.clip(j, 0, len(knots) - 1)
        width = knots[hi] - knots[lo]
        fraction = np.divide(x - knots[lo], width, out=np.zeros_like(x), where=width > 0)
        u = levels[lo] + np.clip(fraction, 0.0, 1.0) * (levels[hi] - levels[lo])
        return np.where(j <= 0, 0.0, np.where(j >= len(knots), 1.0, u))

    def value(self, u: np.ndarray) -> np.ndarray:
        """Values at the levels ``u`` (in [0, 1])."""
        return np.interp(u, self.levels, self.knots)
