"""Conversions between pandas and Arrow that keep dtypes through a round trip."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from synthkit.errors import DataError, ParameterError

__all__ = ["apply_dtypes", "to_arrow", "to_pandas"]


def to_arrow(data: pd.DataFrame | pa.Table) -> pa.Table:
    """Return ``data`` as an Arrow table that remembers its pandas dtypes.

    Arrow's pandas metadata records categories, nullable integers and time zones,
    so Parquet and Arrow files give the same frame back. The index is not kept:
    call ``reset_index()`` first to save it as a column.

    Raises:
        DataError: Naming the column Arrow cannot store (for example mixed types).

    Example:
        >>> frame = pd.DataFrame({"n": pd.array([1, None], dtype="Int64")})
        >>> to_pandas(to_arrow(frame)).dtypes["n"]
        Int64Dtype()
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"Expected a pandas DataFrame or pyarrow Table, got {type(data).__name__}.")
    if not data.columns.is_unique:
        duplicated = sorted(set(data.columns[data.columns.duplicated()].map(str)))
        raise DataError(f"Column names must be unique; repeated: {duplicated}.")
    try:
        return pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
        column = _failing_column(data)
        raise DataError(
            f"Column {column!r} cannot be stored ({error}); give it one type, for example "
            f"df[{column!r}] = df[{column!r}].astype(str)."
        ) from None


def _failing_column(data: pd.DataFrame) -> Any:
    # Only on the error path: find which column Arrow rejects, to name it.
    for name in data.columns:
        try:
            pa.Table.from_pandas(data[[name]], preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return name
    return None


def to_pandas(table: pa.Table, dtypes: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Return ``table`` as a DataFrame, restoring saved pandas dtypes and applying ``dtypes``.

    Tables without pandas metadata (CSV, JSON, SQL) keep integer and boolean
    columns with missing values as pandas' nullable ``Int64``/``boolean`` instead
    of silently turning them into floats or objects.

    Example:
        >>> table = pa.table({"n": [1, None, 3], "s": ["a", "b", None]})
        >>> to_pandas(table).dtypes.astype(str).tolist()
        ['Int64', 'object']
    """
    has_pandas_schema = table.schema.metadata is not None and b"pandas" in table.schema.metadata
    frame = table.to_pandas()
    if not has_pandas_schema:
        for index, field in enumerate(table.schema):
            column = table.column(index)
            if column.null_count and str(field.type) in _NULLABLE:
                nullable = pd.api.types.pandas_dtype(_NULLABLE[str(field.type)])
                frame[field.name] = column.to_pandas(types_mapper={field.type: nullable}.get)
    return apply_dtypes(frame, dtypes) if dtypes else frame


_NULLABLE = {
    "int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64",
    "uint8": "UInt8", "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64",
    "bool": "boolean",
}  # fmt: skip


def apply_dtypes(frame: pd.DataFrame, dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """Cast columns of ``frame`` to the pandas dtypes in ``dtypes`` (name -> dtype).

    A time zone in the target dtype converts tz-aware values; naive values are taken as UTC.

    Raises:
        ParameterError: Naming an unknown column or a cast that fails.

    Example:
        >>> frame = pd.DataFrame({"code": ["a", "b", "a"]})
        >>> apply_dtypes(frame, {"code": "category"}).dtypes["code"]
        CategoricalDtype(categories=['a', 'b'], ordered=False, categories_dtype=object)
    """
    frame = frame.copy(deep=False)
    for name, dtype in dtypes.items():
        if name not in frame.columns:
            raise ParameterError(
                f"dtypes names column {name!r}, which is not in the data; "
                f"columns: {list(frame.columns)}."
            )
        try:
            target = pd.api.types.pandas_dtype(dtype)
            column = frame[name]
            if isinstance(target, pd.DatetimeTZDtype):
                if not isinstance(column.dtype, pd.DatetimeTZDtype):
                    # synthkit's writers store instants in UTC; naive text is read as UTC.
                    column = pd.to_datetime(column, utc=True)
                frame[name] = column.dt.tz_convert(target.tz).astype(target)
            else:
                frame[name] = column.astype(target)
        except (TypeError, ValueError) as error:
            raise ParameterError(
                f"Cannot cast column {name!r} to dtype {dtype!r}: {error}."
            ) from None
    return frame
