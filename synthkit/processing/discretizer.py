"""The token encoder of autoregressive models: every learned column becomes one integer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch

from synthkit._runtime import seed_from
from synthkit.errors import ConditionError, ParameterError
from synthkit.privacy.preprocessing import PrivacyBudget, fit_private_columns, protected_range
from synthkit.processing.base import BaseEncoder
from synthkit.processing.columns import NumericTransform, Span
from synthkit.processing.copula import CopulaEncoder
from synthkit.processing.quantiles import QuantileFunction
from synthkit.processing.sketches import NumericSketch, weighted_quantiles
from synthkit.processing.statistics import TableStatistics

# CopulaEncoder lived here; it stays importable from this module.
__all__ = ["CopulaEncoder", "Discretizer", "NumericTokens"]

_FORMAT = "discretizer-1"


class NumericTokens:
    """Tokens of one numerical or datetime column.

    The tokens are, in order: frequent exact values (``points``), equal-mass
    quantile bins over the remaining values, and a missing-value token when the
    column has gaps. A value in a bin is turned into its quantile level ``u``
    (its position on the column's empirical distribution of non-point values);
    decoding draws ``u`` inside the bin and maps it back through a fine,
    piecewise-linear quantile function, so decoded values are continuous and
    follow the real distribution within each bin too.

    Args:
        points: Values that get a token of their own.
        knots: The fine quantile function of the other values, at evenly spaced levels.
        n_bins: Number of coarse bins over the levels.
        has_missing: Whether a missing-value token exists.
    """

    def __init__(
        self, points: list[float], knots: list[float], n_bins: int, has_missing: bool
    ) -> None:
        self.points = np.asarray(points, dtype=np.float64)
        self.quantiles = QuantileFunction(knots)
        self.n_bins = int(n_bins)
        self.has_missing = bool(has_missing)

    @property
    def knots(self) -> np.ndarray:
        """The fine quantile function's values at evenly spaced levels."""
        return self.quantiles.knots

    @property
    def levels(self) -> np.ndarray:
        """The levels of :attr:`knots`."""
        return self.quantiles.levels

    @classmethod
    def fit(cls, values: np.ndarray, max_bins: int, max_points: int) -> NumericTokens:
        """Choose the points and bins for the float ``values`` (NaN for missing)."""
        observed = values[~np.isnan(values)]
        unique, counts = np.unique(observed, return_counts=True)
        if len(unique) <= max_points:
            return cls(unique.tolist(), [], 0, bool(np.isnan(values).any()))
        # Spikes (values holding at least one bin's share of the rows) become exact tokens.
        frequent = unique[counts >= len(observed) / max_bins]
        rest = observed[~np.isin(observed, frequent)]
        n_levels = int(min(1024, max(len(rest) // 4, 2)))
        knots = np.quantile(rest, np.linspace(0.0, 1.0, n_levels + 1))
        n_bins = int(max(1, min(max_bins, len(np.unique(rest)) // 4)))
        return cls(frequent.tolist(), knots.tolist(), n_bins, bool(np.isnan(values).any()))

    @classmethod
    def from_distribution(
        cls,
        sketch: NumericSketch,
        value_range: tuple[float, float],
        max_bins: int,
        max_points: int,
    ) -> NumericTokens:
        """:meth:`fit` from a streamed column's sketch, with values clipped to ``value_range``.

        From exact value counts the tokens equal :meth:`fit`'s on the whole column.
        From a uniform sample, frequent values are those frequent in the sample
        and the knots are the sample's quantiles (rank error: see
        :func:`~synthkit.processing.sketches.quantile_rank_error`), with the first
        and last knot at the column's exact range.
        """
        values, counts, exact = sketch.distribution()
        values, counts = _clipped(values, counts, *value_range)
        has_missing = sketch.n_missing > 0
        if exact and len(values) <= max_points:
            return cls(values.tolist(), [], 0, has_missing)
        frequent = counts >= counts.sum() / max_bins
        rest, rest_counts = values[~frequent], counts[~frequent]
        if not len(rest):  # a sample holding only spikes
            return cls(values.tolist(), [], 0, has_missing)
        # A sample stands for all observed rows: scale its count of non-spike rows.
        n_rest = rest_counts.sum() * sketch.n_observed / counts.sum()
        n_levels = int(min(1024, max(int(n_rest) // 4, 2)))
        knots = weighted_quantiles(rest, rest_counts, np.linspace(0.0, 1.0, n_levels + 1))
        distinct = len(rest) if exact else max(len(rest), sketch.max_distinct)
        if not exact:
            low, high = value_range
            knots[0] = low if low not in values[frequent] else knots[0]
            knots[-1] = high if high not in values[frequent] else knots[-1]
        n_bins = int(max(1, min(max_bins, distinct // 4)))
        return cls(values[frequent].tolist(), knots.tolist(), n_bins, has_missing)

    @property
    def n_tokens(self) -> int:
        """Size of the column's vocabulary."""
        return len(self.points) + self.n_bins + int(self.has_missing)

    @property
    def missing_token(self) -> int | None:
        """Token of a missing value, if the column has one."""
        return self.n_tokens - 1 if self.has_missing else None

    def level(self, x: np.ndarray, side: str) -> np.ndarray:
        """Quantile level of ``x`` among the non-point values (lowest or highest for ties)."""
        return self.quantiles.level(x, side)

    def encode(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Tokens of the float values ``x`` (ties inside the bins are broken at random)."""
        tokens = np.zeros(len(x), dtype=np.int64)
        missing = np.isnan(x)
        index = np.searchsorted(self.points, x)
        inside = np.clip(index, 0, max(len(self.points) - 1, 0))
        is_point = (self.points[inside] == x) if len(self.points) else np.zeros(len(x), dtype=bool)
        tokens[is_point] = inside[is_point]
        other = ~is_point & ~missing
        if self.n_bins:
            low, high = self.level(x[other], "left"), self.level(x[other], "right")
            u = low + rng.random(len(low)) * (high - low)
            bins = np.minimum((u * self.n_bins).astype(np.int64), self.n_bins - 1)
            tokens[other] = len(self.points) + bins
        elif other.any():  # a value never seen in training: the nearest point
            below = np.clip(index[other] - 1, 0, len(self.points) - 1)
            above = np.clip(index[other], 0, len(self.points) - 1)
            nearer = np.abs(self.points[below] - x[other]) <= np.abs(self.points[above] - x[other])
            tokens[other] = np.where(nearer, below, above)
        if self.has_missing:
            tokens[missing] = self.missing_token
        return tokens

    def decode(
        self,
        tokens: np.ndarray,
        rng: np.random.Generator,
        bounds: tuple[float, float] | None = None,
    ) -> np.ndarray:
        """Float values of ``tokens``; ``bounds`` limits the levels drawn inside bins."""
        n_points = len(self.points)
        x = np.full(len(tokens), np.nan)
        is_point = tokens < n_points
        x[is_point] = self.points[tokens[is_point]]
        in_bin = (tokens >= n_points) & (tokens < n_points + self.n_bins)
        if in_bin.any():
            bins = (tokens[in_bin] - n_points).astype(np.float64)
            low, high = bins / self.n_bins, (bins + 1) / self.n_bins
            if bounds is not None:
                low, high = np.maximum(low, bounds[0]), np.minimum(high, bounds[1])
                high = np.maximum(high, low)
            u = low + rng.random(len(bins)) * (high - low)
            x[in_bin] = self.quantiles.value(u)
        return x

    def allowed(self, low: float | None, high: float | None) -> tuple[np.ndarray, tuple]:
        """Tokens that can hold a value in ``[low, high]``, and the level bounds inside bins."""
        low = -math.inf if low is None else low
        high = math.inf if high is None else high
        allowed = np.zeros(self.n_tokens, dtype=bool)
        allowed[: len(self.points)] = (self.points >= low) & (self.points <= high)
        level_bounds = (0.0, 1.0)
        if self.n_bins and low <= self.knots[-1] and high >= self.knots[0]:
            u_low = float(self.level(np.array([max(low, self.knots[0])]), "left")[0])
            u_high = float(self.level(np.array([min(high, self.knots[-1])]), "right")[0])
            first = min(int(u_low * self.n_bins), self.n_bins - 1)
            last = min(math.ceil(u_high * self.n_bins) - 1, self.n_bins - 1)
            last = max(last, first)
            start = len(self.points)
            allowed[start + first : start + last + 1] = True
            level_bounds = (u_low, u_high)
        return allowed, level_bounds

    def state(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {
            "points": self.points.tolist(),
            "knots": self.knots.tolist(),
            "n_bins": self.n_bins,
            "has_missing": self.has_missing,
        }


class Discretizer(BaseEncoder):
    """Encodes each learned column as one token, for autoregressive models.

    Categorical and boolean columns keep their categories as tokens (missing is
    a category; rare ones are pooled as in every encoder). Numerical and
    datetime columns get :class:`NumericTokens`: exact tokens for up to
    ``max_points`` distinct values, otherwise frequent values plus ``n_bins``
    quantile bins with within-bin detail, plus a missing token. Checks, rules,
    column descriptions and regenerated columns come from
    :class:`~synthkit.processing.base.BaseEncoder`, like every encoder's.

    With ``value_protection``, each numerical column is first clipped to the
    range between its ``m``-th smallest and ``m``-th largest values, ``m`` the
    rare-category threshold and at least 5 (:func:`~synthkit.privacy.preprocessing.
    protected_range`): no outlier's exact value is kept or generated. With
    ``privacy``, every category set, count, range and bin comes from noisy
    histograms paid from the fit's privacy budget (:mod:`synthkit.privacy`).

    Args:
        n_bins: Quantile bins per numerical column.
        max_points: Columns with at most this many distinct values keep every
            value as a token.
        rare_category_threshold: Pool categories with fewer rows than this (privacy).
        value_protection: Clip numbers to their protected range before learning them.
        privacy: A :class:`~synthkit.privacy.preprocessing.PrivacyBudget` for a
            differentially private fit; ``privacy_`` then reports what was spent.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"x": [0.5, 1.5, 2.5, None] * 50, "c": ["a", "b", "a", "b"] * 50})
        >>> disc = Discretizer().fit(df)
        >>> tokens = disc.encode(df)
        >>> tuple(tokens.shape), disc.vocab_sizes
        ((200, 2), [4, 2])
        >>> disc.decode(tokens).equals(df)
        True
    """

    #: Decoded numbers stay inside the real range (the table encoder's default).
    clip = True

    def __init__(
        self,
        n_bins: int = 64,
        max_points: int = 128,
        rare_category_threshold: int = 0,
        value_protection: bool = False,
        privacy: PrivacyBudget | None = None,
    ) -> None:
        self.n_bins = n_bins
        self.max_points = max_points
        self.rare_category_threshold = rare_category_threshold
        self.value_protection = value_protection
        self.privacy = privacy

    # ---------------------------------------------------------------------- fit
    def _fit_columns(self, data: pd.DataFrame, device: torch.device) -> None:
        """Choose each numerical column's points and quantile bins."""
        self.privacy_: dict[str, Any] | None = None
        if self.privacy is not None:
            # No rule reaches here: the base fit leaves them out or refuses them.
            self.privacy_ = fit_private_columns(self, data, self.privacy)
            self._scrub_metadata_ranges()
            return
        self.tokens_: dict[str, NumericTokens] = {}
        for column, transform in self.transforms_.items():
            if isinstance(transform, NumericTransform):
                values = transform.values(data[column])
                if self.value_protection:
                    # Outliers are clipped onto the protected range, which replaces
                    # the exact real minimum and maximum in the column's description.
                    observed = values[~np.isnan(values)]
                    low, high = protected_range(observed, max(self.rare_category_threshold, 5))
                    values = np.where(np.isnan(values), values, np.clip(values, low, high))
                    transform.info.update(min=low, max=high)
                self.tokens_[column] = NumericTokens.fit(values, self.n_bins, self.max_points)
        if self.value_protection:
            self._scrub_metadata_ranges()

    def _fit_statistics_columns(self, statistics: TableStatistics, device: torch.device) -> None:
        """Choose each numerical column's points and bins from its streamed sketch."""
        if self.privacy is not None:
            raise ParameterError(
                "A differentially private fit cannot stream: its histograms and Poisson "
                "sampling need the whole table. Fit a DataFrame in memory, or drop epsilon."
            )
        self.privacy_ = None
        self.tokens_ = {}
        for column, transform in self.transforms_.items():
            if isinstance(transform, NumericTransform):
                sketch = statistics.numeric[column]
                value_range = (sketch.minimum, sketch.maximum)
                if self.value_protection:
                    value_range = sketch.protected_range(max(self.rare_category_threshold, 5))
                    transform.info.update(min=value_range[0], max=value_range[1])
                self.tokens_[column] = NumericTokens.from_distribution(
                    sketch, value_range, self.n_bins, self.max_points
                )
        if self.value_protection:
            self._scrub_metadata_ranges()

    def _scrub_metadata_ranges(self) -> None:
        """Detected metadata records each column's real range: keep the learned one instead."""
        from synthkit.metadata import Metadata

        metadata = Metadata.from_dict(self.metadata_.to_dict())  # never edit the caller's
        for column, transform in self.transforms_.items():
            entry = metadata.columns.get(column, {})
            if isinstance(transform, NumericTransform):
                for key in ("min", "max"):
                    if entry.get(key) is not None:
                        entry[key] = transform.info[key]
        self.metadata_ = metadata

    def _spans(self) -> list[Span]:
        return [
            Span(column, i, 1, "token", "token") for i, column in enumerate(self.learned_columns)
        ]

    # ------------------------------------------------------------------ queries
    @property
    def vocab_sizes(self) -> list[int]:
        """Number of tokens of each learned column."""
        return [self._n_tokens(c) for c in self.learned_columns]

    def _n_tokens(self, column: str) -> int:
        if column in self.tokens_:
            return self.tokens_[column].n_tokens
        return len(self.transforms_[column].categories)

    def missing_tokens(self, column: str) -> list[int]:
        """Tokens that stand for a missing value in ``column``."""
        if column in self.tokens_:
            token = self.tokens_[column].missing_token
            return [] if token is None else [token]
        index = self.transforms_[column].index_of(None)
        return [] if index is None else [index]

    def allowed_tokens(self, condition: Any) -> tuple[np.ndarray, tuple[float, float] | None]:
        """Tokens of the condition's column that meet it, and level bounds for bins.

        Raises:
            ConditionError: If no token can meet the condition.
        """
        column = condition.column
        size = self._n_tokens(column)
        if column in self.tokens_:
            tokens = self.tokens_[column]
            allowed, bounds = tokens.allowed(condition.low, condition.high)
        else:
            allowed = np.zeros(size, dtype=bool)
            allowed[list(condition.indices)] = True
            bounds = None
        if not allowed.any():
            raise ConditionError(
                f"No value of column {column!r} seen in training lies in the range "
                f"({condition.low}, {condition.high}); widen the range."
            )
        return allowed, bounds

    # ------------------------------------------------------------ encode/decode
    def encode(
        self,
        data: pd.DataFrame,
        random_state: int | None = None,
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        """Encode ``data`` into a ``[rows, learned columns]`` tensor of tokens.

        Tokens are integers: ``dtype`` is accepted for the protocol and ignored.
        """
        data = self._encoding_input(data)
        rng = np.random.default_rng(seed_from(random_state))
        columns = []
        for column in self.learned_columns:
            transform = self.transforms_[column]
            if column in self.tokens_:
                values = transform.values(data[column])
                columns.append(self.tokens_[column].encode(values, rng))
            else:
                columns.append(transform.codes(data[column]).astype(np.int64))
        matrix = np.stack(columns, axis=1) if columns else np.zeros((len(data), 0), np.int64)
        return torch.as_tensor(matrix, dtype=torch.long, device=device or "cpu")

    def decode(
        self,
        encoded: torch.Tensor,
        random_state: int | None = None,
        bounds: dict[str, tuple[float, float, tuple[float, float] | None]] | None = None,
        *,
        groups: np.ndarray | pd.Series | None = None,
    ) -> pd.DataFrame:
        """Turn tokens back into a frame with the real columns, order and dtypes.

        Args:
            encoded: ``[rows, learned columns]`` tokens.
            random_state: Seed for the draws inside bins and of regenerated columns.
            bounds: Optional ``{column: (low, high, level_bounds)}`` that decoded
                numbers must respect (range conditions).
            groups: Optional entity code of each row: rows of one entity share
                their regenerated names.
        """
        self._check_fitted()
        tokens = encoded.detach().cpu().numpy()
        n = tokens.shape[0]
        seed = seed_from(random_state)
        rng = np.random.default_rng(seed + 7)
        bounds = bounds or {}
        values = {}
        for position, column in enumerate(self.learned_columns):
            column_tokens = tokens[:, position]
            if column in self.tokens_:
                low, high, levels = bounds.get(column, (None, None, None))
                x = self.tokens_[column].decode(column_tokens, rng, levels)
                values[column] = _snap(x, low, high, self.transforms_[column].info)
            else:
                values[column] = column_tokens
        return self._decoded_frame(self._columns_from_values(values, n), n, seed, groups)

    # ------------------------------------------------------------- persistence
    def _params(self) -> dict[str, Any]:
        return {
            "rare_category_threshold": self.rare_category_threshold,
            "clip": self.clip,
            "value_protection": self.value_protection,
        }

    @classmethod
    def _from_params(cls, state: dict[str, Any]) -> Discretizer:
        extra = state["discretizer"]
        params = state["params"]
        return cls(
            extra["n_bins"],
            extra["max_points"],
            params["rare_category_threshold"],
            params.get("value_protection", False),
        )

    def _extra_state(self) -> dict[str, Any]:
        return {
            "discretizer": {
                "format": _FORMAT,
                "n_bins": self.n_bins,
                "max_points": self.max_points,
                "tokens": {c: t.state() for c, t in self.tokens_.items()},
            }
        }

    def _restore_extra(self, state: dict[str, Any]) -> None:
        self.tokens_ = {c: NumericTokens(**s) for c, s in state["discretizer"]["tokens"].items()}


def _clipped(
    values: np.ndarray, counts: np.ndarray, low: float, high: float
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values clipped to ``[low, high]`` and their merged counts."""
    merged, inverse = np.unique(np.clip(values, low, high), return_inverse=True)
    total = np.zeros(len(merged), dtype=np.int64)
    np.add.at(total, inverse, counts)
    return merged, total


def _snap(x: np.ndarray, low: float | None, high: float | None, info: dict[str, Any]) -> np.ndarray:
    """Keep decoded values inside a range condition after their final rounding."""
    if low is None and high is None:
        return x
    if info["datetime"]:
        step = float(info["unit_ns"])
    elif info["integer"]:
        step = 1.0
    else:
        decimals = info["decimals"]
        step = 10.0 ** (-decimals) if decimals is not None else 0.0
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high
    if step > 0:
        snapped_lo = math.ceil(lo / step - 1e-9) * step if low is not None else lo
        snapped_hi = math.floor(hi / step + 1e-9) * step if high is not None else hi
        if snapped_lo <= snapped_hi:
            lo, hi = snapped_lo, snapped_hi
    return np.where(np.isnan(x), x, np.clip(x, lo, hi))
