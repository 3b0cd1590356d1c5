"""What the token encoder learns about columns, under differential privacy or value protection.

Under DP every statistic the :class:`~synthkit.processing.discretizer.Discretizer` keeps
comes from noisy histograms released by one Gaussian mechanism (a row adds one to one
cell of each histogram, so the L2 sensitivity of ``K`` histograms is ``sqrt(K)``):

* categories: a noisy count per category seen; only those above a threshold are kept
  (the threshold makes a category held by a single row appear with probability at most
  ``delta_threshold``), the rest share the pooled token;
* numbers and datetimes: a noisy histogram on a fixed grid of signed powers
  (``±{1, 2, 5}·10^k``) gives the range (its cells above the noise, half-open at the
  top; where its outermost cells decay, the decay is continued past them unless the
  next cell's count contradicts it, so a thin tail under the noise reaches about as
  far as the real one), then a noisy histogram of equal cells in that range (256, or
  fewer where the noise would swamp them) gives the quantile function and its bins
  (or, for integers spanning at most ``max_points`` values whose average count
  stands four noise deviations above zero, every integer of the range gets a
  token, and that histogram is one noisy count per integer, made
  consistent with the range cells' counts, which the one-way marginals pool with
  theirs; zero, when common, gets a token of its own). The fine cells the noise floor
  empties get the rows their range cell holds beyond the kept fine counts, spread
  along the range cells' decay, so the quantile function follows a tail instead of a
  flat line; under public bounds the fine counts' own pooled blocks play the range
  cells' part. Each bin holds at least ``_BIN_NOISE`` deviations of rows.

A boolean column of a bool or numeric dtype keeps both its values, whatever their
noisy counts: its domain is known from the metadata and the dtype.

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
_EXTEND_FLOOR = 3.0
# A narrower neighbour toward zero is taken in unless its count is this far below zero.
_NARROW_FLOOR = 0.5


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
            data[column],
            sigma,
            threshold,
            budget.categories.get(column),
            rng,
            len(data),
            _boolean_domain(encoder, data[column]),
        )
        if state is None:  # nothing passes the threshold: the column is generated missing
            transforms[column] = ConstantTransform.describe(column, data[column].iloc[:0])
        else:
            old = transforms[column].info
            transforms[column] = CategoricalTransform(column, {**old, **state})
    encoder.tokens_ = {}
    token_counts: dict[str, np.ndarray] = {}
    for column in numeric:
        transform = transforms[column]
        values = transform.values(data[column])
        public = budget.bounds.get(column)
        if public is not None:
            low, high = _public_bounds(column, public, transform.info["datetime"])
            cells = None
        else:
            cells = _noisy_cells(values[~np.isnan(values)], sigma, rng, column, len(data))
            low, high = cells.low, cells.high
        integer = bool(transform.info.get("integer")) and not transform.info["datetime"]
        released: dict[str, np.ndarray] = {}
        tokens, low, high = _noisy_tokens(
            values,
            low,
            high,
            integer,
            encoder.n_bins,
            encoder.max_points,
            sigma,
            rng,
            cells,
            released=released,
        )
        transform.info.update(min=low, max=high, has_missing=tokens.has_missing)
        encoder.tokens_[column] = tokens
        if "counts" in released:
            token_counts[column] = released["counts"]
    return {
        **plan,
        "histograms": n_histograms,
        "noise_std": sigma,
        "category_threshold": threshold,
        # Noisy counts of every token of the integer columns: their fine histogram,
        # released already, for the one-way marginals to pool with their own counts.
        "token_counts": token_counts,
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


def _boolean_domain(encoder: Discretizer, series: pd.Series) -> list[Any]:
    """The two values a boolean column of a bool or numeric dtype can hold, else none.

    Read from the metadata and the dtype (public), not from the values: such a
    column's categories need not pass the noisy threshold. NAFLD's death status
    (147 deaths among 2,100 patients) fell under it at epsilon 1 and no synthetic
    patient died.

    Example:
        >>> from synthkit.processing.discretizer import Discretizer
        >>> frame = pd.DataFrame({"dead": [0, 1] * 20, "name": ["a", "b"] * 20})
        >>> encoder = Discretizer().fit(frame)
        >>> _boolean_domain(encoder, frame["dead"]), _boolean_domain(encoder, frame["name"])
        ([0, 1], [])
    """
    if encoder.metadata_.column(str(series.name))["kind"] != "boolean":
        return []
    if pd.api.types.is_bool_dtype(series.dtype):
        return [False, True]
    if pd.api.types.is_integer_dtype(series.dtype):
        return [0, 1]
    if pd.api.types.is_float_dtype(series.dtype):
        return [0.0, 1.0]
    return []


def _private_categories(
    series: pd.Series,
    sigma: float,
    threshold: float,
    public: list[Any] | None,
    rng: np.random.Generator,
    n_rows: int,
    domain: list[Any] = (),  # type: ignore[assignment]
) -> dict[str, Any] | None:
    """Categories and noisy counts; the pooled token always exists when the set is noisy.

    Values of a known ``domain`` (a boolean column's two) are kept whatever their
    noisy counts; other values must pass ``threshold``.
    """
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
    names = sorted(set(seen) | set(domain), key=lambda v: (v is None, str(type(v)), str(v)))
    noisy = np.array([seen.get(v, 0) for v in names], float)
    noisy = noisy + rng.normal(0.0, sigma, len(names))
    kept = [
        (v, max(n, 1.0) if v in domain else n)
        for v, n in zip(names, noisy, strict=True)
        if n > threshold or v in domain
    ]
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


@dataclass
class _Cells:
    """The released cells of a numeric column's noisy range, and how rows fill them.

    ``edges`` run from the range's low end to its high end; ``counts`` are the rows
    each cell holds (released noisy counts, or the extrapolated rows of a continued
    tail) and ``slopes`` the log-density slope (per unit of the column) inside each
    cell, read off its neighbours: rows the fine histogram leaves unplaced are spread
    inside a cell along it. ``released`` holds each cell's noisy count as released
    (NaN for a continued tail's cells): an integer column's token counts are pooled
    with it. Everything here is read from released counts.
    """

    edges: np.ndarray
    counts: np.ndarray
    slopes: np.ndarray
    released: np.ndarray

    @property
    def low(self) -> float:
        return float(self.edges[0])

    @property
    def high(self) -> float:
        return float(self.edges[-1])


def _noisy_range(
    observed: np.ndarray,
    sigma: float,
    rng: np.random.Generator,
    column: str | None = None,
    n_rows: int = 0,
) -> tuple[float, float]:
    """The noisy range of :func:`_noisy_cells`: ``low`` inclusive, ``high`` exclusive."""
    cells = _noisy_cells(observed, sigma, rng, column, n_rows)
    return cells.low, cells.high


def _noisy_cells(
    observed: np.ndarray,
    sigma: float,
    rng: np.random.Generator,
    column: str | None = None,
    n_rows: int = 0,
) -> _Cells:
    """The span of the grid cells of signed powers whose noisy counts stand above the noise.

    The range runs from the low edge of the span's first cell (inclusive) to the high
    edge of its last (exclusive). Where the counts of the span's two outermost cells
    fall outward, the fall is continued past the span (:func:`_continued`) unless
    the next cell's noisy count contradicts it: a long thin tail (Adult's ``fnlwgt``
    above 1,000,000, about a dozen rows under a noise of 67) then reaches about as
    far as the real one (1,484,705) instead of stopping at a grid edge, while a hard
    end (``hours_per_week`` at 99) stays where it is.

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
    # Cells shrink toward zero: narrower neighbours of the busy span are likely its
    # tail (Adult's 51 rows with one year of education, in [1, 2) next to [2, 5); its
    # 20 rows working one hour a week, past [2, 5) next to [5, 10)) unless their noisy
    # counts say they are empty. The one-way marginals then decide how far generated
    # values go into them, so an empty cell taken in costs little (its tokens stay
    # empty past a hard end), while a cell left out cuts real values off.
    width = np.diff(_GRID)
    empty = -_NARROW_FLOOR * sigma
    while first > 0 and width[first - 1] < width[first] and noisy[first - 1] > empty:
        first -= 1
    while last < len(noisy) - 1 and width[last + 1] < width[last] and noisy[last + 1] > empty:
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
    edges = _GRID[first : last + 2].astype(float)
    # A cell's rows count only when they stand above the noise: clamped at zero, the
    # many near-empty cells next to zero would each add a third of a deviation of rows.
    inside = noisy[first : last + 1]
    rows = np.where(inside > _EXTEND_FLOOR * sigma, inside, 0.0)
    slopes = np.full(len(rows), np.nan)
    released = inside.astype(float)
    if not weak:
        above = _continued(edges[-3:], rows[-2:], _GRID, last + 1, noisy, sigma)
        below = _continued(
            -edges[:3][::-1], rows[:2][::-1], -_GRID[::-1], len(noisy) - first, noisy[::-1], sigma
        )
        if above is not None:
            end, mass, slope = above
            edges, rows, slopes = (
                np.append(edges, end),
                np.append(rows, mass),
                np.append(slopes, slope),
            )
            released = np.append(released, np.nan)
        if below is not None:
            end, mass, slope = below
            edges, rows = np.insert(edges, 0, -end), np.insert(rows, 0, mass)
            slopes = np.insert(slopes, 0, -slope)
            released = np.insert(released, 0, np.nan)
    return _Cells(edges, rows, _fill_slopes(edges, rows, slopes), released)


# A continued tail ends where the rows it would still hold beyond fall to this many.
_TAIL_END = 0.5
# It is only continued when it holds at least this many rows beyond the span ...
_TAIL_ROWS = 2.0
# ... and the next cell's noisy count is no more than this many deviations below it.
_TAIL_CONTRADICTED = 1.5


def _continued(
    edges: np.ndarray,
    rows: np.ndarray,
    grid: np.ndarray,
    nxt: int,
    noisy: np.ndarray,
    sigma: float,
) -> tuple[float, float, float] | None:
    """Continue the decay of the span's two outermost cells past its end.

    Coordinates run outward (the low end passes them negated). The grid's cells
    grow by steps of 2 and 2.5, and a tail's rows fall by a like ratio from cell to
    cell: the next cell (index ``nxt`` of the grid) gets the outer cell's rows times
    their ratio to the inner cell's (Adult's ``fnlwgt``: 12,016 rows in [200,000,
    500,000), 372 in [500,000, 1,000,000), so about 12 in [1,000,000, 2,000,000);
    13 in fact). Inside it the density falls log-linearly, on from the outer cell's
    middle. Returns the end of the continued tail (where the rows it would still
    hold fall to ``_TAIL_END``, at most the next cell's far edge), its rows and its
    log-density slope; or None when the counts do not fall, the tail would hold
    fewer than ``_TAIL_ROWS`` rows, or the next cell's noisy count lies more than
    ``_TAIL_CONTRADICTED`` deviations below what the tail puts there: a hard end.
    """
    if len(rows) < 2 or nxt >= len(noisy) or not (rows > 0).all() or not rows[1] < rows[0]:
        return None
    widths = np.diff(edges)
    outer = rows[1] / widths[1]
    middle = edges[1] + widths[1] / 2
    far = float(grid[nxt + 1]) - float(edges[-1])
    inside = rows[1] * rows[1] / rows[0]
    ahead = inside / far
    if not ahead < outer:
        return None
    rate = math.log(outer / ahead) / (edges[-1] + far / 2 - middle)
    beyond = inside / (1.0 - math.exp(-rate * far))
    if beyond < _TAIL_ROWS:
        return None
    if noisy[nxt] < inside - _TAIL_CONTRADICTED * sigma:
        return None
    length = min(math.log(beyond / _TAIL_END) / rate, far)
    held = beyond * (1.0 - math.exp(-rate * length))
    return float(edges[-1]) + length, held, -rate


def _fill_slopes(edges: np.ndarray, rows: np.ndarray, slopes: np.ndarray) -> np.ndarray:
    """Log-density slopes of the cells without one, from their neighbours' densities."""
    widths = np.diff(edges)
    middles = edges[:-1] + widths / 2
    with np.errstate(divide="ignore"):
        log_density = np.log(rows / widths)
    out = slopes.copy()
    for j in range(len(rows)):
        if not np.isnan(out[j]):
            continue
        around = [k for k in (j - 1, j, j + 1) if 0 <= k < len(rows) and rows[k] > 0]
        left, right = (around[0], around[-1]) if around else (j, j)
        slope = 0.0
        if right > left:
            slope = (log_density[right] - log_density[left]) / (middles[right] - middles[left])
        # No more than a factor e**8 across one cell: a neighbour's noise stays local.
        out[j] = float(np.clip(slope, -8.0 / widths[j], 8.0 / widths[j]))
    return out


# Sub-cells of the fine histogram's cells in which rows the noise floor emptied are
# spread, and the levels of the quantile function read off them.
_SUB_CELLS = 16
_LEVELS = 1024
# A bin holds at least this many noise deviations of rows.
_BIN_NOISE = 8.0


def _noisy_tokens(
    values: np.ndarray,
    low: float,
    high: float,
    integer: bool,
    n_bins: int,
    max_points: int,
    sigma: float,
    rng: np.random.Generator,
    cells: _Cells | None = None,
    released: dict[str, np.ndarray] | None = None,
) -> tuple[NumericTokens, float, float]:
    """Tokens of one numeric column from a noisy histogram inside ``[low, high]``.

    ``cells`` are the noisy range's released cells (None for public bounds, which
    are closed at both ends); a noisy range is half-open, so an integer column's
    tokens stop below ``high``. An integer column whose every integer is a token
    spends its fine histogram on one noisy count per token (values beyond the
    range counted at its ends, as they are encoded; then the missing count), made
    consistent with the range cells' released counts (:func:`_consistent`), put
    in ``released["counts"]``.
    """
    from synthkit.processing.discretizer import NumericTokens

    missing = np.isnan(values)
    observed = np.clip(values[~missing], low, high)
    noisy_missing = missing.sum() + rng.normal(0.0, sigma)
    has_missing = bool(noisy_missing > _NOISE_FLOOR * sigma)
    top = math.floor(high) if cells is None else math.ceil(high) - 1
    bottom = math.floor(low) if cells is None else math.ceil(low)
    # Every integer gets a token only where each holds, on average, rows well above the
    # noise (public figures: the row count, the noise, the range); else the noise swamps
    # their counts and quantile bins describe the column.
    span = top - bottom + 1
    if integer and span <= max_points and len(values) >= _ROWS_PER_CELL * sigma * span:
        grid = np.arange(bottom, max(top, bottom) + 1, dtype=float)
        # Every integer of the noisy range gets a token (the fine histogram, budgeted
        # before the range was known, is not needed): the grid depends only on the
        # range, and keeping only integers whose noisy count beat the noise moved
        # every age over 56 of Adult to 56 at epsilon 1. How often each is drawn is
        # learned (and, under DP, held to the released marginals). The range's cells
        # are half-open: [50, 100) holds no 100 hours a week.
        tokens = NumericTokens(grid.tolist(), [], 0, has_missing)
        if released is not None:
            at = np.clip(np.round(observed), grid[0], grid[-1]) - grid[0]
            counts = np.bincount(at.astype(np.int64), minlength=len(grid)).astype(float)
            noisy = counts + rng.normal(0.0, sigma, len(grid))
            if cells is not None:
                noisy = _consistent(noisy, grid, cells)
            released["counts"] = np.append(noisy, noisy_missing) if has_missing else noisy
        return tokens, float(grid[0]), float(grid[-1])
    # Zero is a data-independent candidate spike (amounts that are mostly zero).
    zero = low <= 0.0 <= high
    at_zero = observed == 0.0 if zero else np.zeros(len(observed), bool)
    n_cells = _fine_cells(len(values), sigma)
    edges = np.linspace(low, high, n_cells + 1)
    # Values beyond the range are left out rather than clipped in: clipped, they pile
    # up in the end cell and draw bins there (capital gains of 99,999 at 10,000).
    inner = observed[~at_zero & (values[~missing] >= low) & (values[~missing] <= high)]
    counts = np.histogram(inner, bins=edges)[0]
    raw = counts + rng.normal(0.0, sigma, n_cells)
    noisy = np.where(raw > _NOISE_FLOOR * sigma, raw, 0.0)
    points: list[float] = []
    noisy_zero = 0.0
    if zero:
        noisy_zero = at_zero.sum() + rng.normal(0.0, sigma)
        total = noisy.sum() + max(noisy_zero, 0.0)
        if noisy_zero > max(_NOISE_FLOOR * sigma, total / n_bins):
            points = [0.0]
    if cells is None:  # public bounds: the fine counts (zero's rows left out), pooled
        mass = _fine_mass(edges, noisy, _pooled_cells(edges, raw, sigma), 0.0)
    else:  # the range's cells hold zero's rows: a zero token takes them out
        mass = _fine_mass(edges, noisy, cells, max(noisy_zero, 0.0) if points else 0.0)
    sub_edges = np.linspace(low, high, n_cells * _SUB_CELLS + 1)
    cdf = np.concatenate([[0.0], np.cumsum(mass)]) / mass.sum()
    knots = np.interp(np.linspace(0.0, 1.0, _LEVELS + 1), cdf, sub_edges)
    # Each bin should hold rows well above the noise: its share of the released
    # marginals is otherwise noise, and bins thinner than the noise in a column's tail
    # are cut off. Adult's fnlwgt keeps 60 bins at epsilon 1; its 1,519 non-zero
    # capital losses get 3, their shape inside the bins following the knots.
    held = float(mass.sum())
    bins = max(1, min(n_bins, _FINE_CELLS // 4, int(held / (_BIN_NOISE * sigma))))
    return NumericTokens(points, knots.tolist(), bins, has_missing), float(low), float(high)


# The fine histogram gets about one cell per this many noise deviations of rows.
_ROWS_PER_CELL = 4.0
_FEWEST_CELLS = 4


def _fine_cells(n_rows: int, sigma: float) -> int:
    """Cells of a numeric column's fine histogram: at most 256, fewer under more noise.

    Read from public figures only (the row count and the noise). A power of two near
    ``n_rows / (4 sigma)``: the equal cells of a range hold well under ``n_rows /
    cells`` rows where the column is thin, so finer cells would leave most of them
    under the noise floor. On 2,100 NAFLD patients (weight, height, age, follow-up),
    the drawn values' distance from the real ones (Kolmogorov-Smirnov, three seeds)
    at noise deviations of 10, 30 and 63 rows went, with 256 cells against these,
    from 0.07, 0.21 and 0.25 to 0.03, 0.06 and 0.08 in noisy ranges, and from 0.07,
    0.22 and 0.57 to 0.04, 0.06 and 0.09 in public bounds. On Adult (32,561 rows, a
    deviation of 67) ``fnlwgt``'s quantiles keep their tail with 64.

    Example:
        >>> _fine_cells(32_561, 67.0), _fine_cells(2_100, 63.0), _fine_cells(10**7, 1.0)
        (64, 8, 256)
    """
    cells = n_rows / (_ROWS_PER_CELL * sigma)
    return int(min(_FINE_CELLS, max(_FEWEST_CELLS, 2 ** math.floor(math.log2(max(cells, 1.0))))))


# A block of fine cells is split in halves while both halves' noisy sums stand this
# many of their noise deviations above zero, or differ by this many deviations of
# their difference; a block's rows count only above this many deviations.
_POOL_DEVIATIONS = 3.0


def _pooled_cells(edges: np.ndarray, raw: np.ndarray, sigma: float) -> _Cells:
    """Cells of a public range read off the fine histogram at the resolution its noise allows.

    The fine histogram's noisy counts are summed over halving blocks (a post-processing
    of the one release, spending nothing): a block is split while its halves stand
    clearly above the noise or clearly apart, so the bulk of a column is described
    cell by cell where its counts are large and by a few wide blocks where they are
    not. Without this, the rows of every fine cell under the noise floor were spread
    evenly over the public range: 2,100 NAFLD patients with weights bounded to
    (30, 250) kg at a noise of 63 rows per cell kept no cell, and the weights came out
    uniform over the bounds.

    Example:
        >>> edges = np.linspace(0.0, 100.0, 9)
        >>> raw = np.array([0.0, 0.0, 400.0, 900.0, 500.0, 0.0, 0.0, 0.0])
        >>> _pooled_cells(edges, raw, 10.0).edges.tolist()
        [0.0, 25.0, 37.5, 50.0, 62.5, 75.0, 100.0]
    """
    prefix = np.concatenate([[0.0], np.cumsum(raw)])
    blocks: list[tuple[int, int]] = []
    pending = [(0, len(raw))]
    while pending:
        start, stop = pending.pop()
        if stop - start >= 2:
            middle = (start + stop) // 2
            left, right = prefix[middle] - prefix[start], prefix[stop] - prefix[middle]
            deviation = sigma * math.sqrt((stop - start) / 2)
            both = min(left, right) > _POOL_DEVIATIONS * deviation
            apart = abs(left - right) > _POOL_DEVIATIONS * deviation * math.sqrt(2.0)
            if both or apart:
                pending += [(middle, stop), (start, middle)]
                continue
        blocks.append((start, stop))
    blocks.sort()
    cut = np.array([start for start, _ in blocks] + [len(raw)])
    sums = np.array([prefix[stop] - prefix[start] for start, stop in blocks])
    floor = _POOL_DEVIATIONS * sigma * np.sqrt(np.diff(cut))
    rows = np.where(sums > floor, sums, 0.0)
    cell_edges = edges[cut].astype(float)
    slopes = np.full(len(rows), np.nan)
    released = np.full(len(rows), np.nan)
    return _Cells(cell_edges, rows, _fill_slopes(cell_edges, rows, slopes), released)


def _consistent(noisy: np.ndarray, grid: np.ndarray, cells: _Cells) -> np.ndarray:
    """Integer counts made to agree with the range cells' released counts (least squares).

    A range cell's noisy count and the noisy counts of the ``k`` integers it holds
    measure the same rows with the same noise deviation, so the integers take an even
    share of the difference, ``(cell - sum) / (k + 1)``: the least-squares estimate
    of both releases (post-processing). An integer alone in its cell (``[1, 2)``:
    Adult's 51 rows with one year of education, the low end of the column) gets its
    noise variance halved, so an end value a few deviations above the noise is less
    often read as empty and cut off; wider cells gain less. The continued tail's
    cells hold no released count and are left as they are.
    """
    out = noisy.copy()
    owner = np.searchsorted(cells.edges, grid, side="right") - 1
    for j, count in enumerate(cells.released):
        inside = owner == j
        if np.isnan(count) or not inside.any():
            continue
        out[inside] += (count - float(noisy[inside].sum())) / (int(inside.sum()) + 1)
    return out


def _fine_mass(edges: np.ndarray, kept: np.ndarray, cells: _Cells, at_zero: float) -> np.ndarray:
    """Rows per sub-cell of the fine histogram: what it kept, plus the rows it missed.

    The fine cells whose noisy counts stand above the noise keep them (spread evenly
    over their sub-cells). The rows the noise floor emptied (a decaying tail of a few
    rows per cell: Adult's ``fnlwgt`` above 350,000) are placed from the coarser
    ``cells`` (a noisy range's released cells, or under public bounds the fine
    counts' own pooled blocks, :func:`_pooled_cells`): each cell's rows beyond what
    its kept fine cells hold are spread over its emptied sub-cells along the cell's
    log-density slope, so a tail keeps decaying instead of stopping where the fine
    counts sink under the noise or being spread evenly to the end of the range.
    ``at_zero`` rows are a token of their own and are taken out of the cell holding
    zero. Only released counts are read.
    """
    n_sub = _SUB_CELLS
    fine = np.repeat(kept / n_sub, n_sub)
    sub_edges = np.linspace(edges[0], edges[-1], len(fine) + 1)
    middles = (sub_edges[:-1] + sub_edges[1:]) / 2
    emptied = np.repeat(kept <= 0, n_sub)
    extra = np.zeros_like(fine)
    owner = np.clip(
        np.searchsorted(cells.edges, middles, side="right") - 1, 0, len(cells.counts) - 1
    )
    for j, rows in enumerate(cells.counts):
        inside = owner == j
        if not inside.any():
            continue
        if cells.edges[j] <= 0.0 < cells.edges[j + 1]:
            rows = rows - at_zero
        missed = rows - float(fine[inside].sum())
        if missed <= 0:
            continue
        where = inside & emptied
        if not where.any():
            where = inside
        middle = (cells.edges[j] + cells.edges[j + 1]) / 2
        weight = np.exp(cells.slopes[j] * (middles[where] - middle))
        extra[where] = missed * weight / weight.sum()
    mass = fine + extra
    # A trace of even mass keeps the cumulative mass strictly rising.
    return mass + max(float(mass.sum()), 1.0) * 1e-6 / len(mass)
