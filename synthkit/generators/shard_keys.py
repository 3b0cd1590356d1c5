"""Entity keys of one shard of a sharded sequence sample: unique across shards, never real.

A sequence model draws new entity keys shaped like the real ones
(:func:`synthkit.pii.ids.generate_ids`), but two shards drawn apart would each
start their integer keys just above the real maximum, and patterned string keys
drawn at random could repeat across shards. Each shard therefore gets its own
segment of the key space, derived from its index alone:

* integer keys: shard ``i`` draws above ``max + i * width``, where ``width``
  leaves room for ``shard_entities`` keys at the real keys' spacing; a draw that
  would overrun its segment (vanishingly rare) falls back to consecutive numbers;
* patterned string keys: the shard index, in fixed-width digits, is written right
  after the keys' literal prefix (``CUST-0042`` becomes ``CUST-0037315`` in shard
  3), so keys of different shards differ in those characters and every key is
  longer than the real keys of its shape;
* UUID keys: random version-4 UUIDs from the shard's own seed (a repeat across
  shards has odds of about ``n**2 / 2**123``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synthkit.pii.ids import generate_ids

__all__ = ["shard_keys"]


def shard_keys(
    entry: dict[str, Any],
    dtype: str,
    n: int,
    *,
    index: int,
    n_shards: int,
    shard_entities: int,
    seed: int,
) -> np.ndarray:
    """``n`` new entity keys for shard ``index`` of ``n_shards``, disjoint from other shards.

    Args:
        entry: The key column's ``id`` entry (as a fitted sequence model stores it).
        dtype: The real key column's dtype, which integer keys keep.
        n: Keys wanted (at most ``shard_entities``).
        index: The shard number.
        n_shards: Shards in the run (sets the width of the shard code in string keys).
        shard_entities: Entities per shard (sets the segment of integer keys).
        seed: The shard's seed.

    Returns:
        An array of ``n`` unique keys.

    Example:
        >>> entry = {"kind": "id", "id_type": "integer", "min": 1, "max": 500, "step": 1.0}
        >>> a = shard_keys(entry, "int64", 3, index=0, n_shards=2, shard_entities=3, seed=1)
        >>> b = shard_keys(entry, "int64", 3, index=1, n_shards=2, shard_entities=3, seed=2)
        >>> bool(a.min() > 500 and a.max() < b.min())
        True
        >>> entry = {"kind": "id", "id_type": "string", "format": "pattern",
        ...          "segments": [{"literal": "C-"}, {"class": "digit", "length": 4}]}
        >>> str(shard_keys(entry, "object", 1, index=7, n_shards=12, shard_entities=1,
        ...                seed=0)[0])[:4]
        'C-07'
    """
    # The index joins the seed, so UUIDs of two shards differ even from equal seeds.
    seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
    if entry.get("id_type", "integer") == "integer":
        keys = _integer_keys(entry, n, index, shard_entities, seed)
        return keys.astype(dtype) if dtype != "object" else keys
    if entry.get("format") == "uuid":
        return generate_ids(entry, n, seed)
    code = str(index).zfill(len(str(max(n_shards - 1, 0))))
    segments = _when_missing(entry.get("segments"))
    # The common prefix of all real keys: the code goes right after it in every shape,
    # so keys of different shards differ at the same positions.
    prefix = segments[0].get("literal", "")
    coded = {**entry, "segments": _with_code(segments, code, prefix)}
    if entry.get("shapes"):
        coded["shapes"] = [
            {**shape, "segments": _with_code(_when_missing(shape["segments"]), code, prefix)}
            for shape in entry["shapes"]
        ]
    return generate_ids(coded, n, seed)


def _integer_keys(
    entry: dict[str, Any], n: int, index: int, shard_entities: int, seed: int
) -> np.ndarray:
    step = max(float(entry.get("step", 1.0) or 1.0), 1.0)
    # Twice the expected span of a shard's keys, plus slack for tiny shards.
    width = int(np.ceil(2.0 * shard_entities * step)) + 64
    floor = int(entry.get("max") or 0) + index * width
    keys = generate_ids({**entry, "max": floor}, n, seed)
    if n and int(keys.max()) > floor + width:
        keys = floor + 1 + np.arange(n, dtype=np.int64)
    return keys


def _when_missing(segments: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [dict(s) for s in (segments or [{"class": "digit", "length": 8}])]


def _with_code(segments: list[dict[str, Any]], code: str, prefix: str) -> list[dict[str, Any]]:
    """``segments`` with the literal ``code`` right after the common ``prefix``."""
    first = segments[0].get("literal", "") if segments else ""
    if prefix and first.startswith(prefix):
        rest = [{"literal": first[len(prefix) :]}] if len(first) > len(prefix) else []
        return [{"literal": prefix}, {"literal": code}, *rest, *segments[1:]]
    return [{"literal": code}, *segments]
