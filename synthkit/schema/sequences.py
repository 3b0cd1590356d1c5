"""Sequence data in long format: one row per event, an entity key and an order within it."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from synthkit.errors import DataError
from synthkit.metadata import Metadata
from synthkit.schema._arrow import to_arrow, to_pandas
from synthkit.schema._keys import metadata_for

__all__ = ["SequenceDataset", "SequenceError", "check_context_keys"]


class SequenceError(DataError):
    """Sequence keys are missing, null, duplicated or out of order."""


class SequenceDataset:
    """Long-format sequences whose keys are known and checked.

    Every row is one event of one entity (``sequence_key``); ``sequence_index``
    (a time or a counter) orders events within an entity. On construction the
    keys are validated: both columns exist and hold no nulls, and the index never
    decreases within an entity. Ties are allowed: several events of one entity may
    share an index value (tests taken the same day) and keep their row order.

    Args:
        data: The events, a DataFrame or Arrow table.
        sequence_key: Column naming the entity of each row.
        sequence_index: Column ordering events of an entity; ``None`` means the
            row order is the sequence order.
        metadata: Column kinds; detected when omitted. Its keys are set from the
            arguments.
        sort: Sort rows by entity then index (stable, so tied events keep their
            order) instead of refusing unsorted data.
        context: One row per entity keyed by ``sequence_key`` (entities without
            events included), or ``None``. :meth:`~synthkit.SequenceSynthesizer.fit`
            and :func:`~synthkit.evaluate` read it when no context is passed to them.
        context_metadata: The context's column kinds and rules (for example a
            declared ``Formula`` such as ``bmi = weight / (height / 100) ** 2``),
            read by :meth:`~synthkit.SequenceSynthesizer.fit`; detected there when
            omitted.

    Raises:
        SequenceError: If a key column is missing or has nulls, or the index
            decreases within an entity and ``sort`` is false.

    Example:
        >>> events = pd.DataFrame(
        ...     {"user": [1, 1, 1, 2], "day": [3, 5, 5, 1], "spent": [9.5, 3.0, 1.0, 4.25]}
        ... )
        >>> sequences = SequenceDataset(events, "user", "day")
        >>> sequences.n_entities, sequences.lengths().tolist()
        (2, [3, 1])
        >>> sequences.metadata.sequence_key, sequences.metadata.sequence_index
        ('user', 'day')
    """

    def __init__(
        self,
        data: pd.DataFrame | pa.Table,
        sequence_key: str,
        sequence_index: str | None = None,
        *,
        metadata: Metadata | None = None,
        sort: bool = False,
        context: pd.DataFrame | None = None,
        context_metadata: Metadata | None = None,
    ) -> None:
        frame = to_pandas(data) if isinstance(data, pa.Table) else data
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"Sequence data must be a DataFrame; got {type(data).__name__}.")
        self.sequence_key = sequence_key
        self.sequence_index = sequence_index
        _check_columns(frame, sequence_key, sequence_index)
        if sort:
            order = [sequence_key] + ([sequence_index] if sequence_index else [])
            frame = frame.sort_values(order, kind="stable", ignore_index=True)
        self.data = frame
        self.context = check_context_keys(context, sequence_key)
        if context_metadata is not None and not isinstance(context_metadata, Metadata):
            raise DataError(
                "context_metadata must be a synthkit.Metadata, got "
                f"{type(context_metadata).__name__}; build one with Metadata.detect(context)."
            )
        self.context_metadata = context_metadata
        self.validate()
        self.metadata = metadata_for(
            frame,
            metadata,
            id_columns=(sequence_key,),
            sequence_key=sequence_key,
            sequence_index=sequence_index,
        )

    def validate(self) -> None:
        """Check the keys; raises :class:`SequenceError` naming the first offending rows."""
        frame, key, index = self.data, self.sequence_key, self.sequence_index
        _check_columns(frame, key, index)
        for column in filter(None, (key, index)):
            nulls = frame[column].isna()
            if nulls.any():
                raise SequenceError(
                    f"Column {column!r} is a sequence key but has {int(nulls.sum())} missing "
                    f"value(s), first at row {int(nulls.to_numpy().argmax())}; drop or fill them."
                )
        if index is None:
            return
        # Ties are allowed: several events of one entity can share an index (lab
        # tests taken the same day); only a decrease breaks the order.
        previous = frame.groupby(key, sort=False)[index].shift()
        backwards = (frame[index] < previous).to_numpy()
        if backwards.any():
            row = int(backwards.argmax())
            raise SequenceError(
                f"Rows of {key}={_plain(frame[key].iloc[row])!r} are not ordered by {index!r} "
                f"(row {row} comes before an earlier value); sort the data or pass sort=True."
            )

    @property
    def n_entities(self) -> int:
        """Number of distinct entities."""
        return int(self.data[self.sequence_key].nunique())

    def lengths(self) -> pd.Series:
        """Number of events per entity, indexed by entity, in order of first appearance."""
        return self.data.groupby(self.sequence_key, sort=False).size()

    def to_arrow(self) -> pa.Table:
        """Return the events as an Arrow table (the long format that connectors write)."""
        return to_arrow(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return (
            f"SequenceDataset({len(self)} rows, {self.n_entities} entities, "
            f"sequence_key={self.sequence_key!r}, sequence_index={self.sequence_index!r})"
        )


def _check_columns(frame: pd.DataFrame, key: str, index: str | None) -> None:
    for role, column in (("sequence_key", key), ("sequence_index", index)):
        if column is not None and column not in frame.columns:
            raise SequenceError(
                f"{role}={column!r} is not a column; columns: {list(frame.columns)}."
            )


def check_context_keys(context: pd.DataFrame | None, key: str) -> pd.DataFrame | None:
    """Return ``context`` after checking it holds ``key`` once per entity (or is None)."""
    if context is None:
        return None
    if not isinstance(context, pd.DataFrame) or key not in context.columns:
        raise SequenceError(
            f"context must be a DataFrame with the sequence key column {key!r}, one row per "
            f"entity; got {type(context).__name__}"
            + (f" with columns {list(context.columns)}." if hasattr(context, "columns") else ".")
        )
    twice = context[key].duplicated()
    if twice.any():
        raise SequenceError(
            f"context has {key}={_plain(context[key][twice].iloc[0])!r} more than once; give "
            "one row per entity."
        )
    return context


def _plain(value: object) -> object:
    # numpy scalars print as np.int64(3); show the plain Python value in messages.
    return value.item() if hasattr(value, "item") else value
