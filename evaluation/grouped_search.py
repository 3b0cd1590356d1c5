"""Exact Gower-like nearest neighbours that skip most row pairs on a CPU.

Every mismatched category adds 1 to the distance and numbers add at least 0, so
a reference row with ``m`` mismatches is at least ``m`` away. The search visits
rows by their number of mismatches: first the rows with the query's exact
categories (``m = 0``), then those that differ in one column, in two, ... For a
level ``m`` and each set of ``m`` columns, rows that agree on all other columns
and differ on exactly those are found by grouping on the agreeing columns' codes,
so only pairs within a group are computed. Once a query's ``k``-th distance is
below ``m + 1``, no unseen row can come closer and the query is done; queries
still open after ``max_level`` are searched against every row. The result equals
the brute-force search (the tests check it); only the work differs.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from synthkit.evaluation.neighbors import Encoded

__all__ = ["grouped_nearest_l1"]

# A group with this many (query, row) pairs is one dense block: cdist beats the flat layout.
_DENSE_PAIRS = 20_000


def grouped_nearest_l1(
    query: Encoded,
    reference: Encoded,
    k: int,
    *,
    memory_budget: int,
    max_level: int = 2,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Exact ``k`` nearest rows found level by level; also the rows left open.

    Args:
        query: Encoded query rows (with category codes).
        reference: Encoded reference rows.
        k: Neighbours per query row (at most the reference rows).
        memory_budget: Bytes one group's distance block may hold.
        max_level: Most mismatching columns searched by groups.

    Returns:
        ``(distances, indices, open_rows)``: float32 and int64 ``(n, k)`` tensors
        (``inf`` and ``-1`` where not found) and the query rows whose neighbours
        are not proven yet, which the caller searches against every row.

    Example:
        >>> import pandas as pd
        >>> from synthkit.evaluation.neighbors import MixedEncoder
        >>> frame = pd.DataFrame({"x": [0.0, 1.0, 3.0, 4.0], "c": ["a", "a", "b", "b"]})
        >>> encoded = MixedEncoder(["x"], ["c"]).fit(frame, [frame]).transform(frame)
        >>> dist, idx, left = grouped_nearest_l1(encoded, encoded, 2, memory_budget=2**20)
        >>> idx.tolist(), left.tolist()
        ([[0, 1], [1, 0], [2, 3], [3, 2]], [])
    """
    n_columns = query.codes.shape[1]
    # Small contiguous codes make the per-pair gathers cheap.
    q_codes = np.ascontiguousarray(query.codes, dtype=np.int32)
    r_codes = np.ascontiguousarray(reference.codes, dtype=np.int32)
    radix = np.maximum(q_codes.max(axis=0, initial=0), r_codes.max(axis=0, initial=0)) + 1
    codes = (q_codes, r_codes, radix.astype(np.int64))
    best = torch.full((len(query), k), float("inf"))
    best_index = torch.full((len(query), k), -1, dtype=torch.long)
    open_rows = np.arange(len(query))
    for level in range(min(max_level, n_columns) + 1):
        for dropped in itertools.combinations(range(n_columns), level):
            kept = [j for j in range(n_columns) if j not in dropped]
            _search_level(
                query,
                reference,
                codes,
                open_rows,
                kept,
                list(dropped),
                best,
                best_index,
                memory_budget,
            )
        # An unseen row differs in at least level + 1 columns: at least that far.
        done = best[open_rows, k - 1] < level + 1
        open_rows = open_rows[~done.numpy()]
        if not len(open_rows):
            break
    return best, best_index, open_rows


def _keys(
    q_codes: np.ndarray, r_codes: np.ndarray, radix: np.ndarray, columns: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """One int64 key per row for the codes of ``columns``: mixed radix, or joint ranks."""
    if np.prod(radix[columns].astype(np.float64)) < 2.0**62:
        keys = []
        for codes in (q_codes, r_codes):
            key = np.zeros(len(codes), dtype=np.int64)
            for j in columns:  # over a few columns, not rows
                key *= radix[j]
                key += codes[:, j]
            keys.append(key)
        return keys[0], keys[1]
    both = np.concatenate([q_codes[:, columns], r_codes[:, columns]])
    ranks = np.unique(both, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
    return ranks[: len(q_codes)], ranks[len(q_codes) :]


def _search_level(
    query: Encoded,
    reference: Encoded,
    codes: tuple[np.ndarray, np.ndarray, np.ndarray],
    rows: np.ndarray,
    kept: list[int],
    dropped: list[int],
    best: torch.Tensor,
    best_index: torch.Tensor,
    memory_budget: int,
) -> None:
    """Merge into ``best`` the rows that agree on ``kept`` and differ on every ``dropped``.

    Large groups (many queries x many rows) are computed as dense blocks, as the
    brute force does; the pairs of all small groups are laid out flat, in batches
    of queries whose pairs fit the budget, so no Python loop runs over rows or
    small groups.
    """
    q_codes, r_codes, radix = codes
    q_keys, r_keys = _keys(q_codes[rows], r_codes, radix, kept)
    order = np.argsort(r_keys, kind="stable")
    sorted_keys = r_keys[order]
    low = np.searchsorted(sorted_keys, q_keys, side="left")
    sizes = np.searchsorted(sorted_keys, q_keys, side="right") - low
    found = sizes > 0
    rows, low, sizes, q_keys = rows[found], low[found], sizes[found], q_keys[found]
    q_dropped, r_dropped = q_codes[:, dropped], r_codes[:, dropped]
    # Queries of one key share their group: n_queries x n_rows pairs per key.
    keys, first, counts = np.unique(q_keys, return_index=True, return_counts=True)
    dense = counts * sizes[first] >= _DENSE_PAIRS
    for key, at in zip(keys[dense], first[dense], strict=True):  # over a few large groups
        members = rows[q_keys == key]
        group = torch.from_numpy(order[low[at] : low[at] + sizes[at]])
        step = max(1, memory_budget // (3 * 4 * len(group)))
        for start in range(0, len(members), step):
            q_rows = torch.from_numpy(members[start : start + step])
            block = torch.cdist(query.numbers[q_rows], reference.numbers[group], p=1)
            if dropped:
                q_part = torch.from_numpy(q_dropped[q_rows.numpy()])
                r_part = torch.from_numpy(r_dropped[group.numpy()])
                same = (q_part[:, None, :] == r_part[None, :, :]).any(dim=2)
                block = block.add_(float(len(dropped))).masked_fill_(same, float("inf"))
            kk = min(best.shape[1], block.shape[1])
            values, positions = torch.topk(block, kk, dim=1, largest=False)
            _merge(best, best_index, q_rows, values, group[positions])
    small = ~np.isin(q_keys, keys[dense])
    rows, low, sizes = rows[small], low[small], sizes[small]
    ends = np.cumsum(sizes)
    # Bytes per pair: the gathered numbers of both rows, the distance, the indices.
    per_pair = 4 * (2 * query.numbers.shape[1] + 2 * len(dropped) + 8)
    budget_pairs = max(1, memory_budget // per_pair)
    start = 0
    while start < len(rows):
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + budget_pairs, side="right")))
        batch = sizes[start:stop]
        segment = np.repeat(np.arange(stop - start), batch)
        within = np.arange(int(batch.sum())) - np.repeat(ends[start:stop] - batch - base, batch)
        r_of_pair = order[np.repeat(low[start:stop], batch) + within]
        q_of_pair = rows[start:stop][segment]
        q_pairs, r_pairs = torch.from_numpy(q_of_pair), torch.from_numpy(r_of_pair)
        distance = query.numbers.index_select(0, q_pairs)
        distance = distance.sub_(reference.numbers.index_select(0, r_pairs)).abs_().sum(dim=1)
        if dropped:
            # Keep pairs that differ on every dropped column: each row is met once.
            same = np.take(q_dropped, q_of_pair, axis=0) == np.take(r_dropped, r_of_pair, axis=0)
            distance.add_(float(len(dropped)))
            distance.masked_fill_(torch.from_numpy(same.any(axis=1)), float("inf"))
        values, indices = _segment_top_k(
            distance,
            torch.from_numpy(segment),
            torch.from_numpy(r_of_pair),
            stop - start,
            best.shape[1],
        )
        _merge(best, best_index, torch.from_numpy(rows[start:stop]), values, indices)
        start = stop


def _merge(
    best: torch.Tensor,
    best_index: torch.Tensor,
    q_rows: torch.Tensor,
    values: torch.Tensor,
    indices: torch.Tensor,
) -> None:
    """Keep, for ``q_rows``, the ``k`` smallest of their best so far and the new candidates."""
    values = torch.cat([best[q_rows], values], dim=1)
    indices = torch.cat([best_index[q_rows], indices], dim=1)
    values, keep = torch.topk(values, best.shape[1], dim=1, largest=False)
    best[q_rows] = values
    best_index[q_rows] = torch.gather(indices, 1, keep).masked_fill_(torch.isinf(values), -1)


def _segment_top_k(
    distance: torch.Tensor, segment: torch.Tensor, row: torch.Tensor, n_segments: int, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` smallest distances of each segment and their rows (``inf``, -1 if fewer)."""
    values = torch.full((n_segments, k), float("inf"))
    indices = torch.full((n_segments, k), -1, dtype=torch.long)
    none = torch.iinfo(torch.long).max
    for rank in range(k):  # k rounds of a segment minimum, each O(pairs)
        low = torch.full((n_segments,), float("inf")).scatter_reduce_(0, segment, distance, "amin")
        at_low = (distance == low[segment]) & torch.isfinite(distance)
        chosen = torch.full((n_segments,), none).scatter_reduce_(
            0, segment, torch.where(at_low, row, none), "amin"
        )
        hit = chosen != none
        values[hit, rank] = low[hit]
        indices[hit, rank] = chosen[hit]
        distance = distance.masked_fill(at_low & (row == chosen[segment]), float("inf"))
    return values, indices
