"""Mixed-type row encoding and chunked nearest-neighbour search (Gower-like L1, Euclidean).

Numbers (and datetimes) are scaled by the range of the training rows; a missing
number gets its own indicator. Categories become one-hot vectors, so the number
of mismatched categories between two rows is ``n_categorical - onehot_a @
onehot_b.T``: a matrix product, which keeps the search on BLAS. Rows are
processed in chunks so memory stays bounded; no Python loop runs over rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from synthkit.errors import EvaluationError

__all__ = ["Encoded", "MixedEncoder", "iter_l1_blocks", "nearest_l1", "nearest_l2"]

#: Most one-hot levels per categorical column; rarer levels share one "other" level.
MAX_LEVELS = 256
_OTHER = "\x00<other>"

# Entries of one distance block (query chunk x reference rows): 32M floats = 128 MB.
_BLOCK_ENTRIES = 32_000_000


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
        with np.errstate(all="ignore"):
            low = np.nanmin(numbers, axis=0) if len(self.numeric) else np.zeros(0)
            high = np.nanmax(numbers, axis=0) if len(self.numeric) else np.zeros(0)
        low = np.nan_to_num(low, nan=0.0)
        span = np.nan_to_num(high - low, nan=0.0)
        self.low_ = low
        self.span_ = np.where(span > 0, span, 1.0)
        self.fill_ = np.nan_to_num(
            (np.nanmedian(numbers, axis=0) - low) / self.span_ if len(self.numeric) else low
        )
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
    query: Encoded, reference: Encoded, k: int = 1, weights: torch.Tensor | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the distances and indices of the ``k`` nearest reference rows (Gower-like L1).

    Example:
        >>> frame = pd.DataFrame({"x": [0.0, 1.0, 3.0], "c": ["a", "a", "b"]})
        >>> encoded = MixedEncoder(["x"], ["c"]).fit(frame, [frame]).transform(frame)
        >>> dist, idx = nearest_l1(encoded, encoded, k=2)
        >>> idx[:, 1].tolist()
        [1, 0, 1]
    """
    return _top_k(iter_l1_blocks(query, reference, weights), len(query), len(reference), k)


def nearest_l2(
    query: torch.Tensor, reference: torch.Tensor, k: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Return distances and indices of the ``k`` nearest rows by Euclidean distance.

    Example:
        >>> points = torch.tensor([[0.0], [1.0], [5.0]])
        >>> nearest_l2(points, points, k=2)[1][:, 1].tolist()
        [1, 0, 1]
    """
    step = _chunk_rows(len(reference))
    zero = torch.zeros(len(query))
    blocks = (
        (
            start,
            min(start + step, len(query)),
            torch.cdist(query[start : start + step], reference),
            zero[start : start + step],
        )
        for start in range(0, len(query), step)
    )
    return _top_k(blocks, len(query), len(reference), k)


def _top_k(
    blocks: Iterator[tuple[int, int, torch.Tensor, torch.Tensor]],
    n_query: int,
    n_reference: int,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, n_reference)
    distances = np.empty((n_query, k), dtype=np.float64)
    indices = np.empty((n_query, k), dtype=np.int64)
    for start, stop, block, offset in blocks:
        values, positions = torch.topk(block, k, dim=1, largest=False, sorted=True)
        values = values + offset[:, None]
        # Rounding removes float32 noise so equal distances compare equal (ties).
        distances[start:stop] = np.round(values.double().numpy(), 5)
        indices[start:stop] = positions.numpy()
    return distances.clip(min=0.0), indices
