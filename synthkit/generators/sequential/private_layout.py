"""What a private sequence model keeps about its data's layout, with no exact real value.

The ordinary fit records the real keys' range and pattern, the shortest and
longest history, the index's range and, in the event metadata, every numeric
column's range and detection's reasons (which count rows and categories). Under
DP each is replaced by a value that reads no real data (keys numbered from
scratch, no shortest history) or that comes from a DP release (the longest
history, the index's and columns' ranges from the private encoder).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.processing.discretizer import Discretizer

__all__ = ["private_key_entry", "private_layout"]

# Entry fields of detected metadata that record a real value or count.
_READ_OFF = ("min", "max")
# Synthetic integer keys start above these public offsets, by the key's width in
# bits: far above the keys people number from one, so that a release's scan for
# real identifiers finds none, without reading a single real key.
_KEY_OFFSETS = {64: 10**15, 32: 10**9}


def private_key_entry(dtype: str) -> dict[str, Any]:
    """How to number synthetic keys of ``dtype`` without reading the real keys.

    Integer (and float) keys count up from a public offset; other keys are
    ``K-`` with nine random digits.

    Example:
        >>> private_key_entry("int64")
        {'kind': 'id', 'id_type': 'integer', 'max': 999999999999999}
        >>> private_key_entry("object")["segments"]
        [{'literal': 'K-'}, {'class': 'digit', 'length': 9}]
    """
    try:
        empty = pd.Series([], dtype=dtype)
    except TypeError:
        empty = pd.Series([], dtype=object)
    numeric = pd.api.types.is_integer_dtype(empty) or pd.api.types.is_float_dtype(empty)
    if not numeric:
        segments = [{"literal": "K-"}, {"class": "digit", "length": 9}]
        return {"kind": "id", "id_type": "string", "format": "pattern", "segments": segments}
    bits = 64 if pd.api.types.is_float_dtype(empty) else np.dtype(empty.dtype.type).itemsize * 8
    entry: dict[str, Any] = {"kind": "id", "id_type": "integer"}
    if bits in _KEY_OFFSETS:
        entry["max"] = _KEY_OFFSETS[bits] - 1
    return entry


def private_layout(
    layout: dict[str, Any], encoder: Discretizer, max_length: int, start: str
) -> dict[str, Any]:
    """``layout`` with every field read off the real data replaced.

    Args:
        layout: The sequence layout the ordinary fit recorded.
        encoder: The private event encoder (its ranges are DP or public).
        max_length: The longest history, from a DP release.
        start: The encoder's column of an entity's first time.

    Returns:
        A new layout dict.

    Example:
        >>> from synthkit.metadata import Metadata
        >>> encoder = Discretizer(privacy=None)
        >>> encoder.transforms_ = {}
        >>> layout = {"sequence_key": "id", "key_dtype": "int64", "sequence_index": None,
        ...           "key_entry": {"kind": "id", "min": 17, "max": 96},
        ...           "min_length": 2, "max_length": 40, "index_transform": None,
        ...           "event_metadata": {"columns": {"x": {"kind": "numerical", "min": 3.5}},
        ...                              "reasons": {"x": "its 30 values are numbers"}}}
        >>> out = private_layout(layout, encoder, 48, "start")
        >>> out["key_entry"]["max"], out["min_length"], out["max_length"], out["event_metadata"]
        (999999999999999, 0, 48, {'columns': {'x': {'kind': 'numerical'}}})
    """
    out = dict(layout)
    out["key_entry"] = private_key_entry(layout["key_dtype"])
    # Zero reads nothing: whether a history may be empty is the stop head's to learn.
    out["min_length"] = 0
    out["max_length"] = int(max_length)
    ranges = {
        column: (transform.info["min"], transform.info["max"])
        for column, transform in getattr(encoder, "transforms_", {}).items()
        if "min" in transform.info
    }
    index = layout["sequence_index"]
    if out.get("index_transform") is not None:
        transform = dict(out["index_transform"])
        low, high = ranges.get(start, (None, None))
        transform.update(min=low, max=high)
        out["index_transform"] = transform
    metadata = dict(layout["event_metadata"])
    metadata.pop("reasons", None)
    columns = {}
    for column, entry in metadata.get("columns", {}).items():
        entry = {k: v for k, v in entry.items() if k not in _READ_OFF}
        if entry.get("kind") == "id":
            # An id entry may hold the real keys' prefix, range or shapes.
            entry = {"kind": "id"}
        elif column in ranges:
            entry["min"], entry["max"] = ranges[column]
        elif column == index and start in ranges:
            entry["min"], entry["max"] = ranges[start]
        columns[column] = entry
    metadata["columns"] = columns
    out["event_metadata"] = metadata
    return out
