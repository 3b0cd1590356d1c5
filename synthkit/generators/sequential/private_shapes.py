"""One DP release of what a private fit's events look like: lengths and column shapes.

Before DP-SGD a private sequence fit releases, in one Gaussian mechanism:

* a histogram of history lengths (each entity adds one count: its length);
* per learned event column, a weighted histogram in which each entity spreads a
  weight of at most one over up to :data:`EVENTS_PER_ENTITY` of its events (each
  drawn at random, weight ``1 / EVENTS_PER_ENTITY`` each; the index's start reads
  only the first event, with weight one).

* per pair of a *key* (the first categorical event column, of at most
  :data:`KEY_TOKENS` tokens) and a learned column after it (the index's start and
  gap aside), a weighted two-way histogram of their tokens, each entity again
  spreading a weight of at most one, over one event per key token (up to
  :data:`EVENTS_PER_ENTITY` events)
  (NAFLD's lab value by its test: DP-SGD's noisy steps alone left every test's
  values at the pooled ones, a median smoking status of 51 and fib4 of 51).

Each histogram moves by at most one (in L1, hence in L2) when an entity is added
or removed, so ``K`` of them have an L2 sensitivity of ``sqrt(K)``; the plan's
accountant composes the release with the encoder's histograms and the DP-SGD
steps. What follows is post-processing: numeric columns get their quantile knots
from it (on a geometric grid for columns that start at zero or above, such as the
gaps between events, whose values span orders of magnitude), every head starts
from its token shares, the history lengths give the longest history sampled
and the target the stop head is calibrated to after training, and the two-way
histograms the shares each key token's columns are calibrated to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synthkit.privacy.accounting import noise_for_epsilon

if TYPE_CHECKING:
    from synthkit.processing.discretizer import Discretizer

__all__ = [
    "EVENTS_PER_ENTITY",
    "KEY_TOKENS",
    "EventShapes",
    "conditioned_pairs",
    "length_edges",
    "release_event_shapes",
]

#: Events of one entity the column histograms read at most (a stated contribution
#: bound: longer histories give a random 16 of their events).
EVENTS_PER_ENTITY = 16
#: The most tokens a key column may have: its two-way histograms hold this many rows.
KEY_TOKENS = 16
# Cells of a numeric column's grid, the smallest cell of a geometric grid as a share
# of its range, and the share of a column's mass spread evenly over its busy cells
# (so the quantile function strictly rises where the noise emptied a cell).
_GRID_CELLS = 24
_LOG_FLOOR = 1e-4
_EVEN_SHARE = 0.05
# The running sums that end a column's span, in deviations of their noise: looser at
# the low end (noise there adds a few small values) than at the high end (noise
# there adds outliers, and the gaps' outliers stretch every later time).
_TRIM_LOW, _TRIM_HIGH = 1.0, 2.0
# The longest history the length histogram tells apart; longer ones count at it.
_LENGTH_CAP = 100_000
# The longest sampled history ends the first cell of the highest run of up to four length
# cells whose sum stands this many deviations of its noise out (noise alone, over
# the fifty-odd cells, passes it in about one fit in fifty).
_LENGTH_FLOOR = 3.5
_LENGTH_RUN = 4
_LEVELS = 256
# A two-way histogram's cells count only above this many noise deviations.
_PAIR_NOISE_FLOOR = 2.0
# A paired column's bins each hold at least this many noise deviations of its mass.
_PAIRED_BIN_NOISE = 8.0


def length_edges(cap: int = _LENGTH_CAP) -> np.ndarray:
    """Edges of the length histogram's cells: one per length up to 16, then 25 % wider each.

    Example:
        >>> length_edges()[:20].tolist()
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 25, 32]
    """
    edges = list(range(17))
    while edges[-1] < cap:
        edges.append(max(edges[-1] + 1, math.ceil(edges[-1] * 1.25)))
    return np.asarray(edges, dtype=np.int64)


@dataclass
class EventShapes:
    """What the release said, after post-processing.

    Attributes:
        noise_multiplier: The mechanism's noise over its L2 sensitivity.
        histograms: How many histograms it released (the sensitivity is their root).
        length_counts: Noisy counts of entities per :func:`length_edges` cell, zero
            outside the span of cells well above the noise.
        shares: Per learned event column, the share of each of its tokens.
        first: The column of an entity's first time (the index's start), if any.
        later: The column of the gaps after it, if any.
        pairs: Per ``(key, column)`` of :func:`conditioned_pairs`, the two-way
            histogram's noisy counts ``[key tokens, column tokens]``, those under
            two noise deviations read as zero.
    """

    noise_multiplier: float
    histograms: int
    length_counts: np.ndarray
    shares: dict[str, np.ndarray]
    first: str | None = None
    later: str | None = None
    pairs: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    def max_length(self) -> int:
        """The longest history to sample: the top of the highest length cell above the noise.

        Example:
            >>> counts = np.zeros(len(length_edges()) - 1)
            >>> counts[[3, 18]] = 50.0
            >>> EventShapes(1.0, 1, counts, {}).max_length()
            31
        """
        busy = np.flatnonzero(self.length_counts > 0)
        if len(busy) == 0:
            return 1
        return int(length_edges()[busy[-1] + 1] - 1)

    def log_length_mean(self) -> float:
        """Mean of ``log(1 + length)`` over entities, from the cells' midpoints.

        The logarithm keeps the target steady where the noise shows most: in the
        sparse cells of long histories.
        """
        edges = length_edges()
        middle = np.log1p(0.5 * (edges[:-1] + edges[1:] - 1))
        total = self.length_counts.sum()
        return float((self.length_counts * middle).sum() / total) if total > 0 else 0.0

    def stop_rate(self) -> float:
        """The share of an entity's later positions that end its history."""
        edges = length_edges()
        middle = 0.5 * (edges[:-1] + edges[1:] - 1)
        entities = self.length_counts[1:].sum()
        positions = (self.length_counts * middle).sum()
        return float(min(max(entities / positions, 1e-4), 0.5)) if positions > 0 else 0.5


def release_event_shapes(
    encoder: Discretizer,
    frame: pd.DataFrame,
    lengths: np.ndarray,
    epsilon: float,
    delta: float,
    seed: int,
    first: str | None = None,
    later: str | None = None,
) -> EventShapes:
    """Release the lengths and column histograms, and rebuild numeric columns' knots.

    Args:
        encoder: The fitted private event encoder (its categories, ranges and points
            came from its own noisy histograms); numeric columns with quantile bins
            get new knots in place.
        frame: The learned event columns, rows grouped by entity in order.
        lengths: Events per entity (0 for entities without events).
        epsilon: What this release would spend alone (its noise is set from it).
        delta: The delta that epsilon is accounted at.
        seed: Seed of the draws and the noise.
        first: The column set only at an entity's first event (the index's start).
        later: The column set only after it (the gap).

    Returns:
        The post-processed release.
    """
    columns = list(encoder.learned_columns)
    pairs = conditioned_pairs(encoder, first, later)
    n_histograms = len(columns) + 1 + len(pairs)
    multiplier = noise_for_epsilon(epsilon, delta, 1.0, 1)
    sigma = multiplier * math.sqrt(n_histograms)
    rng = np.random.default_rng(seed + 11)
    edges = length_edges()
    counts = np.histogram(np.minimum(lengths, edges[-1] - 1), bins=edges)[0].astype(float)
    noisy_lengths = counts + rng.normal(0.0, sigma, len(counts))
    length_counts = np.clip(noisy_lengths, 0.0, None)
    length_counts[_top_cell(noisy_lengths, sigma) + 1 :] = 0.0
    codes = np.repeat(np.arange(len(lengths)), lengths)
    positions = np.arange(len(frame)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    shares = {}
    for column in columns:
        if column == first:
            rows, weight = np.flatnonzero(positions == 0), 1.0
        else:
            defined = positions > 0 if column == later else np.ones(len(frame), bool)
            rows = _picked(codes, defined, rng, EVENTS_PER_ENTITY)
            weight = 1.0 / EVENTS_PER_ENTITY
        paired = any(column == c for _, c in pairs)
        values = frame[column].iloc[rows]
        shares[column] = _column_shares(encoder, values, weight, sigma, rng, paired)
    # After the shares: a binned column's tokens read the knots they rebuilt.
    two_way = {}
    for key, column in pairs:
        keys = _codes(encoder, frame[key], rng)
        rows, weights = _one_per_key(codes, keys, rng, EVENTS_PER_ENTITY)
        size = encoder.vocab_sizes[columns.index(column)]
        cells = keys[rows] * size + _codes(encoder, frame[column].iloc[rows], rng)
        n_keys = encoder.vocab_sizes[columns.index(key)]
        counts = np.bincount(cells, weights, minlength=n_keys * size)[: n_keys * size]
        noisy = counts + rng.normal(0.0, sigma, len(counts))
        # Cells under the noise floor are read as empty: clipped at zero, a row's many
        # empty cells would each keep a third of a deviation, much of a rare key's row.
        kept = np.where(noisy > _PAIR_NOISE_FLOOR * sigma, noisy, 0.0)
        two_way[(key, column)] = kept.reshape(n_keys, size)
    return EventShapes(multiplier, n_histograms, length_counts, shares, first, later, two_way)


def conditioned_pairs(
    encoder: Discretizer, first: str | None = None, later: str | None = None
) -> list[tuple[str, str]]:
    """The ``(key, column)`` pairs whose two-way histograms a private fit releases.

    The key is the first learned categorical column of at most :data:`KEY_TOKENS`
    tokens (chosen from the encoder's layout, which reads no value); it pairs with
    every learned column after it in head order but the index's start and gap.

    Example:
        >>> import pandas as pd
        >>> from synthkit.processing.discretizer import Discretizer
        >>> frame = pd.DataFrame({"test": ["a", "b"] * 50, "value": range(100)})
        >>> conditioned_pairs(Discretizer().fit(frame))
        [('test', 'value')]
    """
    columns = list(encoder.learned_columns)
    for i, key in enumerate(columns):
        categorical = key not in encoder.tokens_ and key not in (first, later)
        if categorical and encoder.vocab_sizes[i] <= KEY_TOKENS:
            return [(key, c) for c in columns[i + 1 :] if c not in (first, later)]
    return []


def _one_per_key(
    codes: np.ndarray, keys: np.ndarray, rng: np.random.Generator, cap: int
) -> tuple[np.ndarray, np.ndarray]:
    """One random event per entity and key token (up to ``cap`` per entity), and weights.

    Each entity's picked events share a weight of one, so the two-way histogram
    moves by at most one when an entity is added or removed. Picking by key gives
    a rare key (NAFLD's fib4, about 3 % of lab tests) a row of its own patients'
    weight rather than its share of their events, and the row's shares stay those
    of the key's events.

    Example:
        >>> codes, keys = np.array([0, 0, 0, 0, 1]), np.array([0, 0, 0, 1, 0])
        >>> rows, weights = _one_per_key(codes, keys, np.random.default_rng(0), cap=16)
        >>> keys[rows].tolist(), codes[rows].tolist(), weights.tolist()
        ([0, 1, 0], [0, 0, 1], [0.5, 0.5, 1.0])
    """
    order = np.lexsort((rng.random(len(codes)), keys, codes))
    first = np.r_[True, (np.diff(codes[order]) != 0) | (np.diff(keys[order]) != 0)]
    rows = order[first]
    rows = rows[np.argsort(codes[rows], kind="stable")]
    picked = _picked(codes[rows], np.ones(len(rows), bool), rng, cap)
    rows = rows[picked]
    per_entity = np.bincount(codes[rows])
    return rows, 1.0 / per_entity[codes[rows]]


def _codes(encoder: Discretizer, values: pd.Series, rng: np.random.Generator) -> np.ndarray:
    """The tokens of one learned column's values, as the encoder gives them."""
    column = str(values.name)
    transform = encoder.transforms_[column]
    tokens = encoder.tokens_.get(column)
    if tokens is None:
        return np.asarray(transform.codes(values), np.int64)
    return np.asarray(tokens.encode(transform.values(values), rng), np.int64)


def _picked(codes: np.ndarray, mask: np.ndarray, rng: np.random.Generator, cap: int) -> np.ndarray:
    """Rows of up to ``cap`` events drawn at random from each entity's ``mask`` rows.

    Example:
        >>> codes = np.array([0, 0, 0, 1, 1])
        >>> picked = _picked(codes, np.ones(5, bool), np.random.default_rng(0), cap=2)
        >>> np.bincount(codes[picked]).tolist()
        [2, 2]
    """
    rows = np.flatnonzero(mask)
    order = np.lexsort((rng.random(len(rows)), codes[rows]))
    rows = rows[order]
    owner = codes[rows]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    return np.sort(rows[rank < cap])


def _column_shares(
    encoder: Discretizer,
    values: pd.Series,
    weight: float,
    sigma: float,
    rng: np.random.Generator,
    paired: bool = False,
) -> np.ndarray:
    """One column's noisy weighted histogram, as token shares (and new knots if binned).

    A binned column that a key's two-way histogram reads (``paired``) gets as many
    bins as its released mass holds ``_PAIRED_BIN_NOISE`` noise deviations, up to
    the encoder's ``n_bins``, and never fewer than it had: the two-way histogram
    then tells the key's values apart inside what one coarse bin pooled (NAFLD's
    smoking status and fib4 both fell in a lowest lab value bin of 0 to 40).
    """
    column = str(values.name)
    transform = encoder.transforms_[column]
    tokens = encoder.tokens_.get(column)
    size = encoder.vocab_sizes[encoder.learned_columns.index(column)]
    if tokens is None or tokens.n_bins == 0:
        counts = np.bincount(_codes(encoder, values, rng), minlength=size)[:size] * weight
        noisy = counts + rng.normal(0.0, sigma, size)
        return _floored(np.clip(noisy, 0.0, None))
    x = transform.values(values)
    missing = np.isnan(x)
    at_point = np.isin(x, tokens.points) & ~missing
    point_counts = np.array([(x[at_point] == p).sum() for p in tokens.points]) * weight
    low, high = float(transform.info["min"]), float(transform.info["max"])
    grid = _grid(low, high)
    inner = x[~missing & ~at_point]
    grid_counts = np.histogram(np.clip(inner, low, high), bins=grid)[0] * weight
    noisy_points = point_counts + rng.normal(0.0, sigma, len(point_counts))
    noisy_grid = grid_counts + rng.normal(0.0, sigma, len(grid_counts))
    noisy_missing = missing.sum() * weight + rng.normal(0.0, sigma)
    mass = _trimmed(noisy_grid, sigma)
    busy = mass > 0
    mass = mass / max(mass.sum(), 1e-12) + _EVEN_SHARE * busy / busy.sum()
    cdf = np.concatenate([[0.0], np.cumsum(mass)]) / mass.sum()
    knots = np.interp(np.linspace(0.0, 1.0, _LEVELS + 1), cdf, grid)
    from synthkit.processing.discretizer import NumericTokens

    # The plain sum: clipping each cell first would add every empty cell's noise.
    binned = max(float(noisy_grid.sum()), 0.0)
    bins = tokens.n_bins
    if paired:
        bins = max(bins, min(encoder.n_bins, int(binned / (_PAIRED_BIN_NOISE * sigma))))
    encoder.tokens_[column] = NumericTokens(
        tokens.points.tolist(), knots.tolist(), bins, tokens.has_missing
    )
    parts = [np.clip(noisy_points, 0.0, None), np.full(bins, binned / bins)]
    if tokens.has_missing:
        parts.append(np.array([max(noisy_missing, 0.0)]))
    return _floored(np.concatenate(parts))


def _grid(low: float, high: float) -> np.ndarray:
    """Cell edges over ``[low, high]``: geometric from a floor when ``low >= 0``, else even.

    Example:
        >>> edges = _grid(0.0, 10_000.0)
        >>> float(edges[0]), round(float(edges[1]), 2), float(edges[-1]), len(edges)
        (0.0, 1.0, 10000.0, 25)
    """
    if low >= 0.0 and high > 0.0:
        floor = max(low, high * _LOG_FLOOR)
        inner = np.geomspace(floor, high, _GRID_CELLS if low < floor else _GRID_CELLS + 1)
        return np.concatenate([[low], inner]) if low < floor else inner
    return np.linspace(low, high, _GRID_CELLS + 1)


def _top_cell(noisy: np.ndarray, sigma: float) -> int:
    """The highest cell starting a run of up to ``_LENGTH_RUN`` cells that stands out of the noise.

    A sparse tail (a few dozen long histories spread over neighbouring cells) is
    found by the runs' sums, where each cell alone stays below the noise.

    Example:
        >>> _top_cell(np.array([90.0, 40.0, 3.0, 3.0, 3.0, 0.5, -1.0, 1.0]), sigma=1.0)
        3
    """
    top = int(np.argmax(noisy))
    for width in range(1, _LENGTH_RUN + 1):
        sums = np.convolve(noisy, np.ones(width), mode="valid")
        above = np.flatnonzero(sums > _LENGTH_FLOOR * sigma * math.sqrt(width))
        if len(above):
            # The run's first cell: its last may be an empty one the run carried.
            top = max(top, int(above[-1]))
    return top


def _trimmed(
    noisy: np.ndarray, sigma: float, low: float = _TRIM_LOW, high: float = _TRIM_HIGH
) -> np.ndarray:
    """Clipped noisy counts, zero beyond where the mass summed from each end stands out.

    From each end, cells are cut up to the one where the running sum of noisy
    counts first exceeds ``low`` (from the low end) or ``high`` (from the high
    end) deviations of its noise (which grows as
    the root of the cells summed): a tail spread thin over many cells, each below
    the noise, still ends the span near where it thins out, while noise alone
    rarely passes. With no cell standing out the largest is kept.

    Example:
        >>> noisy = np.array([1.0, -2.0, 3.0, 3.0, 3.0, 40.0, 2.0, -1.0])
        >>> _trimmed(noisy, sigma=1.0).tolist()
        [0.0, 0.0, 3.0, 3.0, 3.0, 40.0, 0.0, 0.0]
    """

    def first_standing(counts: np.ndarray, deviations: float) -> int:
        floor = deviations * sigma * np.sqrt(np.arange(1, len(counts) + 1))
        above = np.flatnonzero(np.cumsum(counts) > floor)
        return int(above[0]) if len(above) else -1

    start, top = first_standing(noisy, low), first_standing(noisy[::-1], high)
    kept = np.zeros(len(noisy))
    if start < 0 or top < 0 or start > len(noisy) - 1 - top:
        kept[int(np.argmax(noisy))] = max(float(noisy.max()), 1.0)
        return kept
    end = len(noisy) - top
    kept[start:end] = np.clip(noisy[start:end], 0.0, None)
    return kept


def _floored(counts: np.ndarray) -> np.ndarray:
    """Shares from clipped noisy counts, none below a thousandth of an even share."""
    total = counts.sum()
    shares = counts / total if total > 0 else np.full(len(counts), 1.0 / len(counts))
    shares = np.maximum(shares, 1e-3 / len(counts))
    return shares / shares.sum()
