"""The entity table of a sequence model: one row per entity, and checks of its input.

An entity's row holds its context columns plus the event columns that never
change within an entity (constant columns, learned once per entity). This
module checks the events and context given to ``fit`` and ``sample`` (keys
present, unique and known), finds the constant columns, builds the entity
table with its metadata, sizes the training of the context model that learns
it, describes the keys of new entities, and returns constant columns to the
events' dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import DataError
from synthkit.generators.base import BaseSynthesizer
from synthkit.metadata import Metadata
from synthkit.pii.ids import describe_ids
from synthkit.schema.sequences import SequenceDataset, SequenceError

# A column moves to the entity table only if this many entities show it constant
# over several events (one or two multi-event entities prove nothing).
_MIN_REPEATED_ENTITIES = 3
# A context model given neither epochs nor batch size trains for at least this many
# steps (and at most this many epochs): see _context_schedule.
_CONTEXT_STEPS = 300
_CONTEXT_MAX_EPOCHS = 15


def _as_sequences(
    data: Any, key: str | None, index: str | None, metadata: Metadata | None
) -> SequenceDataset:
    if isinstance(data, SequenceDataset):
        return data
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"Sequence data must be a SequenceDataset or a DataFrame; got {type(data).__name__}."
        )
    if key is None:
        raise DataError(
            "A frame of events needs sequence_key=<entity column> (and sequence_index=<order "
            "column>), or pass a synthkit.SequenceDataset."
        )
    return SequenceDataset(data, key, index, metadata=metadata)


def _check_keys(frame: pd.DataFrame, key: str) -> None:
    nulls = frame[key].isna()
    if nulls.any():
        raise SequenceError(
            f"The context's key column {key!r} has {int(nulls.sum())} missing value(s); every "
            "context row needs its entity key. Drop or fill those rows."
        )
    duplicated = frame[key].duplicated()
    if duplicated.any():
        value = _plain(frame[key][duplicated].iloc[0])
        raise SequenceError(
            f"The context has {int(duplicated.sum())} duplicate key(s) in {key!r} (first "
            f"{value!r}); the context needs one row per entity. Drop the duplicates."
        )


def _check_context(context: Any, key: str, events: pd.DataFrame) -> pd.DataFrame | None:
    if context is None:
        return None
    if not isinstance(context, pd.DataFrame):
        raise DataError(f"context must be a DataFrame; got {type(context).__name__}.")
    if key not in context.columns:
        raise SequenceError(
            f"The context has no column {key!r}, the sequence key; add the entity key to the "
            "context rows."
        )
    _check_keys(context, key)
    unknown = ~events[key].isin(context[key])
    if unknown.any():
        value = _plain(events[key][unknown].iloc[0])
        raise SequenceError(
            f"{int(events[key][unknown].nunique())} entities of the events are missing from "
            f"the context (first {key}={value!r}); add their context rows or drop their events."
        )
    return context.reset_index(drop=True)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, for messages."""
    return value.item() if hasattr(value, "item") else value


def _constant_columns(
    events: pd.DataFrame, codes: np.ndarray, lengths: np.ndarray, columns: list[str]
) -> list[str]:
    """Columns that take one value within every entity with several events."""
    repeated = lengths[codes] > 1
    if np.count_nonzero(lengths > 1) < _MIN_REPEATED_ENTITIES or not columns:
        return []
    subset = events.loc[repeated, columns]
    distinct = subset.groupby(codes[repeated]).nunique(dropna=False).max()
    return [c for c in columns if distinct[c] <= 1]


def _context_description(table: pd.DataFrame, key: str, metadata: Metadata | None) -> Metadata:
    """The context columns' metadata: the given one without the key, checked; else detected.

    Example:
        >>> table = pd.DataFrame({"age": [31, 45, 52]})
        >>> given = Metadata.detect(pd.DataFrame({"id": [1, 2, 3], "age": [31, 45, 52]}))
        >>> list(_context_description(table, "id", given).columns)
        ['age']
    """
    if metadata is None:
        return Metadata.detect(table)
    given = metadata.to_dict()
    given["columns"] = {c: e for c, e in given.get("columns", {}).items() if c != key}
    given["rules"] = [r.to_dict() for r in metadata.rules if key not in r.columns]
    for role in ("primary_key", "sequence_key", "sequence_index"):
        if given.get(role) == key:
            given.pop(role)
    return Metadata.for_data(table, Metadata.from_dict(given))


def _entity_table(
    context: pd.DataFrame | None,
    key: str,
    events: pd.DataFrame,
    constant: list[str],
    lengths: np.ndarray,
    offsets: np.ndarray,
    event_metadata: Metadata,
    context_metadata: Metadata | None = None,
) -> tuple[pd.DataFrame, Metadata]:
    """The context columns plus the constant event columns, one row per entity.

    The context's column kinds and rules come from ``context_metadata`` (its
    key column left out), else are detected.
    """
    n = len(lengths)
    entries: dict[str, dict[str, Any]] = {}
    context_rules: list[Any] = []
    if context is not None:
        table = context.drop(columns=[key])
        if table.shape[1]:
            described = _context_description(table, key, context_metadata)
            entries.update({c: described.column(c) for c in table.columns})
            context_rules = list(described.rules)
    else:
        table = pd.DataFrame(index=range(n))
    has_events = np.flatnonzero(lengths > 0)
    for column in constant:
        values = events[column].iloc[offsets[has_events]].set_axis(has_events)
        table[column] = values.reindex(range(n)).to_numpy()
        entries[column] = event_metadata.column(column)
    # Rules among the entity table's columns (a fixed combination of two constant
    # event columns, or the context's own) are kept by the context model.
    rules = [
        rule.to_dict()
        for rule in [*getattr(event_metadata, "rules", []), *context_rules]
        if set(rule.columns) <= set(table.columns)
    ]
    return table, Metadata.from_dict({"columns": entries, "rules": rules})


def _context_schedule(model_class: type[BaseSynthesizer], n_rows: int) -> dict[str, int]:
    """Batch size and epochs of a context model given neither: enough steps for its rows.

    The entity table has one row per entity, often a few thousand rows: a table
    model's defaults (batches of hundreds, ten epochs) would take a few dozen
    optimizer steps on it and underfit the context. Batches of a twentieth of
    the rows and ``_CONTEXT_STEPS`` steps fit it better; at most
    ``_CONTEXT_MAX_EPOCHS`` passes, as more passes over a few thousand rows
    bring synthetic entities nearer the training ones (a higher DCR share).

    Example:
        >>> from synthkit.generators.registry import GENERATORS
        >>> _context_schedule(GENERATORS.get("ar"), 1_500)
        {'batch_size': 75, 'epochs': 15}
        >>> _context_schedule(GENERATORS.get("ar"), 50_000)
        {'batch_size': 512, 'epochs': 10}
    """
    names = set(model_class._param_names())
    if not {"epochs", "batch_size"} <= names:
        return {}
    batch = int(min(512, max(64, n_rows // 20)))
    per_epoch = max(-(-n_rows // batch), 1)
    epochs = int(min(max(10, -(-_CONTEXT_STEPS // per_epoch)), _CONTEXT_MAX_EPOCHS))
    return {"batch_size": batch, "epochs": epochs}


def _is_number(values: pd.Series) -> bool:
    """Whether ``values`` hold numbers (booleans are not)."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _key_entry(keys: pd.Series) -> dict[str, Any]:
    entry = describe_ids(keys, numeric=_is_number(keys))
    if entry is None:  # numbers that are not whole: new integers above every real key
        return {"kind": "id", "id_type": "integer", "min": 0, "max": int(np.ceil(keys.max()))}
    return entry


def _like(values: pd.Series, dtype: str) -> pd.Series:
    """``values`` in the real column's dtype where that loses nothing."""
    if str(values.dtype) == dtype:
        return values
    try:
        if values.isna().any() and np.dtype(dtype).kind in "iub":
            return values
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values
