"""Training and holdout parts of real data, split by its unit of privacy.

A holdout is the privacy reference of every distance metric and gate: it must
share no person with the training part. For a table the unit is the row; for
sequences it is the entity with all its events (and its context row, events or
not); for related tables it is the root entity with every row hanging off it.
Splitting by row where the unit is larger puts one patient's visits on both sides
and makes a copy look like fresh data.
"""

from __future__ import annotations

import warnings
from typing import overload

import numpy as np
import pandas as pd

from synthkit.errors import DataError
from synthkit.schema.records import RecordDataset, RecordError
from synthkit.schema.sequences import SequenceDataset, check_context_keys

__all__ = ["holdout_split"]


@overload
def holdout_split(
    data: pd.DataFrame, holdout: float | int = ..., *, random_state: int = ...
) -> tuple[pd.DataFrame, pd.DataFrame]: ...


@overload
def holdout_split(
    data: SequenceDataset,
    holdout: float | int = ...,
    *,
    random_state: int = ...,
    context: pd.DataFrame | None = ...,
) -> tuple[SequenceDataset, SequenceDataset]: ...


@overload
def holdout_split(
    data: RecordDataset,
    holdout: float | int = ...,
    *,
    random_state: int = ...,
    root: str | None = ...,
) -> tuple[RecordDataset, RecordDataset]: ...


def holdout_split(
    data: pd.DataFrame | SequenceDataset | RecordDataset,
    holdout: float | int = 0.3,
    *,
    random_state: int = 0,
    context: pd.DataFrame | None = None,
    root: str | None = None,
) -> tuple:
    """Split real data into a training part and a holdout that shares no unit with it.

    Tables split by row. Sequences split by entity: every event of an entity,
    and its context row, land on one side; entities of ``context`` without
    events are split too (they are histories of length 0). Related tables split
    by root entity: a root row goes to one side with its children,
    grandchildren and so on; tables outside that tree (lookup tables such as
    airports) are copied whole to both sides, since they are not about anyone.

    Args:
        data: A DataFrame, a :class:`~synthkit.SequenceDataset` or a
            :class:`~synthkit.RecordDataset`.
        holdout: The holdout's share of the units (between 0 and 1), or its
            number of units (an integer of at least 1).
        random_state: Seed of the shuffle; the same seed gives the same split.
        context: Sequences only: one row per entity, keyed by the sequence key.
            Defaults to ``data.context`` where the dataset carries one. Each side
            returned carries its part as ``.context``, which
            :meth:`~synthkit.SequenceSynthesizer.fit` and
            :func:`~synthkit.evaluate` read.
        root: Related tables only: the table whose rows are the units. Found when
            exactly one table without a parent has children.

    Returns:
        ``(train, holdout)`` of the same type as ``data``.

    Raises:
        DataError: For a holdout size that leaves a side empty, or ``context`` or
            ``root`` given for data of another shape.
        SequenceError: For a context without the sequence key column, or with an
            entity twice.
        RecordError: For a ``root`` that is not a table without a parent, or
            several candidate roots and none named.

    Example:
        >>> import synthkit
        >>> events = pd.DataFrame({"user": [1, 1, 2, 3, 3, 3], "day": [1, 2, 1, 1, 4, 6]})
        >>> users = pd.DataFrame({"user": [1, 2, 3, 4], "age": [30, 41, 25, 60]})
        >>> train, held = synthkit.holdout_split(
        ...     synthkit.SequenceDataset(events, "user", "day"), holdout=2, context=users
        ... )
        >>> sorted(train.context["user"]) + sorted(held.context["user"])
        [2, 4, 1, 3]
        >>> set(train.data["user"]) & set(held.data["user"])
        set()
    """
    if isinstance(data, SequenceDataset):
        if root is not None:
            raise DataError("root= applies to related tables; drop it for sequences.")
        return _split_sequences(data, holdout, random_state, context)
    if context is not None:
        raise DataError("context= applies to sequences; pass a SequenceDataset, or drop it.")
    if isinstance(data, RecordDataset):
        return _split_records(data, holdout, random_state, root)
    if root is not None:
        raise DataError("root= applies to related tables; drop it for a table.")
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"holdout_split takes a DataFrame, SequenceDataset or RecordDataset, got "
            f"{type(data).__name__}."
        )
    held = _held_out(len(data), holdout, random_state, "rows")
    return (
        data.loc[~held].reset_index(drop=True),
        data.loc[held].reset_index(drop=True),
    )


def _held_out(n_units: int, holdout: float | int, random_state: int, unit: str) -> np.ndarray:
    """A boolean mask over ``n_units`` marking a seeded random holdout of the asked size."""
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float, np.integer, np.floating)):
        raise DataError(f"holdout must be a share in (0, 1) or a count of {unit}; got {holdout!r}.")
    if isinstance(holdout, (int, np.integer)):
        size = int(holdout)
    elif 0 < holdout < 1:
        size = round(float(holdout) * n_units)
    else:
        raise DataError(
            f"holdout={holdout!r} is not a share between 0 and 1; pass a share such as 0.3 "
            f"or a whole number of {unit}."
        )
    if not 1 <= size < n_units:
        raise DataError(
            f"holdout={holdout!r} puts {size} of {n_units} {unit} in the holdout; both sides "
            "need at least one. Pass a smaller holdout, or more data."
        )
    order = np.random.default_rng(random_state).permutation(n_units)
    mask = np.zeros(n_units, dtype=bool)
    mask[order[:size]] = True
    return mask


def _split_sequences(
    data: SequenceDataset, holdout: float | int, random_state: int, context: pd.DataFrame | None
) -> tuple[SequenceDataset, SequenceDataset]:
    key = data.sequence_key
    context = check_context_keys(data.context if context is None else context, key)
    keys = pd.unique(data.data[key])
    if context is not None:
        keys = pd.unique(np.concatenate([context[key].to_numpy(), keys]))
    held_keys = keys[_held_out(len(keys), holdout, random_state, "entities")]

    def part(in_holdout: bool) -> SequenceDataset:
        rows = data.data[data.data[key].isin(held_keys) == in_holdout].reset_index(drop=True)
        side_context = None
        if context is not None:
            side_context = context[context[key].isin(held_keys) == in_holdout]
            side_context = side_context.reset_index(drop=True)
        return SequenceDataset(
            rows,
            key,
            data.sequence_index,
            metadata=data.metadata,
            context=side_context,
            context_metadata=getattr(data, "context_metadata", None),
        )

    return part(False), part(True)


def _split_records(
    data: RecordDataset, holdout: float | int, random_state: int, root: str | None
) -> tuple[RecordDataset, RecordDataset]:
    root = _split_root(data, root)
    roots = data.tables[root]
    held = _held_out(len(roots), holdout, random_state, f"{root} rows")
    sides: list[dict[str, pd.DataFrame]] = [{}, {}]
    for side, mask in enumerate((~held, held)):
        sides[side][root] = roots.loc[mask].reset_index(drop=True)
    tree = {root}
    for name in data.parents_first:
        links = [link for link in data.parents_of(name) if link.parent in tree]
        if name == root or not links:
            continue
        tree.add(name)
        frame = data.tables[name]
        masks = []
        for side in (0, 1):
            inside = np.ones(len(frame), dtype=bool)
            for link in links:
                parents = sides[side][link.parent][link.parent_key]
                values = frame[link.child_key]
                inside &= (values.isin(parents) | values.isna()).to_numpy()
            masks.append(inside)
        straddling = ~(masks[0] | masks[1])
        if straddling.any():
            warnings.warn(
                f"{int(straddling.sum())} row(s) of {name!r} point at parents on both sides of "
                f"the split of {root!r}; they belong to neither side and are left out.",
                stacklevel=3,
            )
        for side in (0, 1):
            sides[side][name] = frame.loc[masks[side]].reset_index(drop=True)
    for name, frame in data.tables.items():
        for side in (0, 1):
            sides[side].setdefault(name, frame)
    return data.with_tables(sides[0]), data.with_tables(sides[1])


def _split_root(data: RecordDataset, root: str | None) -> str:
    candidates = [name for name in data.roots if data.children_of(name)]
    if root is not None:
        if root not in data.roots:
            raise RecordError(
                f"root={root!r} is not a table without a parent; the units of a split are "
                f"rows of one of {data.roots}."
            )
        return root
    if data.root is not None and data.root in candidates:
        return data.root
    if len(candidates) != 1:
        raise RecordError(
            f"Several tables could be the unit of the split ({candidates}); name one with "
            "root=..., the table whose rows are the people (or things) to keep apart."
        )
    return candidates[0]
