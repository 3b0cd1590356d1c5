"""Metadata for the tables a connector builds: detected kinds plus the keys it knows."""

from __future__ import annotations

from typing import Any

import pandas as pd

from synthkit.metadata import Metadata

__all__ = ["metadata_for"]


def metadata_for(
    frame: pd.DataFrame,
    given: Metadata | None = None,
    *,
    id_columns: tuple[str, ...] = (),
    **keys: str | None,
) -> Metadata:
    """Return metadata for ``frame`` with ``keys`` (primary/sequence roles) set.

    ``given`` is validated against ``frame`` and copied; otherwise kinds are
    detected. Key columns listed in ``id_columns`` get the ``id`` kind.
    """
    if given is not None:
        given.validate(frame)
        base = given.to_dict()
    else:
        base = _detected(frame).to_dict()
    for column in id_columns:
        base["columns"][column] = {"kind": "id"}
    base.update({role: column for role, column in keys.items() if column is not None})
    return Metadata.from_dict(base)


def _detected(frame: pd.DataFrame) -> Metadata:
    try:
        return Metadata.detect(frame)
    except ModuleNotFoundError as error:
        # Until the core detector ships, fall back to kinds read from the dtypes.
        if error.name != "synthkit._detection":
            raise
    return Metadata({str(name): _kind_of(frame[name]) for name in frame.columns})


def _kind_of(column: pd.Series) -> dict[str, Any]:
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return {"kind": "boolean"}
    if pd.api.types.is_numeric_dtype(dtype):
        return {"kind": "numerical", "integer": pd.api.types.is_integer_dtype(dtype)}
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return {"kind": "datetime"}
    return {"kind": "categorical"}
