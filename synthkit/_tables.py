"""The checks every table passed to synthkit gets first, wherever it enters."""

from __future__ import annotations

from typing import Any

import pandas as pd

from synthkit.errors import DataError

__all__ = ["check_table"]


def check_table(data: Any, name: str = "The data") -> pd.DataFrame:
    """Check that ``data`` is a non-empty DataFrame with unique string column names.

    Args:
        data: The table.
        name: How messages refer to it (for example ``"synthetic"``).

    Returns:
        ``data``, unchanged.

    Raises:
        DataError: Naming what is wrong and how to fix it.

    Example:
        >>> check_table(pd.DataFrame({"a": [1]})).shape
        (1, 1)
        >>> check_table(pd.DataFrame(), "real")
        Traceback (most recent call last):
        ...
        synthkit.errors.DataError: real is empty (0 rows x 0 columns): it has no columns; pass a table with at least one row and one column.
    """  # noqa: E501
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"{name} must be a pandas DataFrame, got {type(data).__name__}; wrap it with "
            "pd.DataFrame(...) or load it with synthkit.load(...)."
        )
    rows, columns = data.shape
    if rows == 0 or columns == 0:
        missing = "columns" if columns == 0 else "rows"
        raise DataError(
            f"{name} is empty ({rows} rows x {columns} columns): it has no {missing}; "
            "pass a table with at least one row and one column."
        )
    not_text = [column for column in data.columns if not isinstance(column, str)]
    if not_text:
        raise DataError(
            f"Column names must be strings; {name} has {not_text[:5]!r}. Rename them, for "
            "example with df.columns = df.columns.astype(str)."
        )
    duplicated = data.columns[data.columns.duplicated()].unique().tolist()
    if duplicated:
        raise DataError(
            f"Column name(s) {duplicated} appear more than once in {name}; rename them so "
            "every column name is unique."
        )
    return data
