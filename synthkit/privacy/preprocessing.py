"""What the token encoder learns about columns, under differential privacy or value protection.

Under DP every statistic the :class:`~synthkit.processing.discretizer.Discretizer` keeps
comes from noisy histograms released by one Gaussian mechanism (a row adds one to one
cell of each histogram, so the L2 sensitivity of ``K`` histograms is ``sqrt(K)``):

* categories: a noisy count per category seen; only those above a threshold are kept
  (the threshold makes a category held by a single row appear with probability at most
  ``delta_threshold``), the rest share the pooled token;
* numbers and datetimes: a noisy histogram on a fixed grid of signed powers
  (``±{1, 2, 5}·10^k``) gives the range, then a noisy histogram of 256 equal cells in
  that range gives the quantile bins (or, for integers spanning at most ``max_points``
  values, every integer of the range gets a token; zero, when common, gets a token of
  its own). The bins follow the noisy distribution mixed half and half with an even one
  over the range, so that the cells the noise floor empties still get bins.

Bounds and category lists the user declares public are used as given and spend nothing
on their range or set. Metadata (kinds, dtypes, integer or decimal rounding, datetime
formats) and the number of rows are treated as public.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from synthkit.errors import ParameterError
from synthkit.privacy.accounting import default_delta, noise_for_epsilon

if TYPE_CHECKING:
    from synthkit.processing.discretizer import Discretizer, NumericTokens

__all__ = ["NarrowRangeWarning", "PrivacyBudget", "fit_private_columns", "protected_range"]


class NarrowRangeWarning(UserWarning):
    """A DP fit will generate a numeric column over less than its real range.

    The noise of the released histograms swamped the column's counts (few rows, a
    small epsilon): its noisy range rests on no cell clearly above the noise or
    holds well under half the rows, or its released shares sit in a sliver of the
    range. Public ``bounds=`` for the column avoid the first; more rows or a larger
    epsilon help both.
    """


_FINE_CELLS = 256
_POWERS = [m * 10.0**k for k in range(-3, 20) for m in (1.0, 2.0, 5.0)]
_GRID = np.array(sorted([-p for p in _POWERS] + [0.0] + _POWERS))
# Cells whose noisy count is below this many noise deviations count as empty; the
# range, read off about 140 cells, uses a higher floor so noise alone never widens it.
_NOISE_FLOOR = 3.0
_RANGE_FLOOR = 5.0
_EXTEND_FLOOR = 2.0


def protected_range(values: np.ndarray, k: int = 5, share: float = 0.0) -> tuple[float, float]:
    """The range numbers are clipped to when value protection is on.

    The low end is the ``m``-th smallest value and the high end the ``m``-th largest,
    with ``m = max(k, ceil(share * n))``: at least ``m`` rows lie at or beyond each end,
    so no single row's extreme value (an outlier) is ever kept or generated. The
    default ``m`` is ``k``, the rare-category threshold: a wider cut (0.1 % of Adult's
    rows clips ``fnlwgt`` at half its real maximum) costs more fidelity than it buys.

    Args:
        values: The observed (non-missing) values.
        k: The fewest rows at or beyond each end (the rare-category threshold, 5).
        share: The share of rows at or beyond each end, if more than ``k`` rows.

    Example:
        >>> protected_range(np.array([-1000.0, *range(100), 5000.0]))
        (3.0, 96.0)
    """
    ordered = np.sort(values)
    n = len(ordered)
    m = min(max(k, math.ceil(share * n)), max((n + 1) // 2, 1))
    return float(ordered[m - 1]), float(ordered[n - m])


@dataclass
class PrivacyBudget:
    """The part of a DP fit's budget that preprocessing spends, and its public domains.

    Args:
        epsilon: The whole fit's epsilon.
        delta: The whole fit's delta, or None for ``1 / n**1.1``.
        preprocessing_share: Share of ``epsilon`` the histograms would spend alone.
        bounds: Public ``(low, high)`` per numerical or datetime column.
        categories: Public category list per categorical column.
        seed: Seed of the noise.
        threshold_share: Share of ``delta`` that keeping noisy categories may spend.
    """

    epsilon: float
    delta: float | None
    preprocessing_share: float
    bounds: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    categories: Mapping[str, list[Any]] = field(default_factory=dict)
    seed: int = 0
    threshold_share: float = 0.1

    def resolve(self, n_rows: int) -> dict[str, float]:
        """Deltas and the histograms' noise multiplier for a table of ``n_rows`` rows."""
        delta = float(self.delta) if self.delta is not None else default_delta(n_rows)
        delta_threshold = delta * self.threshold_share
        accounted = delta - delta_threshold
        epsilon = self.epsilon * self.preprocessing_share
        return {
            "delta": delta,
            "delta_threshold": delta_threshold,
            "delta_accounted": accounted,
            "preprocessing_noise_multiplier": noise_for_epsilon(epsilon, accounted, 1.0, 1),
        }


def fit_private_columns(
    encoder: Discretizer, data: pd.DataFrame, budget: PrivacyBudget
) -> dict[str, Any]:
    """Describe the encoder's columns from noisy histograms; return what was spent.

    Replaces the exact categories, counts, ranges and bins the encoder described with
    noisy ones, and fills ``encoder.tokens_``.

    Raises:
        ParameterError: If a public bound or category list names an unknown column or
            a column of the wrong kind, or a bound is not ``low < high``.
    """
    from synthkit.processing.columns import (
        CategoricalTransform,
        ConstantTransform,
        NumericTransform,
    )

    transforms = encoder.transforms_
    numeric = [c for c, t in transforms.items() if isinstance(t, NumericTransform)]
    categorical = [c for c, t in transforms.items() if isinstance(t, CategoricalTransform)]
    _check_public(budget, numeric, categorical, list(data.columns))
    plan = budget.resolve(len(data))
    # One histogram per categorical column, one range histogram per numeric column
    # without public bounds, one fine histogram per numeric column.
    n_histograms = len(categorical) + 2 * len(numeric) - len(budget.bounds)
    sigma = plan["preprocessing_noise_multiplier"] * math.sqrt(max(n_histograms, 1))
    rng = np.random.default_rng(budget.seed)
    secret = [c for c in categorical if c not in budget.categories]
    threshold = 1.0 + sigma * float(norm.isf(plan["delta_threshold"] / max(len(secret), 1)))

    for column in categorical:
        state = _private_categories(
            data[column], sigma, threshold, budget.categories.get(column), rng, len(data)
        )
        if state is None:  # nothing passes the threshold: the column is generated missing
            transforms[column] = ConstantTransform.describe(column, data[column].iloc[:0])
        else:
            old = transforms[column].info
            transforms[column] = CategoricalTransform(column, {**old, **state})
    encoder.tokens_ = {}
    for column in numeric:
        transform = transforms[column]
        values = transform.values(data[column])
        public = budget.bounds.get(column)
        if public is not None:
            low, high = _public_bounds(column, public, transform.info["datetime"])
        else:
            low, high = _noisy_range(values[~np.isnan(values)], sigma, rng, column, len(data))
        integer = bool(transform.info.get("integer")) and not transform.info["datetime"]
        tokens, low, high = _noisy_tokens(
            values, low, high, integer, encoder.n_bins, encoder.max_points, sigma, rng
        )
        transform.info.update(min=low, max=high, has_missing=tokens.has_missing)
        encoder.tokens_[column] = tokens
    return {
        **plan,
        "histograms": n_histograms,
        "noise_std": sigma,
        "category_threshold": threshold,
    }


def _check_public(
    budget: PrivacyBudget, numeric: list[str], categorical: list[str], columns: list[str]
) -> None:
    for name, given, allowed, kind in (
        ("bounds", budget.bounds, numeric, "numerical or datetime"),
        ("categories", budget.categories, categorical, "categorical"),
    ):
        for column in given:
            if column not in allowed:
                where = "is not a column" if column not in columns else f"is not a {kind} column"
                raise ParameterError(
                    f"{name}={{{column!r}: ...}}: {column!r} {where} of the data; give "
                    f"{name} only for learned {kind} columns."
                )


def _public_bounds(column: str, bounds: tuple[Any, Any], is_datetime: bool) -> tuple[float, float]:
    low, high = bounds
    if is_datetime:
        low, high = (float(pd.Timestamp(v).value) for v in (low, high))
    if not float(low) < float(high):
        raise ParameterError(
            f"bounds={{{column!r}: ({low!r}, {high!r})}} is not a range; give (low, high) "
            "with low < high."
        )
    return float(low), float(high)


def _private_categories(
    series: pd.Series,
    sigma: float,
    threshold: float,
    public: list[Any] | None,
    rng: np.random.Generator,
    n_rows: int,
) -> dict[str, Any] | None:
    """Categories and noisy counts; the pooled token always exists when the set is noisy."""
    from synthkit.processing.columns import _POOL_TOKEN, _python, is_missing

    counts = series.value_counts(dropna=False)
    seen = {(None if is_missing(v) else _python(v)): int(n) for v, n in counts.items() if n > 0}
    if public is not None:
        categories = [None if is_missing(v) else _python(v) for v in public]
        noisy = np.array([seen.get(c, 0) for c in categories], float)
        noisy = noisy + rng.normal(0.0, sigma, len(categories))
        kept = list(zip(categories, np.maximum(np.round(noisy), 1).astype(int), strict=True))
        state = {"categories": [c for c, _ in kept], "counts": [int(n) for _, n in kept]}
        state["n_pooled"] = 0
        return _with_dtype(series, state)
    # Sorted so that the noise each category gets does not depend on the frame's order.
    names = sorted(seen, key=lambda v: (v is None, str(type(v)), str(v)))
    noisy = np.array([seen[v] for v in names], float) + rng.normal(0.0, sigma, len(names))
    kept = [(v, n) for v, n in zip(names, noisy, strict=True) if n > threshold]
    if not kept:
        return None
    kept.sort(key=lambda item: -item[1])
    counts_kept = [round(n) for _, n in kept]
    state = {"categories": [v for v, _ in kept], "counts": counts_kept}
    # The pool stands for every category not kept; its size comes from public n.
    state["categories"].append(_POOL_TOKEN)
    state["counts"].append(max(n_rows - sum(counts_kept), 1))
    state["n_pooled"] = 0
    return _with_dtype(series, state)


def _with_dtype(series: pd.Series, state: dict[str, Any]) -> dict[str, Any]:
    """A category dtype's declared categories are data too: keep only the released ones."""
    from synthkit.processing.columns import _POOL_TOKEN

    if isinstance(series.dtype, pd.CategoricalDtype):
        released = [c for c in state["categories"] if c is not None and c != _POOL_TOKEN]
        state["dtype_categories"] = released
    return state


def _noisy_range(
    observed: np.ndarray,
    sigma: float,
    rng: np.random.Generator,
    column: str | None = None,
    n_rows: int = 0,
) -> tuple[float, float]:
    """The span of the grid cells of signed powers whose noisy counts stand above the noise.

    With a ``column`` name, warns (:class:`NarrowRangeWarning`) when no cell stood
    above the noise or the span's noisy counts add up to under half of ``n_rows``
    (the public row count): the range then likely misses much of the column.
    """
    clipped = np.clip(observed, _GRID[0], _GRID[-1])
    counts = np.histogram(clipped, bins=_GRID)[0].astype(float)
    noisy = counts + rng.normal(0.0, sigma, len(counts))
    busy = np.flatnonzero(noisy > _RANGE_FLOOR * sigma)
    weak = len(busy) == 0
    if weak:
        busy = np.array([int(np.argmax(noisy))])
    first, last = int(busy[0]), int(busy[-1])
    # Cells shrink toward zero: a narrower neighbour of the busy span with a positive
    # noisy count is likely its tail (Adult's 51 rows with one year of education, in
    # [1, 2) next to [2, 5)); the one-way marginals then decide how far generated
    # values go into it.
    width = np.diff(_GRID)
    if first > 0 and width[first - 1] < width[first] and noisy[first - 1] > 0:
        first -= 1
    if last < len(noisy) - 1 and width[last + 1] < width[last] and noisy[last + 1] > 0:
        last += 1
    # Grow the span by neighbouring cells above a lower floor: a tail of a few hundred
    # rows (Adult's fnlwgt from 500,000 to 1,000,000) is kept, while noise alone
    # rarely adds more than one neighbour of the busy cells, and never a far cell.
    while first > 0 and noisy[first - 1] > _EXTEND_FLOOR * sigma:
        first -= 1
    while last < len(noisy) - 1 and noisy[last + 1] > _EXTEND_FLOOR * sigma:
        last += 1
    low, high = float(_GRID[first]), float(_GRID[last + 1])
    held = float(noisy[first : last + 1].sum())
    if column is not None and (weak or held < 0.5 * n_rows):
        why = (
            "no cell of its histogram stood above the noise"
            if weak
            else (f"it holds about {max(held, 0.0):.0f} of {n_rows} rows")
        )
        warnings.warn(
            f"{column!r}: the noisy range {low:g} to {high:g} is likely far narrower than "
            f"the column's ({why}; the noise deviation is {sigma:.0f} rows). Pass public "
            f"bounds={{{column!r}: (low, high)}}, or fit on more rows or with a larger "
            "epsilon.",
            NarrowRangeWarning,
            stacklevel=2,
        )
    return low, high


def _noisy_tokens(
    values: np.ndarray,
    low: float,
    high: float,
    integer: bool,
    n_bins: int,
    max_points: int,
    sigma: float,
    rng: np.random.Generator,
) -> tuple[NumericTokens, float, float]:
    """Tokens of one numeric column from a noisy histogram inside ``[low, high]``."""
    from synthkit.processing.discretizer import NumericTokens

    missing = np.isnan(values)
    observed = np.clip(values[~missing], low, high)
    noisy_missing = missing.sum() + rng.normal(0.0, sigma)
    has_missing = bool(noisy_missing > _NOISE_FLOOR * sigma)
    if integer and math.ceil(high) - math.floor(low) + 1 <= max_points:
        grid = np.arange(math.floor(low), math.ceil(high) + 1, dtype=float)
        # Every integer of the noisy range gets a token (the fine histogram, budgeted
        # before the range was known, is not needed): the grid depends only on the
        # range, and keeping only integers whose noisy count beat the noise moved
        # every age over 56 of Adult to 56 at epsilon 1. How often each is drawn is
        # learned (and, under DP, held to the released marginals).
        tokens = NumericTokens(grid.tolist(), [], 0, has_missing)
        return tokens, float(grid[0]), float(grid[-1])
    # Zero is a data-independent candidate spike (amounts that are mostly zero).
    zero = low <= 0.0 <= high
    at_zero = observed == 0.0 if zero else np.zeros(len(observed), bool)
    edges = np.linspace(low, high, _FINE_CELLS + 1)
    # Values beyond the range are left out rather than clipped in: clipped, they pile
    # up in the end cell and draw bins there (capital gains of 99,999 at 10,000).
    inner = observed[~at_zero & (values[~missing] >= low) & (values[~missing] <= high)]
    counts = np.histogram(inner, bins=edges)[0]
    noisy = counts + rng.normal(0.0, sigma, _FINE_CELLS)
    noisy = np.where(noisy > _NOISE_FLOOR * sigma, noisy, 0.0)
    points: list[float] = []
    if zero:
        noisy_zero = at_zero.sum() + rng.normal(0.0, sigma)
        total = noisy.sum() + max(noisy_zero, 0.0)
        if noisy_zero > max(_NOISE_FLOOR * sigma, total / n_bins):
            points = [0.0]
    # Half the mass spread evenly: cells whose counts the noise floor wiped out still
    # get bins (on Adult at epsilon 1 the floor emptied fnlwgt's cells above 200,000,
    # so one bin spanned 200,000 to 500,000), and the cumulative mass strictly rises.
    mass = noisy + max(noisy.sum(), 1.0) / _FINE_CELLS
    cdf = np.concatenate([[0.0], np.cumsum(mass)]) / mass.sum()
    knots = np.interp(np.linspace(0.0, 1.0, _FINE_CELLS + 1), cdf, edges)
    bins = max(1, min(n_bins, _FINE_CELLS // 4))
    return NumericTokens(points, knots.tolist(), bins, has_missing), float(low), float(high)
