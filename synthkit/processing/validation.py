"""Checks on a training frame that turn bad input into clear errors."""

from __future__ import annotations

import pandas as pd

from synthkit._tables import check_table
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
        DataError: For a non-DataFrame, an empty frame, duplicate or non-string column
            names (see :func:`check_table`), an all-null column or an object column
            mixing value types.

    Example:
        >>> import pandas as pd
        >>> check_frame(pd.DataFrame({"a": [1, 2]})).shape
        (2, 1)
    """
    check_table(data)
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
