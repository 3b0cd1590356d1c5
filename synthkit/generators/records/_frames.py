"""Frames and Arrow schemas as JSON text for model files (Arrow IPC in base64, never pickle).

A record model keeps each table's empty template (columns, order, dtypes), the
public tables it copies unchanged and the nesting schemas; Arrow's IPC format is
data only, so reading it back runs no code.
"""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pyarrow as pa

from synthkit.schema._arrow import to_arrow, to_pandas

__all__ = ["conform", "frame_from_text", "frame_to_text", "schema_from_text", "schema_to_text"]


def frame_to_text(frame: pd.DataFrame) -> str:
    """Encode a frame (with its pandas dtypes) as base64 Arrow IPC.

    Example:
        >>> frame = pd.DataFrame({"a": pd.array([1, None], dtype="Int64"), "b": ["x", "y"]})
        >>> frame_from_text(frame_to_text(frame)).equals(frame)
        True
    """
    table = to_arrow(frame.reset_index(drop=True))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return base64.b64encode(sink.getvalue().to_pybytes()).decode("ascii")


def frame_from_text(text: str) -> pd.DataFrame:
    """Decode :func:`frame_to_text` output."""
    table = pa.ipc.open_stream(pa.py_buffer(base64.b64decode(text))).read_all()
    return to_pandas(table)


def schema_to_text(schema: pa.Schema) -> str:
    """Encode an Arrow schema as base64 IPC.

    Example:
        >>> schema = pa.schema([pa.field("x", pa.list_(pa.int64()))])
        >>> schema_from_text(schema_to_text(schema)) == schema
        True
    """
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def schema_from_text(text: str) -> pa.Schema:
    """Decode :func:`schema_to_text` output."""
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def conform(columns: dict[str, pd.Series | np.ndarray], template: pd.DataFrame) -> pd.DataFrame:
    """A frame with the template's columns, order and dtypes where the values allow them.

    Integers with missing values stay as drawn rather than losing the missing ones.

    Example:
        >>> template = pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": []})
        >>> conform({"b": ["x"], "a": np.array([2.0])}, template).dtypes.astype(str).tolist()
        ['int64', 'object']
    """
    out = {}
    for column in template.columns:
        values = pd.Series(columns[column]).reset_index(drop=True)
        dtype = template[column].dtype
        if values.dtype != dtype:
            plain_int = isinstance(dtype, np.dtype) and dtype.kind in "iub"
            try:
                if not (plain_int and values.isna().any()):
                    values = values.astype(dtype)
            except (TypeError, ValueError):
                pass  # kept as drawn: the values cannot take the real dtype
        out[column] = values
    return pd.DataFrame(out, columns=template.columns)
