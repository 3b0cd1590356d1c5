"""A table's column statistics, gathered from record batches, for encoders fitted on a stream.

:class:`TableStatistics` reads a table batch by batch (pandas frames of a few
thousand rows) and keeps, per column, what an encoder's fit reads from the
whole frame: exact category counts, a :class:`~synthkit.processing.sketches.
NumericSketch` of each numerical or datetime column, the column's dtype, whether
it is constant, and what regenerating a never-learned column needs.
:meth:`BaseEncoder.fit_statistics <synthkit.processing.base.BaseEncoder.fit_statistics>`
then fits an encoder from it as ``fit`` does from a frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import DataError
from synthkit.metadata import Kind, Metadata
from synthkit.processing.columns import (
    datetime_resolution,
    datetime_to_float,
    dtype_state,
    to_datetime,
    to_float,
)
from synthkit.processing.regeneration import regeneration_entry
from synthkit.processing.sketches import CategoryCounts, NumericSketch

__all__ = ["TableStatistics"]

_NUMERIC_KINDS = ("numerical", "datetime")


class TableStatistics:
    """Per-column statistics of a table read in batches.

    Args:
        metadata: The table's column kinds.
        sample: Rows drawn uniformly from the whole table (metadata detection's
            sample): text columns' word counts are read from it.
        sample_size: Values of each numerical column's uniform sample.
        extremes: Smallest and largest values kept exactly per numerical column
            (at least the value-protection threshold).
        seed: Seed of the numerical samples.

    Example:
        >>> import pandas as pd
        >>> from synthkit.metadata import Metadata
        >>> frame = pd.DataFrame({"x": [1.5, 2.5, None, 4.0], "c": ["a", "b", "a", "a"]})
        >>> stats = TableStatistics(Metadata.detect(frame), frame, sample_size=100)
        >>> stats.update(frame.iloc[:2])
        >>> stats.update(frame.iloc[2:])
        >>> stats.n_rows, stats.numeric["x"].n_missing
        (4, 1)
        >>> stats.categories["c"].value_counts().tolist()
        [3, 1]
    """

    def __init__(
        self,
        metadata: Metadata,
        sample: pd.DataFrame,
        sample_size: int = 200_000,
        extremes: int = 5,
        seed: int = 0,
    ) -> None:
        self.metadata = metadata
        self.sample = sample
        self.n_rows = 0
        self.numeric: dict[str, NumericSketch] = {}
        self.categories: dict[str, CategoryCounts] = {}
        self.datetime_details: dict[str, dict[str, Any]] = {}
        self._dtypes: dict[str, pd.Series] = {}
        self._dtype_with_missing: dict[str, bool] = {}
        self._examples: dict[str, pd.Series] = {}
        self._missing: dict[str, int] = {}
        seeds = np.random.SeedSequence(seed).spawn(len(metadata.columns))
        for (column, entry), child in zip(metadata.columns.items(), seeds, strict=True):
            self._missing[column] = 0
            if not Kind(entry["kind"]).learned:
                if _needs_every_value(entry):
                    self.categories[column] = CategoryCounts()
            elif entry["kind"] in _NUMERIC_KINDS:
                child_seed = int(child.generate_state(1)[0])
                self.numeric[column] = NumericSketch(sample_size, extremes, child_seed)
            else:
                self.categories[column] = CategoryCounts()

    def update(self, frame: pd.DataFrame) -> None:
        """Add one batch of rows."""
        if not len(frame):
            return
        self.n_rows += len(frame)
        for column, entry in self.metadata.columns.items():
            series = frame[column]
            missing = int(series.isna().sum())
            self._missing[column] += missing
            # The whole column's dtype is the one a batch with missing values has
            # (integers with gaps read as floats or nullable integers).
            if column not in self._dtypes or (missing and not self._dtype_with_missing[column]):
                self._dtypes[column] = series.iloc[:0]
                self._dtype_with_missing[column] = bool(missing)
            if column not in self._examples and missing < len(series):
                self._examples[column] = series.dropna().iloc[:1]
            if column in self.numeric:
                self.numeric[column].update(self._floats(column, series, entry))
            elif column in self.categories:
                self.categories[column].update(series)

    def _floats(self, column: str, series: pd.Series, entry: dict[str, Any]) -> np.ndarray:
        if entry["kind"] != "datetime":
            return to_float(column, series)
        parsed = to_datetime(column, series, entry.get("format"))
        values = datetime_to_float(parsed)
        details = self.datetime_details.setdefault(
            column,
            {
                "timezone": str(parsed.dt.tz) if parsed.dt.tz is not None else None,
                "unit_ns": float(86_400 * 10**9),
            },
        )
        # The whole column's unit is the finest of its batches' units.
        details["unit_ns"] = min(details["unit_ns"], datetime_resolution(values))
        return values

    # ------------------------------------------------------------------ results
    def check(self) -> None:
        """Raise, as ``fit`` on the whole frame would, for an empty table or an all-null column.

        Raises:
            DataError: If no rows were read or a learned column has no values.
        """
        if not self.n_rows:
            raise DataError("The source has no rows; fit on a source with data.")
        for column in self.metadata.learned_columns:
            if self._missing[column] == self.n_rows:
                raise DataError(
                    f"Column {column!r} has no values (all {self.n_rows} rows are missing). "
                    "Drop it from the source (columns=[...]) or fill it before fitting."
                )

    def dtype(self, column: str) -> dict[str, Any]:
        """:func:`~synthkit.processing.columns.dtype_state` of the whole column."""
        return dtype_state(self._dtypes[column])

    def is_constant(self, column: str) -> bool:
        """Whether every row holds the same value (or every row is missing)."""
        if column in self.numeric:
            sketch = self.numeric[column]
            return sketch.n_observed == 0 or (
                sketch.minimum == sketch.maximum and not sketch.n_missing
            )
        return len(self.categories[column]) <= 1

    def constant_example(self, column: str) -> pd.Series:
        """The column's single value, in its dtype (for a constant column's description)."""
        example = self._examples.get(column, self._dtypes[column])
        return example.astype(self._dtypes[column].dtype)

    def regeneration(self, column: str, entry: dict[str, Any]) -> dict[str, Any]:
        """What regenerating the never-learned ``column`` needs (see ``regeneration_entry``).

        Name columns see every distinct real value, so that no real name stays in
        their candidate pools; text columns' word counts come from the sample.
        """
        if column in self.categories:
            source = pd.Series(self.categories[column].value_counts().index, dtype=object)
        else:
            source = self.sample[column]
        out = regeneration_entry(entry, source)
        out["null_share"] = self._missing[column] / max(self.n_rows, 1)
        return out


def _needs_every_value(entry: dict[str, Any]) -> bool:
    from synthkit.pii.names import NAME_TYPES

    return entry["kind"] == "pii" and entry.get("pii_type") in NAME_TYPES
