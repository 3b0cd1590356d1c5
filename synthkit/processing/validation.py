"""Checks on a training frame that turn bad input into clear errors."""

from __future__ import annotations

import pandas as pd

from synthkit.errors import DataError
from synthkit.metadata import Metadata

__all__ = ["check_frame"]

_MIXED = {"mixed", "mixed-integer"}


def check_frame(data: object, metadata: Metadata | None = None) -> pd.DataFrame:
    """Check that ``data`` can be learned from; return it as a DataFrame.

    Args:
        data: The training table.
        metadata: Its metadata, if already known; columns it does not learn
            (ids, PII, text) are not checked for content.

    Raises:
        DataError: For a non-DataFrame, an empty frame, duplicate column names, an
            all-null column or an object column mixing value types.

    Example:
        >>> import pandas as pd
        >>> check_frame(pd.DataFrame({"a": [1, 2]})).shape
        (2, 1)
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"Expected a pandas DataFrame, got {type(data).__name__}; "
            "wrap it with pd.DataFrame(...) or load it with synthkit.load(...)."
        )
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise DataError(
            f"The data is empty ({data.shape[0]} rows x {data.shape[1]} columns); "
            "a model needs at least one row and one column."
        )
    duplicated = data.columns[data.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(f"Column names {duplicated} appear more than once; rename them.")
    learned = metadata.learned_columns if metadata is not None else list(data.columns)
    for column in learned:
        series = data[column]
        if series.isna().all():
            raise DataError(
                f"Column {column!r} has no values (all {len(series)} rows are missing). "
                f"Drop it with df.drop(columns=[{column!r}]) or fill it before fitting."
            )
        if series.dtype == object:
            inferred = pd.api.types.infer_dtype(series, skipna=True)
            if inferred in _MIXED:
                kinds = sorted({type(v).__name__ for v in series.dropna().head(1000)})
                raise DataError(
                    f"Column {column!r} mixes value types ({', '.join(kinds)}). Make it one "
                    f"type, e.g. df[{column!r}] = df[{column!r}].astype(str) for categories "
                    f"or pd.to_numeric(df[{column!r}], errors='coerce') for numbers."
                )
    return data
