"""Inputs of a records evaluation: schema checks, the root entity, keys and per-table kinds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from synthkit.errors import EvaluationError
from synthkit.metadata import Metadata
from synthkit.schema.records import RecordDataset
from synthkit.schema.relationship import Relationship

__all__ = [
    "Tables",
    "check_split_by_root",
    "checked_index",
    "checked_tables",
    "choose_root",
    "descendant_paths",
    "key_columns",
    "table_metadata",
]

Tables = Mapping[str, pd.DataFrame]


def checked_index(
    real: RecordDataset, sequence_index: Mapping[str, str] | None, metadata: Mapping[str, Metadata]
) -> dict[str, str]:
    """Child table to the scored column that orders its rows, checked against the tables."""
    found = dict(sequence_index or {})
    for table, column in found.items():
        if table not in real.tables:
            raise EvaluationError(
                f"sequence_index names table {table!r}, which the database lacks; tables: "
                f"{list(real.tables)}."
            )
        kinds = {c: metadata[table].kind(c) for c in real.tables[table].columns}
        if kinds.get(column) not in ("numerical", "datetime"):
            raise EvaluationError(
                f"sequence_index[{table!r}]={column!r} must be a number or date column of "
                f"{table!r}; its scored columns: "
                f"{[c for c, k in kinds.items() if k in ('numerical', 'datetime')]}."
            )
    return found


def descendant_paths(
    relationships: Sequence[Relationship], root: str
) -> dict[str, list[Relationship]]:
    """For each table below ``root``, the first foreign-key path down to it (breadth first).

    Example:
        >>> links = [Relationship("patients", "visits", "id", "id"),
        ...          Relationship("visits", "results", "visit", "visit")]
        >>> {table: len(path) for table, path in descendant_paths(links, "patients").items()}
        {'visits': 1, 'results': 2}
    """
    paths: dict[str, list[Relationship]] = {}
    frontier: list[list[Relationship]] = [[]]
    while frontier:
        following = []
        for path in frontier:
            table = path[-1].child if path else root
            for link in relationships:
                if link.parent == table and link.child not in paths and link.child != root:
                    paths[link.child] = [*path, link]
                    following.append(paths[link.child])
        frontier = following
    return paths


def choose_root(real: RecordDataset, chosen: str | None = None) -> tuple[str, str]:
    """The table whose rows are the privacy unit, and how it was chosen.

    Example:
        >>> db = RecordDataset({"cards": pd.DataFrame({"card": [1, 2], "limit": [5.0, 9.0]}),
        ...                     "payments": pd.DataFrame({"card": [1, 1], "amount": [2.0, 3.0]})},
        ...                    [Relationship("cards", "payments", "card", "card")])
        >>> choose_root(db)
        ('cards', "the database's root table 'cards'")
    """
    if chosen is not None:
        if chosen not in real.tables:
            raise EvaluationError(
                f"root={chosen!r} is not a table of the real database; tables: {list(real.tables)}."
            )
        return chosen, f"{chosen!r}, as given"
    root = getattr(real, "root", None)
    if root is not None:
        return root, f"the database's root table {root!r}"
    children = {link.child for link in real.relationships}
    candidates = [name for name in real.tables if name not in children]
    if not candidates:
        raise EvaluationError(
            "Every table of the real database is a child of another; records need a root "
            "table (one without a parent) to define the unit of privacy: pass root=..."
        )

    def reach(name: str) -> tuple[int, int]:
        return len(descendant_paths(real.relationships, name)), len(real.tables[name])

    best = max(candidates, key=reach)
    return best, (
        f"{best!r}, the table without a parent that most tables hang off, then the largest "
        f"(candidates: {candidates}); pass root=... to choose another"
    )


def key_columns(real: RecordDataset) -> dict[str, set[str]]:
    """Primary and foreign keys and synthkit's own columns, per table: never scored."""
    keys: dict[str, set[str]] = {name: set() for name in real.tables}
    for table, key in real.primary_keys.items():
        keys.setdefault(table, set()).add(key)
    for link in real.relationships:
        keys[link.parent].add(link.parent_key)
        keys[link.child].add(link.child_key)
    for table, columns in getattr(real, "generated", {}).items():
        keys.setdefault(table, set()).update(columns)
    return keys


def table_metadata(real: RecordDataset, name: str, keys: Mapping[str, set[str]]) -> Metadata:
    """The kinds of ``name``'s columns from the database's metadata, its keys of kind id."""
    frame = real.tables[name]
    found = real.metadata[name]
    entries = {c: found.column(c) for c in frame.columns}
    for column in keys.get(name, ()):
        if column in entries:
            entries[column] = {"kind": "id"}
    return Metadata(entries)


def checked_tables(side: str, value: Any, real: RecordDataset) -> dict[str, pd.DataFrame]:
    """``value``'s tables in ``real``'s order, once its tables, columns and links match."""
    if isinstance(value, RecordDataset):
        ours = {_link_tuple(link) for link in real.relationships}
        theirs = {_link_tuple(link) for link in value.relationships}
        if ours != theirs:
            raise EvaluationError(
                f"The {side} database's relationships differ from the real one's: missing "
                f"{sorted(ours - theirs)}, unexpected {sorted(theirs - ours)} (as parent, "
                "child, parent key, child key). Pass databases with the same schema."
            )
        tables = dict(value.tables)
    elif isinstance(value, Mapping):
        tables = dict(value)
    else:
        raise EvaluationError(
            f"{side} must be a RecordDataset or a dict of table name to DataFrame, like the real "
            f"database; got {type(value).__name__}."
        )
    missing = [name for name in real.tables if name not in tables]
    extra = [name for name in tables if name not in real.tables]
    if missing or extra:
        raise EvaluationError(
            f"The {side} database's tables differ from the real one's: missing {missing}, "
            f"unexpected {extra}. Pass databases with the same tables."
        )
    for name, frame in tables.items():
        if not isinstance(frame, pd.DataFrame):
            raise EvaluationError(
                f"Table {name!r} of the {side} database must be a DataFrame; "
                f"got {type(frame).__name__}."
            )
        wanted = list(real.tables[name].columns)
        absent = [c for c in wanted if c not in frame.columns]
        unexpected = [c for c in frame.columns if c not in wanted]
        if absent or unexpected:
            raise EvaluationError(
                f"Table {name!r} of the {side} database has columns that differ from the real "
                f"one's: missing {absent}, unexpected {unexpected}. Pass the same columns."
            )
    return {name: tables[name] for name in real.tables}


def _link_tuple(link: Relationship) -> tuple[str, str, str, str]:
    return (link.parent, link.child, link.parent_key, link.child_key)


def check_split_by_root(real: RecordDataset, holdout: Tables, root: str, key: str | None) -> bool:
    """Refuse a holdout that shares root keys with the real database (split by row).

    Returns:
        Whether the keys could tell: ``False`` for keys synthkit generated (nested
        records without an id number every database from 0), where the content
        of the root entities is compared instead.
    """
    if key is None or key in getattr(real, "generated", {}).get(root, ()):
        return False
    shared = pd.Index(holdout[root][key].dropna().unique()).intersection(
        pd.Index(real.tables[root][key].dropna().unique())
    )
    if len(shared):
        example = shared[0].item() if hasattr(shared[0], "item") else shared[0]
        raise EvaluationError(
            f"The holdout shares {len(shared)} of its {holdout[root][key].nunique()} root "
            f"entities with the real database (for example {root}.{key}={example!r}): it was "
            f"split by row, not by root entity. Split the {root!r} rows in two and give each "
            "side every row hanging off its own rows."
        )
    return True
