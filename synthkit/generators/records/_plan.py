"""Which table is modelled how: fitting order, owners, kept tables, checked options.

A record model walks the tables parents first. A table without a parent is a
root (a table model); every other table is sequences under one **owner** parent
(its only parent, else the first relationship listed for it unless the user
names another); its other foreign keys are filled apart. Kept tables are public
reference tables copied unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from synthkit.schema.records import RecordDataset, RecordError, Relationship

__all__ = ["checked_options", "fitting_order", "owner_of"]

logger = logging.getLogger("synthkit")


def checked_options(
    dataset: Any,
    owners: Mapping[str, str] | None,
    sequence_index: Mapping[str, str] | None,
    keep: Sequence[str] | str,
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Check ``fit``'s options against the dataset; return them as plain containers.

    Raises:
        RecordError: For a dataset that is not a RecordDataset, an unknown table
            or column, an owner that is not a parent of its table, an index on a
            table without parent, or a kept table whose parent is synthesized.

    Example:
        >>> import pandas as pd
        >>> data = RecordDataset({"p": pd.DataFrame({"id": [1]}),
        ...                       "c": pd.DataFrame({"id": [1], "x": [0.5]})},
        ...                      [Relationship("p", "c", "id", "id")])
        >>> checked_options(data, None, {"c": "x"}, "p")
        ({}, {'c': 'x'}, ['p'])
        >>> try:
        ...     checked_options(data, {"c": "q"}, None, ())
        ... except RecordError as error:
        ...     print(error)
        owners names 'q' for table 'c', but 'c' has no parent 'q'; its parents are ['p'].
    """
    if not isinstance(dataset, RecordDataset):
        raise RecordError(
            f"RecordSynthesizer.fit takes a synthkit.RecordDataset, got {type(dataset).__name__}; "
            "build one with RecordDataset(tables, relationships) or RecordDataset.from_records."
        )
    tables = dataset.tables
    owners = _mapping("owners", owners)
    sequence_index = _mapping("sequence_index", sequence_index)
    keep = [keep] if isinstance(keep, str) else list(keep)
    for option, names in (("owners", owners), ("sequence_index", sequence_index), ("keep", keep)):
        unknown = [name for name in names if name not in tables]
        if unknown:
            raise RecordError(
                f"{option} names unknown table(s) {unknown}; the tables are {sorted(tables)}."
            )
    for table, parent in owners.items():
        parents = parents_of(dataset, table)
        if parent not in parents:
            raise RecordError(
                f"owners names {parent!r} for table {table!r}, but {table!r} has no parent "
                f"{parent!r}; its parents are {parents}."
            )
    for table, column in sequence_index.items():
        if not parents_of(dataset, table):
            raise RecordError(
                f"sequence_index names table {table!r}, which has no parent: only child "
                "tables are sequences of their parent's rows. Drop it from sequence_index."
            )
        if column not in tables[table].columns:
            raise RecordError(
                f"sequence_index names column {column!r} of table {table!r}, which has none; "
                f"its columns are {list(tables[table].columns)}."
            )
    for table in keep:
        synthesized = [p for p in parents_of(dataset, table) if p not in keep]
        if synthesized:
            raise RecordError(
                f"keep lists {table!r} but not its parent(s) {synthesized}: a kept table keeps "
                "its real keys, which synthetic parents do not have. Keep those parents too, "
                f"or synthesize {table!r}."
            )
    return owners, sequence_index, keep


def parents_of(dataset: RecordDataset, table: str) -> list[str]:
    """The parent tables of ``table``, in the order their relationships are listed."""
    return list(dict.fromkeys(r.parent for r in dataset.relationships if r.child == table))


def owner_of(dataset: RecordDataset, table: str, owners: Mapping[str, str]) -> Relationship | None:
    """The relationship whose parent rows are ``table``'s entities, or None for a root.

    Example:
        >>> import pandas as pd
        >>> frames = {"a": pd.DataFrame({"k": [1]}), "f": pd.DataFrame({"o": [1], "d": [1]})}
        >>> links = [Relationship("a", "f", "k", "o"), Relationship("a", "f", "k", "d")]
        >>> owner_of(RecordDataset(frames, links), "f", {}).child_key
        'o'
    """
    links = [r for r in dataset.relationships if r.child == table]
    if not links:
        return None
    wanted = owners.get(table)
    owner = next(r for r in links if wanted is None or r.parent == wanted)
    if len(links) > 1:
        others = [f"{r.child_key}->{r.parent}" for r in links if r is not owner]
        how = "named in owners" if wanted is not None else "the first relationship listed"
        logger.info(
            "Table %r: owner %r via %r (%s); other keys %s are filled apart. Pass "
            "owners={%r: <parent>} to choose another.",
            table,
            owner.parent,
            owner.child_key,
            how,
            others,
            table,
        )
    return owner


def fitting_order(dataset: RecordDataset) -> list[str]:
    """Tables with every parent before its children (listing order among equals).

    Raises:
        RecordError: If the relationships form a cycle.
    """
    remaining = {name: set(parents_of(dataset, name)) for name in dataset.tables}
    order: list[str] = []
    while remaining:
        ready = [name for name, parents in remaining.items() if not parents]
        if not ready:
            raise RecordError(
                f"The relationships among tables {sorted(remaining)} form a cycle (or a table "
                "points at itself); a record model needs parents before children. Drop one "
                "relationship of the cycle."
            )
        for name in ready:
            order.append(name)
            del remaining[name]
        for parents in remaining.values():
            parents.difference_update(ready)
    return order


def _mapping(option: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise RecordError(
            f"{option} must be a dict of table name to name, such as {{'flights': 'planes'}}; "
            f"got {value!r}."
        )
    return dict(value)
