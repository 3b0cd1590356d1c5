"""Mixed-type row encoding and chunked nearest-neighbour search (Gower-like L1, Euclidean).

Numbers (and datetimes) are scaled by the range of the training rows; a missing
number gets its own indicator. Categories become one-hot vectors, so the number
of mismatched categories between two rows is ``n_categorical - onehot_a @
onehot_b.T``: a matrix product, which keeps the search on BLAS (or the GPU).

:func:`nearest_l1` and :func:`nearest_l2` are exact: both sides are cut into
chunks (query chunk x reference chunk), each block keeps its ``k`` smallest
distances, and a running top-``k`` per query row merges them, so memory is
bounded by ``memory_budget`` whatever the number of rows, and no candidate is
ever skipped (an approximate index would overstate distances and so understate
privacy risk). The blocks run with torch on ``device`` (``"auto"``: CUDA when
present). No Python loop runs over rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from synthkit._runtime import resolve_device
from synthkit.errors import EvaluationError, ParameterError
from synthkit.evaluation.grouped_search import grouped_nearest_l1

__all__ = [
    "MEMORY_BUDGET",
    "Encoded",
    "MixedEncoder",
    "chunk_sizes",
    "iter_l1_blocks",
    "nearest_l1",
    "nearest_l2",
]

#: Most one-hot levels per categorical column; rarer levels share one "other" level.
MAX_LEVELS = 256
_OTHER = "\x00<other>"

# Entries of one distance block (query chunk x reference rows): 32M floats = 128 MB.
_BLOCK_ENTRIES = 32_000_000
#: Default bytes the distance blocks of one search may hold at once (about 3 copies
#: of a query-chunk x reference-chunk float32 block: the distances, cdist's and
#: top-k's work space).
MEMORY_BUDGET = 256 * 2**20
# Reference rows per chunk: wide enough for BLAS, small enough that queries chunk well.
_REFERENCE_CHUNK = 32_768
# Below this many row pairs the brute force is quick and "auto" keeps it.
_GROUPED_FROM_PAIRS = 10_000_000


@dataclass(frozen=True)
class Encoded:
    """Rows encoded for distance computations.

    Attributes:
        numbers: ``(n, p)`` float32 scaled numbers followed by missing indicators.
        onehot: ``(n, q)`` float32 one-hot categories (all levels of all columns).
        codes: ``(n, c)`` int64 category codes per categorical column.
        number_columns: For each column of ``numbers``, the source column name.
        onehot_columns: For each column of ``onehot``, the source column name.
    """

    numbers: torch.Tensor
    onehot: torch.Tensor
    codes: np.ndarray
    number_columns: tuple[str, ...]
    onehot_columns: tuple[str, ...]

    def __len__(self) -> int:
        return self.numbers.shape[0]

    def take(self, rows: np.ndarray) -> Encoded:
        """Return the encoded rows at positions ``rows``."""
        index = torch.as_tensor(rows, dtype=torch.long)
        return Encoded(
            self.numbers[index],
            self.onehot[index],
            self.codes[rows],
            self.number_columns,
            self.onehot_columns,
        )

    def feature_weights(self, columns: Sequence[str]) -> torch.Tensor:
        """Weights for :func:`nearest_l1` that keep only the features of ``columns``."""
        keep = set(columns)
        names = self.number_columns + self.onehot_columns
        return torch.tensor([1.0 if name in keep else 0.0 for name in names])


class MixedEncoder:
    """Encode mixed-type tables so L1 distance is a Gower-like distance.

    The distance between two rows is the sum over numeric columns of
    ``|a - b| / range`` (range of the training rows), plus 1 per missing-value
    mismatch, plus 1 per categorical column whose values differ. Missing
    categories are a category of their own. A column with more than
    :data:`MAX_LEVELS` levels keeps its most frequent ones and pools the rest
    into one level, so memory stays bounded (two different rare values then
    count as equal).

    Args:
        numeric: Columns compared as numbers (numbers and datetimes).
        discrete: Columns compared as categories.

    Example:
        >>> train = pd.DataFrame({"x": [0.0, 10.0], "c": ["a", "b"]})
        >>> encoder = MixedEncoder(["x"], ["c"]).fit(train, [train])
        >>> rows = encoder.transform(pd.DataFrame({"x": [5.0], "c": ["b"]}))
        >>> dist, idx = nearest_l1(rows, encoder.transform(train), k=1)
        >>> float(dist[0, 0]), int(idx[0, 0])
        (0.5, 1)
    """

    def __init__(self, numeric: Sequence[str], discrete: Sequence[str]) -> None:
        self.numeric = list(numeric)
        self.discrete = list(discrete)

    def fit(self, train: pd.DataFrame, frames: Sequence[pd.DataFrame]) -> MixedEncoder:
        """Learn ranges from ``train`` and category levels from all ``frames``."""
        numbers = _as_float(train, self.numeric)
        # A column with only missing values has no range: it is 0 apart everywhere.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            low = np.nanmin(numbers, axis=0) if len(self.numeric) else np.zeros(0)
            high = np.nanmax(numbers, axis=0) if len(self.numeric) else np.zeros(0)
            median = np.nanmedian(numbers, axis=0) if len(self.numeric) else low
        low = np.nan_to_num(low, nan=0.0)
        span = np.nan_to_num(high - low, nan=0.0)
        self.low_ = low
        self.span_ = np.where(span > 0, span, 1.0)
        self.fill_ = np.nan_to_num((median - low) / self.span_ if len(self.numeric) else low)
        self.has_missing_ = np.array(
            [any(frame[c].isna().any() for frame in frames) for c in self.numeric], dtype=bool
        )
        self.levels_ = {
            c: _kept_levels(pd.concat([_category_keys(f[c]) for f in frames]))
            for c in self.discrete
        }
        return self

    def _codes(self, column: str, values: pd.Series) -> np.ndarray:
        levels = self.levels_[column]
        codes = levels.get_indexer(_category_keys(values))
        if len(levels) and levels[-1] == _OTHER:
            codes = np.where(codes < 0, len(levels) - 1, codes)
        elif (codes < 0).any():
            raise EvaluationError(
                f"Column {column!r} holds values not seen when the encoder was fit; "
                "fit it on every table it will encode."
            )
        return codes

    def transform(self, frame: pd.DataFrame) -> Encoded:
        """Encode ``frame`` (columns as at fit time)."""
        scaled = (_as_float(frame, self.numeric) - self.low_) / self.span_
        missing = np.isnan(scaled)
        scaled = np.where(missing, self.fill_, scaled)
        indicators = missing[:, self.has_missing_].astype(np.float64)
        numbers = torch.from_numpy(np.hstack([scaled, indicators]).astype(np.float32))
        names = tuple(self.numeric) + tuple(
            c for c, flag in zip(self.numeric, self.has_missing_, strict=True) if flag
        )
        codes = (
            np.column_stack([self._codes(c, frame[c]) for c in self.discrete])
            if self.discrete
            else np.zeros((len(frame), 0), dtype=np.int64)
        )
        sizes = [len(self.levels_[c]) for c in self.discrete]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        onehot = torch.zeros((len(frame), int(sum(sizes))), dtype=torch.float32)
        if self.discrete:
            rows = torch.arange(len(frame)).repeat_interleave(len(self.discrete))
            onehot[rows, torch.from_numpy((codes + offsets).reshape(-1))] = 1.0
        levels = tuple(c for c in self.discrete for _ in range(len(self.levels_[c])))
        return Encoded(numbers, onehot, codes.astype(np.int64), names, levels)


def _kept_levels(keys: pd.Series) -> pd.Index:
    # One-hot width stays bounded: beyond MAX_LEVELS a column keeps its most frequent
    # levels and pools the rest into one "other" level (last position).
    counts = keys.value_counts(sort=True)
    if len(counts) <= MAX_LEVELS:
        return pd.Index(counts.index)
    return pd.Index([*counts.index[: MAX_LEVELS - 1], _OTHER])


def _as_float(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    if not columns:
        return np.zeros((len(frame), 0))
    parts = []
    for column in columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            as_int = values.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
            parts.append(np.where(values.isna().to_numpy(), np.nan, as_int))
        else:
            parts.append(pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64))
    return np.column_stack(parts)


def _category_keys(column: pd.Series) -> pd.Series:
    # Missing values become one category; values compare as text so 1 == "1" == 1.0 is not
    # required of the caller (category columns hold the same dtype in every frame).
    keys = column.astype(object).where(column.notna(), "\x00<missing>")
    return keys.map(str)


def _chunk_rows(reference_rows: int) -> int:
    return max(1, min(8192, _BLOCK_ENTRIES // max(reference_rows, 1)))


def iter_l1_blocks(
    query: Encoded, reference: Encoded, weights: torch.Tensor | None = None
) -> Iterator[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """Yield ``(start, stop, block, offset)``: query x reference L1 distances in chunks.

    The distance of query row ``i`` to reference row ``j`` is ``block[i, j] +
    offset[i]``. The per-row offset (the query row's category count) is kept
    apart so ranking a row's neighbours never pays for adding it to every entry.

    Args:
        query: Encoded query rows.
        reference: Encoded reference rows.
        weights: Optional per-feature weights: a tensor of length
            ``numbers.shape[1] + onehot.shape[1]`` (0 leaves a feature out).
    """
    q_num, r_num, q_hot, r_hot = query.numbers, reference.numbers, query.onehot, reference.onehot
    if weights is not None:
        p = q_num.shape[1]
        q_num, r_num = q_num * weights[:p], r_num * weights[:p]
        # Weighted mismatches: the weights of the query row's own levels minus the matches.
        q_hot = q_hot * weights[p:]
    offsets = q_hot.sum(dim=1)
    step = _chunk_rows(len(reference))
    r_hot_t = r_hot.T.contiguous()
    for start in range(0, len(query), step):
        stop = min(start + step, len(query))
        if q_num.shape[1]:
            block = torch.cdist(q_num[start:stop], r_num, p=1)
        else:
            block = torch.zeros((stop - start, len(reference)))
        if q_hot.shape[1]:
            # block - matches in one BLAS call: mismatches = own levels - matches.
            block.addmm_(q_hot[start:stop], r_hot_t, alpha=-1.0)
        yield start, stop, block, offsets[start:stop]


def nearest_l1(
    query: Encoded,
    reference: Encoded,
    k: int = 1,
    weights: torch.Tensor | None = None,
    *,
    device: str | torch.device = "auto",
    memory_budget: int = MEMORY_BUDGET,
    method: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Return the distances and indices of the ``k`` nearest reference rows (Gower-like L1).

    Exact, with both sides in chunks: memory stays within ``memory_budget`` bytes
    of distance blocks plus the encoded rows, for any number of rows.

    Args:
        query: Encoded query rows.
        reference: Encoded reference rows.
        k: Neighbours per query row (at most the reference rows).
        weights: Optional per-feature weights (see :func:`iter_l1_blocks`).
        device: Where the blocks are computed: ``"auto"`` (CUDA when present),
            ``"cpu"``, ``"cuda"``...
        memory_budget: Bytes the distance blocks may hold at once.
        method: ``"brute"`` computes every pair in blocks; ``"grouped"`` visits
            rows by their number of mismatched categories and skips the pairs
            that cannot be nearest (:mod:`synthkit.evaluation.grouped_search`),
            with the same result; ``"auto"`` takes ``"grouped"`` on a CPU for
            large unweighted searches with category columns, else ``"brute"``.

    Returns:
        ``(distances, indices)``, each ``(len(query), k)``, nearest first.
        Distances are rounded to 5 decimals so equal distances compare equal
        (float32 sums differ in the last bits with the block shapes); among equal
        distances, any of the tied rows may be returned.

    Example:
        >>> frame = pd.DataFrame({"x": [0.0, 1.0, 3.0], "c": ["a", "a", "b"]})
        >>> encoded = MixedEncoder(["x"], ["c"]).fit(frame, [frame]).transform(frame)
        >>> dist, idx = nearest_l1(encoded, encoded, k=2, memory_budget=64)
        >>> idx[:, 1].tolist(), dist[:, 1].tolist()
        ([1, 0, 1], [0.33333, 0.33333, 1.66667])
    """
    if method not in ("auto", "brute", "grouped"):
        raise ParameterError(f"method={method!r} must be 'auto', 'brute' or 'grouped'.")
    grouped = weights is None and query.codes.shape[1] > 0 and len(reference) > 0
    if method == "auto":
        large = len(query) * len(reference) >= _GROUPED_FROM_PAIRS
        on_cpu = resolve_device(device).type == "cpu"
        method = "grouped" if grouped and large and on_cpu else "brute"
    if method == "grouped" and grouped:
        return _grouped(query, reference, k, device, memory_budget)
    q_num, r_num, q_hot, r_hot = query.numbers, reference.numbers, query.onehot, reference.onehot
    if weights is not None:
        p = q_num.shape[1]
        q_num, r_num, q_hot = q_num * weights[:p], r_num * weights[:p], q_hot * weights[p:]
    # Mismatches = the query row's own (weighted) levels - matches: one BLAS call.
    offsets = q_hot.sum(dim=1)

    def block(q_rows: slice, r_rows: slice, on: torch.device) -> torch.Tensor:
        qn, rn = q_num[q_rows].to(on), r_num[r_rows].to(on)
        out = torch.cdist(qn, rn, p=1) if qn.shape[1] else qn.new_zeros(len(qn), len(rn))
        if q_hot.shape[1]:
            out.addmm_(q_hot[q_rows].to(on), r_hot[r_rows].to(on).T, alpha=-1.0)
        return out + offsets[q_rows].to(on)[:, None]

    return _chunked_top_k(block, len(query), len(reference), k, device, memory_budget)


def _grouped(
    query: Encoded, reference: Encoded, k: int, device: str | torch.device, memory_budget: int
) -> tuple[np.ndarray, np.ndarray]:
    best, best_index, open_rows = grouped_nearest_l1(
        query, reference, min(k, len(reference)), memory_budget=memory_budget
    )
    distances, indices = _finish(best, best_index)
    if len(open_rows):  # not proven by the groups: searched against every row
        rest = nearest_l1(
            query.take(open_rows),
            reference,
            k,
            device=device,
            memory_budget=memory_budget,
            method="brute",
        )
        distances[open_rows], indices[open_rows] = rest
    return distances, indices


def nearest_l2(
    query: torch.Tensor,
    reference: torch.Tensor,
    k: int = 1,
    *,
    device: str | torch.device = "auto",
    memory_budget: int = MEMORY_BUDGET,
) -> tuple[np.ndarray, np.ndarray]:
    """Return distances and indices of the ``k`` nearest rows by Euclidean distance.

    Exact and chunked on both sides, as :func:`nearest_l1`.

    Example:
        >>> points = torch.tensor([[0.0], [1.0], [5.0]])
        >>> nearest_l2(points, points, k=2)[1][:, 1].tolist()
        [1, 0, 1]
    """

    def block(q_rows: slice, r_rows: slice, on: torch.device) -> torch.Tensor:
        # Exact differences (no |a|^2 + |b|^2 - 2ab shortcut, which cancels badly).
        return torch.cdist(
            query[q_rows].to(on),
            reference[r_rows].to(on),
            compute_mode="donot_use_mm_for_euclid_dist",
        )

    return _chunked_top_k(block, len(query), len(reference), k, device, memory_budget)


def chunk_sizes(n_query: int, n_reference: int, memory_budget: int) -> tuple[int, int]:
    """Query and reference rows per block so that about 3 float32 blocks fit the budget.

    Example:
        >>> chunk_sizes(1_000_000, 1_000_000, 256 * 2**20)
        (682, 32768)
    """
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget < 1:
        raise ParameterError(
            f"memory_budget={memory_budget!r} must be a positive number of bytes, e.g. 2**28."
        )
    reference_rows = max(1, min(n_reference, _REFERENCE_CHUNK))
    query_rows = max(1, min(n_query, memory_budget // (3 * 4 * reference_rows)))
    return query_rows, reference_rows


def _chunked_top_k(
    block: Any,
    n_query: int,
    n_reference: int,
    k: int,
    device: str | torch.device,
    memory_budget: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Running top-``k`` over query chunks x reference chunks of ``block(q, r, device)``."""
    on = resolve_device(device)
    k = min(k, n_reference)
    distances = np.empty((n_query, k), dtype=np.float64)
    indices = np.empty((n_query, k), dtype=np.int64)
    q_step, r_step = chunk_sizes(n_query, n_reference, memory_budget)
    for q_start in range(0, n_query, q_step):
        q_rows = slice(q_start, min(q_start + q_step, n_query))
        best = best_index = None
        for r_start in range(0, n_reference, r_step):
            r_rows = slice(r_start, min(r_start + r_step, n_reference))
            values = block(q_rows, r_rows, on)
            kk = min(k, values.shape[1])
            values, positions = torch.topk(values, kk, dim=1, largest=False, sorted=False)
            positions = positions + r_start
            if best is not None:
                values, positions = (
                    torch.cat([best, values], 1),
                    torch.cat([best_index, positions], 1),
                )
                values, keep = torch.topk(values, k, dim=1, largest=False, sorted=False)
                positions = torch.gather(positions, 1, keep)
            best, best_index = values, positions
        distances[q_rows], indices[q_rows] = _finish(best, best_index)
    return distances, indices


def _finish(best: torch.Tensor, best_index: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Rounded distances, nearest first and, among equal distances, the lower index first."""
    # Rounding removes float32 noise so equal distances compare equal (ties).
    rounded = torch.round(best.double(), decimals=5).clamp_(min=0.0)
    by_index = torch.argsort(best_index, dim=1)
    rounded, best_index = torch.gather(rounded, 1, by_index), torch.gather(best_index, 1, by_index)
    order = torch.argsort(rounded, dim=1, stable=True)
    distances = torch.gather(rounded, 1, order).cpu().numpy()
    return distances, torch.gather(best_index, 1, order).cpu().numpy()
