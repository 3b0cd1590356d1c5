"""The copula encoder of normalizing flows: every learned column as one normal score."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from synthkit._runtime import seed_from
from synthkit.processing.base import BaseEncoder
from synthkit.processing.columns import CategoricalTransform, NumericTransform, Span
from synthkit.processing.quantiles import QuantileFunction
from synthkit.processing.sketches import weighted_quantiles
from synthkit.processing.statistics import TableStatistics

__all__ = ["CopulaEncoder", "NumericMarginal"]

# Levels are kept this far from 0 and 1, so every score is finite.
_EPS = 1e-6
# Knots of each numerical column's quantile function.
_N_KNOTS = 1025
#: How far below the missing share a decoded level may fall and still be a value.
_LEVEL_TOLERANCE = 1e-6


class NumericMarginal:
    """The distribution of one numerical or datetime column on the level scale [0, 1].

    Missing values take the lowest levels, ``[0, missing_share)``; observed
    values the rest, through their empirical quantile function.

    Args:
        knots: The observed values' quantile function at evenly spaced levels.
        missing_share: Share of missing values.

    Example:
        >>> m = NumericMarginal([0.0, 10.0], missing_share=0.5)
        >>> low, high = m.level_range(np.array([5.0, np.nan]))
        >>> low.tolist(), high.tolist()
        ([0.75, 0.0], [0.75, 0.5])
        >>> m.value(np.array([0.75, 0.2])).tolist()
        [5.0, nan]
    """

    def __init__(self, knots: list[float] | np.ndarray, missing_share: float) -> None:
        self.quantiles = QuantileFunction(knots)
        self.missing_share = float(missing_share)

    @classmethod
    def fit(cls, values: np.ndarray) -> NumericMarginal:
        """The marginal of the float ``values`` (NaN for missing)."""
        observed = values[~np.isnan(values)]
        knots = np.quantile(observed, np.linspace(0.0, 1.0, _N_KNOTS))
        return cls(knots, float(np.isnan(values).mean()))

    def level_range(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``(low, high)`` levels of each value (equal unless values are tied)."""
        share = self.missing_share
        low = share + (1 - share) * self.quantiles.level(x, "left")
        high = share + (1 - share) * self.quantiles.level(x, "right")
        missing = np.isnan(x)
        return np.where(missing, 0.0, low), np.where(missing, share, high)

    def value(self, level: np.ndarray) -> np.ndarray:
        """The value at each level (NaN in the missing values' levels)."""
        share = self.missing_share
        inner = np.clip((level - share) / max(1 - share, 1e-12), 0.0, 1.0)
        # The lowest value's level is the missing values' edge; a level that came
        # back through the normal scores a rounding error below it is that value.
        return np.where(level < share - _LEVEL_TOLERANCE, np.nan, self.quantiles.value(inner))

    def state(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"knots": self.quantiles.knots.tolist(), "missing_share": self.missing_share}


def _category_edges(transform: CategoricalTransform) -> np.ndarray:
    """Cumulative level edges of a column's categories (in encoded order)."""
    counts = transform.counts
    return np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])


class CopulaEncoder(BaseEncoder):
    """Every learned column as a standard-normal score through its empirical CDF.

    A value's quantile level ``u`` (its position on the column's distribution,
    drawn uniformly inside the level range of tied values, so spikes and
    categories are dequantized) becomes ``z = Phi^-1(u)``. Missing values of a
    numerical column take the lowest levels (:class:`NumericMarginal`);
    categories (missing included, rare ones pooled as in every encoder) take
    consecutive level ranges by frequency. Decoding maps ``z`` back through the
    CDF: the marginals are exact by construction and a model of ``z`` (a
    normalizing flow) only has to learn the dependence between columns.

    Args:
        rare_category_threshold: Pool categories with fewer rows than this (privacy).

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"x": [0.5, 1.5, 2.5, None] * 50, "c": ["a", "b", "a", "b"] * 50})
        >>> encoder = CopulaEncoder().fit(df)
        >>> z = encoder.encode(df, random_state=0)
        >>> z.shape, bool(z.isfinite().all())
        (torch.Size([200, 2]), True)
        >>> encoder.decode(z, random_state=0).equals(df)
        True
    """

    #: Decoded numbers stay inside the real range (the table encoder's default).
    clip = True

    def __init__(self, rare_category_threshold: int = 0) -> None:
        self.rare_category_threshold = rare_category_threshold

    # ---------------------------------------------------------------------- fit
    def _fit_columns(self, data: pd.DataFrame, device: torch.device) -> None:
        """Learn each numerical column's CDF (categories' come from their counts)."""
        self.quantiles_: dict[str, NumericMarginal] = {
            column: NumericMarginal.fit(transform.values(data[column]))
            for column, transform in self.transforms_.items()
            if isinstance(transform, NumericTransform)
        }

    def _fit_statistics_columns(self, statistics: TableStatistics, device: torch.device) -> None:
        """Learn each numerical column's CDF from its streamed sketch.

        Exact value counts give :meth:`fit`'s knots; a uniform sample gives its
        quantiles with the column's exact minimum and maximum as the end knots.
        """
        self.quantiles_ = {}
        for column, transform in self.transforms_.items():
            if isinstance(transform, NumericTransform):
                sketch = statistics.numeric[column]
                values, counts, exact = sketch.distribution()
                knots = weighted_quantiles(values, counts, np.linspace(0.0, 1.0, _N_KNOTS))
                if not exact:
                    knots[0], knots[-1] = sketch.minimum, sketch.maximum
                share = sketch.n_missing / (sketch.n_missing + sketch.n_observed)
                self.quantiles_[column] = NumericMarginal(knots, share)

    def _spans(self) -> list[Span]:
        return [
            Span(column, i, 1, "normal", "score") for i, column in enumerate(self.learned_columns)
        ]

    # ------------------------------------------------------------ encode/decode
    def levels(self, data: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per learned column the ``(low, high)`` level range of each value."""
        return self._levels(self._rules_forward(data))

    def _levels(self, data: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for column in self.learned_columns:
            transform = self.transforms_[column]
            if column in self.quantiles_:
                out[column] = self.quantiles_[column].level_range(transform.values(data[column]))
            else:
                edges, codes = _category_edges(transform), transform.codes(data[column])
                out[column] = (edges[codes], edges[codes + 1])
        return out

    def encode(
        self,
        data: pd.DataFrame,
        random_state: int | None = None,
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
        midpoint: bool = False,
    ) -> torch.Tensor:
        """Normal scores ``[rows, learned columns]`` (float32 by default).

        ``midpoint`` takes each tie range's middle instead of a random level in it.
        """
        data = self._encoding_input(data)
        rng = np.random.default_rng(seed_from(random_state))
        columns = []
        for low, high in self._levels(data).values():
            share = np.full(len(low), 0.5) if midpoint else rng.random(len(low))
            columns.append(low + share * (high - low))
        u = np.stack(columns, axis=1) if columns else np.zeros((len(data), 0))
        z = _normal_quantile(np.clip(u, _EPS, 1 - _EPS))
        dtype = torch.float32 if dtype is None else dtype
        return torch.as_tensor(z, dtype=dtype, device=device or "cpu")

    def decode(
        self,
        encoded: torch.Tensor,
        random_state: int | None = None,
        *,
        groups: np.ndarray | pd.Series | None = None,
    ) -> pd.DataFrame:
        """Map normal scores back through each column's CDF into a frame."""
        self._check_fitted()
        z = encoded.detach().cpu().double()
        u = torch.special.ndtr(z).numpy()
        values = {}
        for position, column in enumerate(self.learned_columns):
            level = u[:, position]
            if column in self.quantiles_:
                values[column] = self.quantiles_[column].value(level)
            else:
                edges = _category_edges(self.transforms_[column])
                codes = np.searchsorted(edges, level, side="right") - 1
                values[column] = np.clip(codes, 0, len(edges) - 2)
        n = len(z)
        return self._decoded_frame(
            self._columns_from_values(values, n), n, seed_from(random_state), groups
        )

    def log_widths(self, data: pd.DataFrame) -> np.ndarray:
        """Per row, the summed log level width of its tied values (categories, spikes)."""
        total = np.zeros(len(data))
        for low, high in self.levels(data).values():
            width = high - low
            total += np.where(width > 0, np.log(np.maximum(width, 1e-300)), 0.0)
        return total

    # ------------------------------------------------------------- persistence
    def _params(self) -> dict[str, Any]:
        return {"rare_category_threshold": self.rare_category_threshold, "clip": self.clip}

    @classmethod
    def _from_params(cls, state: dict[str, Any]) -> CopulaEncoder:
        return cls(state["params"]["rare_category_threshold"])

    def _extra_state(self) -> dict[str, Any]:
        return {"copula": {c: m.state() for c, m in self.quantiles_.items()}}

    def _restore_extra(self, state: dict[str, Any]) -> None:
        # States written before the copula encoder stood alone also list a
        # discretizer's points and bins; only the knots and missing share are read.
        self.quantiles_ = {
            column: NumericMarginal(entry["knots"], entry["missing_share"])
            for column, entry in state["copula"].items()
        }


def _normal_quantile(u: np.ndarray) -> np.ndarray:
    return torch.special.ndtri(torch.as_tensor(u, dtype=torch.float64)).numpy()
