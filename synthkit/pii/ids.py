"""Id patterns in one place: described from real keys in detection, spelled anew in regeneration.

A string key is described by its literal prefix and the character class of every
position (``"CUST-0042"`` is ``{"literal": "CUST-"}`` then four digits); keys of
several shapes (``N10156``, ``N102UW``) keep the frequent shapes with their shares.
Integer keys continue above the real maximum with gaps like the real ones. No
real key is stored: only classes, lengths, literals shared by at least
``MIN_SHAPE_COUNT`` keys, bounds and counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import MetadataError, ParameterError
from synthkit.pii.common import checked_count, fill, seed_for

__all__ = ["ALPHABETS", "UUID_PATTERN", "describe_ids", "generate_ids"]

#: Characters each id segment class draws from.
ALPHABETS = {
    "digit": "0123456789",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "lower": "abcdefghijklmnopqrstuvwxyz",
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "upper_digit": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "lower_digit": "abcdefghijklmnopqrstuvwxyz0123456789",
    "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
}
UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
#: Fewest keys a shape needs to be kept on its own (a rarer shape could spell one key).
MIN_SHAPE_COUNT = 20
_HEX = np.array(list("0123456789abcdef"))
_SAMPLE_SIZE = 1_000


def describe_ids(values: pd.Series, numeric: bool) -> dict[str, Any] | None:
    """Describe keys so look-alike ids can be generated; None if they are no keys.

    Args:
        values: The non-null keys (a few duplicates are allowed).
        numeric: Whether the keys are numbers.

    Returns:
        An ``id`` entry, or ``None`` for numbers that are not whole.

    Example:
        >>> keys = pd.Series([f"N{i}AB" for i in range(100, 130)])
        >>> describe_ids(keys, numeric=False)["segments"]
        [{'literal': 'N'}, {'class': 'digit', 'length': 3}, {'class': 'upper', 'length': 2}]
        >>> describe_ids(pd.Series([3, 5, 7]), numeric=True)["step"]
        2.0
    """
    if numeric:
        numbers = values.to_numpy(dtype=float)
        if not np.all(np.isfinite(numbers)) or not np.all(numbers == np.round(numbers)):
            return None
        low, high = int(values.min()), int(values.max())
        step = (high - low) / (len(values) - 1) if len(values) > 1 else 1.0
        return {
            "kind": "id",
            "id_type": "integer",
            "min": low,
            "max": high,
            "step": round(max(step, 1.0), 6),
        }
    return _string_id_entry(values.astype(str))


def _string_id_entry(values: pd.Series) -> dict[str, Any]:
    sample = _sample(values)
    if sample.str.fullmatch(UUID_PATTERN).all():
        upper = not bool(sample.str.contains(r"[a-f]").any())
        return {"kind": "id", "id_type": "string", "format": "uuid", "uppercase": upper}
    listed = values.tolist()
    prefix = _common_prefix(min(listed), max(listed))
    # "AC-00007".."AC-00106" share "AC-00", but those zeros belong to the number.
    prefix = re.sub(r"\d+$", "", prefix)
    lengths = values.str.len()
    entry: dict[str, Any] = {
        "kind": "id",
        "id_type": "string",
        "format": "pattern",
        "segments": _segments(sample, prefix, int(lengths.min()), int(lengths.max())),
        "count": len(values),
    }
    shapes = _shapes(values, prefix)
    if shapes:
        entry["shapes"] = shapes
    return entry


def _signatures(values: pd.Series) -> pd.Series:
    """Each key's shape: digits as ``9``, capitals as ``A``, small letters as ``a``."""
    return (
        values.str.replace(r"[0-9]", "9", regex=True)
        .str.replace(r"[A-Z]", "A", regex=True)
        .str.replace(r"[a-z]", "a", regex=True)
    )


def _shapes(values: pd.Series, prefix: str) -> list[dict[str, Any]]:
    """The frequent shapes of keys of several shapes (``N10156`` and ``N102UW``).

    Only shapes held by at least ``MIN_SHAPE_COUNT`` keys are kept, and only when
    they cover nine keys in ten; otherwise one class-per-position pattern is used.
    """
    signatures = _signatures(values)
    counts = signatures.value_counts()
    if len(counts) < 2:
        return []
    kept = counts[counts >= MIN_SHAPE_COUNT]
    if kept.empty or kept.sum() < 0.9 * len(values):
        return []
    shapes = []
    for signature, count in kept.items():  # loop over a few shapes, not rows
        members = _sample(values[signatures == signature])
        length = len(str(signature))
        shapes.append(
            {
                "segments": _segments(members, prefix, length, length),
                "share": round(float(count / kept.sum()), 6),
                "count": int(count),
            }
        )
    return shapes


def _sample(values: pd.Series) -> pd.Series:
    """A fixed random sample, so the description is the same every time."""
    if len(values) <= _SAMPLE_SIZE:
        return values
    return values.sample(_SAMPLE_SIZE, random_state=0)


_CLASS_TESTS = (
    ("digit", r"[0-9]+"),
    ("upper", r"[A-Z]+"),
    ("lower", r"[a-z]+"),
    ("hex", r"[0-9a-f]+"),
    ("HEX", r"[0-9A-F]+"),
    ("upper_digit", r"[A-Z0-9]+"),
    ("lower_digit", r"[a-z0-9]+"),
    ("alnum", r"[A-Za-z0-9]+"),
)


def _char_class(chars: str) -> str:
    for name, pattern in _CLASS_TESTS:
        if re.fullmatch(pattern, chars):
            return name
    return "alnum"


def _segments(sample: pd.Series, prefix: str, min_len: int, max_len: int) -> list[dict[str, Any]]:
    """Literal prefix plus per-position character classes of a string key."""
    segments: list[dict[str, Any]] = [{"literal": prefix}] if prefix else []
    rest = sample.str.slice(len(prefix))
    width = max_len - len(prefix)
    if width <= 0:
        return segments or [{"class": "digit", "length": 1}]
    if min_len != max_len:
        chars = "".join(pd.unique(np.array(list("".join(rest.tolist())))))
        return [*segments, {"class": _char_class(chars), "length": width}]
    matrix = np.array(rest.tolist(), dtype=f"<U{width}").view("<U1").reshape(len(rest), width)
    classes = []
    for position in range(width):  # loop over key positions, not rows
        column = pd.unique(matrix[:, position])
        if len(column) == 1 and not column[0].isalnum():
            classes.append(("literal", str(column[0])))
        else:
            classes.append(("class", _char_class("".join(column))))
    for kind, value in classes:
        last = segments[-1] if segments else None
        if kind == "literal" and last is not None and "literal" in last:
            last["literal"] += value
        elif kind == "class" and last is not None and last.get("class") == value:
            last["length"] += 1
        elif kind == "literal":
            segments.append({"literal": value})
        else:
            segments.append({"class": value, "length": 1})
    return segments


def _common_prefix(first: str, last: str) -> str:
    """Longest common prefix of the smallest and largest string: that of all strings."""
    size = 0
    for a, b in zip(first, last, strict=False):  # loop over characters of one key
        if a != b:
            break
        size += 1
    return first[:size]


def generate_ids(
    entry: dict[str, Any], n: int, seed: int, *, exclude: Iterable[Any] | None = None
) -> np.ndarray:
    """Generate ``n`` unique ids shaped like the real ones described by an ``id`` entry.

    Integer ids continue above the real maximum with gaps like the real ones; UUID
    ids are random version-4 UUIDs; other string ids keep the literal prefix and
    the character class of every position (``"CUST-0042"`` gives ``"CUST-7315"``),
    in each of the frequent ``shapes`` with its share when keys have several.

    Args:
        entry: The column's metadata entry from detection (``id_type``, ``min``,
            ``max``, ``step``, ``format``, ``segments``); a bare ``{"kind": "id"}``
            gives integers from 1.
        n: Number of ids.
        seed: Seed; the same seed gives the same ids.
        exclude: Values that must not appear (the real column).

    Returns:
        An int64 array (integer ids) or an object array of strings.

    Example:
        >>> generate_ids({"kind": "id", "id_type": "integer", "min": 1, "max": 100}, 3, 0)
        array([101, 102, 103])
        >>> entry = {"kind": "id", "id_type": "string", "format": "pattern",
        ...          "segments": [{"literal": "C-"}, {"class": "digit", "length": 4}]}
        >>> [len(key) for key in generate_ids(entry, 2, seed=0)]
        [6, 6]
    """
    n = checked_count(n)
    rng = np.random.default_rng(seed_for(seed, "id"))
    exclude = None if exclude is None else list(exclude)
    if entry.get("id_type", "integer") == "integer":
        return _integer_ids(entry, n, rng, exclude)
    if entry.get("format") == "uuid":
        upper = bool(entry.get("uppercase", False))
        return fill(lambda size: _uuids(rng, size, upper), n, unique=True, exclude=exclude)
    shapes = entry.get("shapes") or [
        {
            "segments": entry.get("segments") or [{"class": "digit", "length": 8}],
            "share": 1.0,
            "count": entry.get("count"),
        }
    ]
    patterns = []
    for shape in shapes:  # loop over a few shapes, not rows
        segments = _roomy_segments(shape["segments"], n + len(exclude or ()))
        if exclude is None and shape.get("count"):
            segments = _disjoint_segments(segments, int(shape["count"]))
        patterns.append(segments)
    if len(patterns) == 1:
        return fill(
            lambda size: _patterned(rng, patterns[0], size), n, unique=True, exclude=exclude
        )
    weights = np.array([float(shape["share"]) for shape in shapes])
    weights /= weights.sum()

    def make(size: int) -> np.ndarray:
        which = rng.choice(len(patterns), size=size, p=weights)
        out = np.empty(size, dtype=object)
        for position, segments in enumerate(patterns):  # loop over shapes, not rows
            chosen = which == position
            if chosen.any():
                out[chosen] = _patterned(rng, segments, int(chosen.sum()))
        return out

    return fill(make, n, unique=True, exclude=exclude)


def _uuids(rng: np.random.Generator, size: int, upper: bool) -> np.ndarray:
    raw = rng.integers(0, 256, size=(size, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    nibbles = np.stack([raw >> 4, raw & 0x0F], axis=2).reshape(size, 32)
    alphabet = np.strings.upper(_HEX) if upper else _HEX
    chars = alphabet[nibbles]
    dash = np.full((size, 1), "-")
    pieces = [chars[:, :8], dash, chars[:, 8:12], dash, chars[:, 12:16], dash]
    pieces += [chars[:, 16:20], dash, chars[:, 20:]]
    return np.ascontiguousarray(np.concatenate(pieces, axis=1)).view("<U36").reshape(-1)


def _roomy_segments(segments: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Lengthen the longest class segment until the pattern holds 20 times ``n`` ids.

    ``n`` counts the ids wanted plus those to avoid, so redraws stay rare; the
    longest segment is the running number of most keys ("CUST-0042-A").
    """
    segments = [dict(segment) for segment in segments]
    classes = [segment for segment in segments if "class" in segment]
    if not classes:
        segments.append({"class": "digit", "length": 1})
        classes = segments[-1:]
    for segment in classes:
        if segment["class"] not in ALPHABETS:
            raise MetadataError(
                f"id segment class {segment['class']!r} is unknown; use one of "
                f"{', '.join(ALPHABETS)}."
            )

    longest = max(reversed(classes), key=lambda segment: segment["length"])
    while _space(segments) < 20.0 * max(n, 1):
        longest["length"] += 1
    return segments


def _disjoint_segments(segments: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """Without the real keys at hand, keep clear of them by construction.

    If the ``count`` real keys fill more than a millionth of the pattern, a random
    key could be a real one: one more character in the longest segment makes every
    new key longer than any real key, so none can coincide.
    """
    if count <= _space(segments) * 1e-6:
        return segments
    segments = [dict(segment) for segment in segments]
    classes = [segment for segment in segments if "class" in segment]
    max(reversed(classes), key=lambda segment: segment["length"])["length"] += 1
    return segments


def _space(segments: list[dict[str, Any]]) -> float:
    """How many different keys a pattern can spell."""
    sizes = [float(len(ALPHABETS[s["class"]])) ** s["length"] for s in segments if "class" in s]
    return float(np.prod(sizes))


def _patterned(rng: np.random.Generator, segments: list[dict[str, Any]], size: int) -> np.ndarray:
    text = np.full(size, "", dtype="<U1")
    for segment in segments:  # loop over the key's segments, not rows
        if "literal" in segment:
            text = np.strings.add(text, str(segment["literal"]))
            continue
        alphabet = np.array(list(ALPHABETS[segment["class"]]))
        length = int(segment["length"])
        chars = alphabet[rng.integers(0, len(alphabet), size=(size, length))]
        text = np.strings.add(text, np.ascontiguousarray(chars).view(f"<U{length}").reshape(-1))
    return text


def _integer_ids(
    entry: dict[str, Any], n: int, rng: np.random.Generator, exclude: Iterable[Any] | None
) -> np.ndarray:
    step = max(float(entry.get("step", 1.0) or 1.0), 1.0)
    gaps = np.ones(n, dtype=np.int64)
    if step > 1.0:
        gaps += rng.poisson(step - 1.0, size=n)
    top = [int(entry["max"])] if entry.get("max") is not None else []
    if exclude is not None:
        numbers = pd.to_numeric(pd.Series(list(exclude), dtype=object), errors="coerce").dropna()
        top += [int(numbers.max())] if len(numbers) else []
    start = max(top) + 1 if top else 1
    if start + int(gaps.sum()) > np.iinfo(np.int64).max:
        raise ParameterError(
            f"Cannot fit {n} new integer ids above the real maximum {start - 1}; "
            "declare the column a string id instead (update_column(..., id_type='string'))."
        )
    return start + np.cumsum(gaps) - gaps[:1].sum()
