"""Token encoding of a table for autoregressive models: every column becomes one integer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch

from synthkit._runtime import seed_from
from synthkit.errors import ConditionError, DataError
from synthkit.metadata import Kind, Metadata
from synthkit.processing.columns import CategoricalTransform, NumericTransform
from synthkit.processing.encoder import TableEncoder

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
        self.knots = np.asarray(knots, dtype=np.float64)
        self.n_bins = int(n_bins)
        self.has_missing = bool(has_missing)
        self.levels = np.linspace(0.0, 1.0, len(self.knots)) if len(self.knots) else self.knots

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
        knots, levels = self.knots, self.levels
        j = np.searchsorted(knots, x, side=side)
        lo = np.clip(j - 1, 0, len(knots) - 1)
        hi = np.clip(j, 0, len(knots) - 1)
        width = knots[hi] - knots[lo]
        fraction = np.divide(x - knots[lo], width, out=np.zeros_like(x), where=width > 0)
        u = levels[lo] + np.clip(fraction, 0.0, 1.0) * (levels[hi] - levels[lo])
        return np.where(j <= 0, 0.0, np.where(j >= len(knots), 1.0, u))

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
            x[in_bin] = np.interp(u, self.levels, self.knots)
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


class Discretizer(TableEncoder):
    """A :class:`TableEncoder` that encodes each learned column as one token.

    It reuses the table encoder's validation, metadata, dtype restoration,
    datetime parsing, missing values and id/PII regeneration; only the
    representation differs. Categorical and boolean columns keep their
    categories as tokens (missing is a category). Numerical and datetime columns
    get :class:`NumericTokens`: exact tokens for up to ``max_points`` distinct
    values, otherwise frequent values plus ``n_bins`` quantile bins with
    within-bin detail, plus a missing token.

    Args:
        n_bins: Quantile bins per numerical column.
        max_points: Columns with at most this many distinct values keep every
            value as a token.
        rare_category_threshold: Pool categories with fewer rows than this (privacy).

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

    def __init__(
        self, n_bins: int = 64, max_points: int = 128, rare_category_threshold: int = 0
    ) -> None:
        super().__init__(rare_category_threshold=rare_category_threshold)
        self.n_bins = n_bins
        self.max_points = max_points

    # ---------------------------------------------------------------------- fit
    def fit(
        self,
        data: pd.DataFrame,
        metadata: Metadata | None = None,
        device: str | torch.device = "cpu",
        random_state: int | None = None,
    ) -> Discretizer:
        """Learn the columns' kinds, categories, points and quantile bins."""
        super().fit(data, metadata, device=device, random_state=random_state)
        data = self._rules_forward(data)
        self.tokens_: dict[str, NumericTokens] = {}
        for column, transform in self.transforms_.items():
            if isinstance(transform, NumericTransform):
                self.tokens_[column] = NumericTokens.fit(
                    transform.values(data[column]), self.n_bins, self.max_points
                )
        return self

    def _fit_mixtures(self, data: pd.DataFrame, transforms: list[NumericTransform], device) -> None:
        # Decoding goes through the numeric transforms with a single mixture
        # component that maps the scalar straight to the value (no fitting needed).
        for transform in transforms:
            mid = (transform.info["max"] + transform.info["min"]) / 2
            scale = max(transform.info["max"] - transform.info["min"], 1.0)
            transform.set_mixture(
                torch.ones(1, dtype=torch.float64),
                torch.tensor([mid], dtype=torch.float64),
                torch.tensor([scale / 4], dtype=torch.float64),
                0.0,
            )

    # ------------------------------------------------------------------ queries
    @property
    def learned_columns(self) -> list[str]:
        """Columns that get a token, in model order."""
        self._check_fitted()
        return [
            c
            for c, t in self.transforms_.items()
            if Kind(self.metadata_.kind(c)).learned
            and isinstance(t, (CategoricalTransform, NumericTransform))
        ]

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
        dtype: torch.dtype = torch.long,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        """Encode ``data`` into a ``[rows, learned columns]`` tensor of tokens."""
        self._check_fitted()
        self._check_columns(data)
        data = self._rules_forward(data)
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
    ) -> pd.DataFrame:
        """Turn tokens back into a frame with the real columns, order and dtypes.

        Args:
            encoded: ``[rows, learned columns]`` tokens.
            random_state: Seed for the draws inside bins and of regenerated columns.
            bounds: Optional ``{column: (low, high, level_bounds)}`` that decoded
                numbers must respect (range conditions).
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
        return self._frame(values, n, seed)

    def _frame(self, values: dict[str, np.ndarray], n: int, seed: int) -> pd.DataFrame:
        """Decode float values (numbers, NaN for missing) and category codes into a frame.

        The values go through the table encoder's own column decoding, so clipping,
        rounding, dtypes, datetimes and regenerated columns match every model.
        """
        rng = np.random.default_rng(seed)  # the draws TableEncoder.decode would make
        columns = {}
        for column, transform in self.transforms_.items():
            if column in self.tokens_:
                columns[column] = transform.decode_values(values[column])
            elif isinstance(transform, CategoricalTransform):
                columns[column] = transform.decode_codes(values[column], rng)
            else:  # constant columns need no values
                columns[column] = transform.decode(torch.zeros((n, 0)))
        return self._rules_inverse(self._assemble(columns, n, seed))

    def _check_columns(self, data: pd.DataFrame) -> None:
        missing = [c for c in self.learned_columns if c not in data.columns]
        if missing:
            raise DataError(
                f"The frame lacks the column(s) {missing} the model was fitted on; pass a "
                "frame with the training columns."
            )

    # ------------------------------------------------------------- persistence
    def to_state(self) -> dict[str, Any]:
        """Return the JSON-ready state :meth:`from_state` reads."""
        state = super().to_state()
        state["discretizer"] = {
            "format": _FORMAT,
            "n_bins": self.n_bins,
            "max_points": self.max_points,
            "tokens": {c: t.state() for c, t in self.tokens_.items()},
        }
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Discretizer:
        """Rebuild a fitted discretizer from :meth:`to_state` output."""
        base = TableEncoder.from_state(state)
        extra = state["discretizer"]
        discretizer = cls(
            extra["n_bins"], extra["max_points"], state["params"]["rare_category_threshold"]
        )  # cls: subclasses rebuild their own type
        discretizer.__dict__.update({k: v for k, v in base.__dict__.items() if k.endswith("_")})
        discretizer.tokens_ = {c: NumericTokens(**s) for c, s in extra["tokens"].items()}
        return discretizer


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


class CopulaEncoder(Discretizer):
    """Every learned column as a standard-normal score through its empirical CDF.

    A value's quantile level ``u`` (its position on the column's distribution,
    drawn uniformly inside the level range of tied values, so spikes and
    categories are dequantized) becomes ``z = Phi^-1(u)``. Missing values of a
    numerical column take the lowest levels; categories (missing included) take
    consecutive level ranges by frequency. Decoding maps ``z`` back through the
    CDF: the marginals are exact by construction and a model of ``z`` (a
    normalizing flow) only has to learn the dependence between columns.

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

    _EPS = 1e-6

    def fit(
        self,
        data: pd.DataFrame,
        metadata: Metadata | None = None,
        device: str | torch.device = "cpu",
        random_state: int | None = None,
    ) -> CopulaEncoder:
        """Learn each column's CDF (fine quantiles for numbers, frequencies for categories)."""
        super().fit(data, metadata, device=device, random_state=random_state)
        data = self._rules_forward(data)
        self.quantiles_: dict[str, NumericTokens] = {}
        for column in self.tokens_:
            values = self.transforms_[column].values(data[column])
            observed = values[~np.isnan(values)]
            knots = np.quantile(observed, np.linspace(0.0, 1.0, 1025))
            self.quantiles_[column] = NumericTokens(
                [], knots.tolist(), 1, bool(np.isnan(values).any())
            )
            self.quantiles_[column].missing_share = float(np.isnan(values).mean())
        return self

    def _edges(self, column: str) -> np.ndarray:
        """Cumulative level edges of a categorical column's categories."""
        counts = self.transforms_[column].counts
        return np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])

    def levels(self, data: pd.DataFrame, rng: np.random.Generator | None) -> dict[str, tuple]:
        """Per column the ``(low, high)`` level range of each value (``rng`` unused)."""
        data = self._rules_forward(data)
        out = {}
        for column in self.learned_columns:
            transform = self.transforms_[column]
            if column in self.tokens_:
                quantile = self.quantiles_[column]
                x = transform.values(data[column])
                share = quantile.missing_share
                low = share + (1 - share) * quantile.level(x, "left")
                high = share + (1 - share) * quantile.level(x, "right")
                missing = np.isnan(x)
                low, high = np.where(missing, 0.0, low), np.where(missing, share, high)
            else:
                edges, codes = self._edges(column), transform.codes(data[column])
                low, high = edges[codes], edges[codes + 1]
            out[column] = (low, high)
        return out

    def encode(
        self,
        data: pd.DataFrame,
        random_state: int | None = None,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device | None = None,
        midpoint: bool = False,
    ) -> torch.Tensor:
        """Normal scores ``[rows, learned columns]``; ``midpoint`` takes each tie range's middle."""
        self._check_fitted()
        self._check_columns(data)
        rng = np.random.default_rng(seed_from(random_state))
        columns = []
        for low, high in self.levels(data, rng).values():
            share = np.full(len(low), 0.5) if midpoint else rng.random(len(low))
            columns.append(low + share * (high - low))
        u = np.stack(columns, axis=1) if columns else np.zeros((len(data), 0))
        z = _normal_quantile(np.clip(u, self._EPS, 1 - self._EPS))
        return torch.as_tensor(z, dtype=dtype, device=device or "cpu")

    def decode(self, encoded: torch.Tensor, random_state: int | None = None) -> pd.DataFrame:
        """Map normal scores back through each column's CDF into a frame."""
        self._check_fitted()
        z = encoded.detach().cpu().double()
        u = torch.special.ndtr(z).numpy()
        values = {}
        for position, column in enumerate(self.learned_columns):
            level = u[:, position]
            if column in self.tokens_:
                quantile = self.quantiles_[column]
                share = quantile.missing_share
                inner = np.clip((level - share) / max(1 - share, 1e-12), 0.0, 1.0)
                x = np.interp(inner, quantile.levels, quantile.knots)
                values[column] = np.where(level < share, np.nan, x)
            else:
                edges = self._edges(column)
                codes = np.searchsorted(edges, level, side="right") - 1
                values[column] = np.clip(codes, 0, len(edges) - 2)
        return self._frame(values, len(z), seed_from(random_state))

    def log_widths(self, data: pd.DataFrame) -> np.ndarray:
        """Per row, the summed log level width of its tied values (categories, spikes)."""
        total = np.zeros(len(data))
        for low, high in self.levels(data, None).values():
            width = high - low
            total += np.where(width > 0, np.log(np.maximum(width, 1e-300)), 0.0)
        return total

    def to_state(self) -> dict[str, Any]:
        """Return the JSON-ready state :meth:`from_state` reads."""
        state = super().to_state()
        state["copula"] = {
            c: {**q.state(), "missing_share": q.missing_share} for c, q in self.quantiles_.items()
        }
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CopulaEncoder:
        """Rebuild a fitted encoder from :meth:`to_state` output."""
        encoder = super().from_state(state)
        encoder.quantiles_ = {}
        for column, entry in state["copula"].items():
            entry = dict(entry)
            share = entry.pop("missing_share")
            encoder.quantiles_[column] = NumericTokens(**entry)
            encoder.quantiles_[column].missing_share = share
        return encoder


def _normal_quantile(u: np.ndarray) -> np.ndarray:
    return torch.special.ndtri(torch.as_tensor(u, dtype=torch.float64)).numpy()
