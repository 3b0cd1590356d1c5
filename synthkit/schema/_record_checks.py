"""Checks of related tables: names, key kinds, cycles, unique keys and every child's parent.

Each failure is a :class:`RecordError` naming the table, the column, an example
row and what to do. ``fix_orphans`` is the explicit repair a user asks for with
``orphans="drop"`` or ``orphans="null"``; it logs how many rows it changed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from synthkit.errors import DataError
from synthkit.schema.relationship import Relationship

__all__ = [
    "ORPHAN_MODES",
    "RecordError",
    "check_orphans",
    "check_structure",
    "check_unique_keys",
    "fix_orphans",
    "orphan_mask",
    "parents_first",
    "value_kind",
]

LOG = logging.getLogger("synthkit.records")
ORPHAN_MODES = ("raise", "drop", "null")
_SHOWN_FIELDS = 6


class RecordError(DataError):
    """Related tables break a key: a duplicate primary key, an orphan row, a cycle."""


def value_kind(series: pd.Series) -> str:
    """Return what a key column holds: ``number``, ``text``, ``time``, ``boolean``, ``empty``.

    Integers and floats are one kind: a key with missing values reads as float.

    Example:
        >>> value_kind(pd.Series([1, None])), value_kind(pd.Series(["N1", None]))
        ('number', 'text')
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return value_kind(pd.Series(dtype.categories))
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "empty" if series.isna().all() else "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "time"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    kinds = {
        "string": "text",
        "integer": "number",
        "floating": "number",
        "mixed-integer-float": "number",
        "decimal": "number",
        "boolean": "boolean",
        "datetime": "time",
        "datetime64": "time",
        "date": "time",
        "empty": "empty",
    }
    return kinds.get(inferred, f"other ({inferred})")


def describe_row(frame: pd.DataFrame, position: int, first: str) -> str:
    """Show the row at ``position`` of ``frame``, column ``first`` leading, a few fields only."""
    columns = [first, *[c for c in frame.columns if c != first]][:_SHOWN_FIELDS]
    row = frame.iloc[position]
    shown = ", ".join(f"{c!r}: {_plain(row[c])!r}" for c in columns)
    more = ", ..." if frame.shape[1] > _SHOWN_FIELDS else ""
    return f"row {_plain(frame.index[position])!r}: {{{shown}{more}}}"


def check_structure(
    tables: Mapping[str, pd.DataFrame],
    relationships: Sequence[Relationship],
    primary_keys: Mapping[str, str],
    independent: Sequence[str],
) -> None:
    """Check names, key columns, key kinds, cycles and that every table is linked."""
    for table, key in primary_keys.items():
        _require_column(tables, table, key, "primary key")
    for link in relationships:
        if not isinstance(link, Relationship):
            raise RecordError(
                f"relationships must hold synthkit.Relationship objects, got {link!r}; "
                "build one with Relationship(parent, child, parent_key, child_key)."
            )
        _require_column(tables, link.parent, link.parent_key, f"parent key of {_arrow(link)}")
        _require_column(tables, link.child, link.child_key, f"foreign key of {_arrow(link)}")
        declared = primary_keys.get(link.parent)
        if declared != link.parent_key:
            raise RecordError(
                f"{_arrow(link)} points at {link.parent}.{link.parent_key}, but the primary "
                f"key of {link.parent!r} is {declared!r}; every relationship to a table must "
                "point at its one primary key: fix the relationship or primary_keys."
            )
        _check_kinds(tables, link)
    for name in independent:
        if name not in tables:
            raise RecordError(f"independent names no table {name!r}; tables: {sorted(tables)}.")
        linked = [_arrow(r) for r in relationships if name in (r.parent, r.child)]
        if linked:
            raise RecordError(
                f"Table {name!r} is declared independent but {linked[0]} links it; "
                "drop it from independent=."
            )
    _check_cycles(tables, relationships)
    if relationships:
        linked = {r.parent for r in relationships} | {r.child for r in relationships}
        for name, frame in tables.items():
            if name not in linked and name not in independent:
                raise RecordError(
                    f"No relationship reaches table {name!r} (columns {list(frame.columns)}); "
                    f"add one, for example Relationship(parent, {name!r}, parent_key, "
                    f"foreign_key), declare it a table on its own with independent=[{name!r}], "
                    "or leave it out."
                )


def check_unique_keys(tables: Mapping[str, pd.DataFrame], primary_keys: Mapping[str, str]) -> None:
    """Check that every primary key is present and unique."""
    for table, key in primary_keys.items():
        frame = tables[table]
        missing = frame[key].isna()
        repeated = frame[key].duplicated(keep=False) & ~missing
        broken = missing | repeated
        if not broken.any():
            continue
        at = int(np.flatnonzero(broken.to_numpy())[0])
        what = (
            f"{int(missing.sum())} missing value(s)"
            if missing.any()
            else f"{int(frame.loc[repeated, key].nunique())} value(s) used by more than one row"
        )
        raise RecordError(
            f"Primary key {table}.{key} must be unique and present; {what}, for example "
            f"{key}={_plain(frame[key].iloc[at])!r} ({describe_row(frame, at, key)}). "
            f"Drop the repeated or empty rows (tables[{table!r}].drop_duplicates({key!r}) / "
            f".dropna(subset=[{key!r}])), or choose another key with primary_keys="
            f"{{{table!r}: ...}}."
        )


def orphan_mask(child: pd.DataFrame, link: Relationship, parent: pd.DataFrame) -> pd.Series:
    """Rows of ``child`` whose foreign key is set but names no ``parent`` row.

    A missing foreign key means "no parent" (as SQL's NULL does), not an orphan.
    """
    values = child[link.child_key]
    return values.notna() & ~values.isin(parent[link.parent_key])


def check_orphans(
    tables: Mapping[str, pd.DataFrame], relationships: Sequence[Relationship]
) -> None:
    """Check that every set foreign key names an existing parent row."""
    for link in relationships:
        child = tables[link.child]
        orphans = orphan_mask(child, link, tables[link.parent])
        if not orphans.any():
            continue
        at = int(np.flatnonzero(orphans.to_numpy())[0])
        value = _plain(child[link.child_key].iloc[at])
        raise RecordError(
            f"{int(orphans.sum())} row(s) of {link.child!r} point to no {link.parent!r} row, "
            f"for example {link.child_key}={value!r} is not in {link.parent}.{link.parent_key} "
            f"({describe_row(child, at, link.child_key)}). Drop those rows, add their "
            f"parents, or pass orphans='drop' (drop them) or orphans='null' (blank "
            f"{link.child_key} in them)."
        )


def fix_orphans(
    tables: Mapping[str, pd.DataFrame],
    relationships: Sequence[Relationship],
    order: Sequence[str],
    mode: str,
) -> dict[str, pd.DataFrame]:
    """Drop orphan rows, or blank their foreign key, parents first; log what changed.

    Dropping parents first lets a dropped row's own children be found as orphans too.
    """
    if mode not in ORPHAN_MODES:
        raise RecordError(f"orphans={mode!r}: use one of {', '.join(map(repr, ORPHAN_MODES))}.")
    out = dict(tables)
    if mode == "raise":
        return out
    for name in order:
        for link in (r for r in relationships if r.child == name):
            child = out[name]
            orphans = orphan_mask(child, link, out[link.parent])
            count = int(orphans.sum())
            if not count:
                continue
            if mode == "drop":
                out[name] = child[~orphans.to_numpy()]
                did = "dropped"
            else:
                child = child.copy()
                if pd.api.types.is_integer_dtype(child[link.child_key].dtype):
                    # Integer columns hold no missing value; float ones do (as CSV reads them).
                    child[link.child_key] = child[link.child_key].astype("float64")
                # NaN, as pandas reads a missing value from CSV, so missing keys look alike.
                child.loc[orphans.to_numpy(), link.child_key] = np.nan
                out[name] = child
                did = f"set {link.child_key} to missing in"
            LOG.warning(
                "orphans=%r: %s %d of %d row(s) of %r whose %s names no %s.%s row.",
                mode,
                did,
                count,
                len(child),
                name,
                link.child_key,
                link.parent,
                link.parent_key,
            )
    return out


def parents_first(names: Sequence[str], relationships: Sequence[Relationship]) -> list[str]:
    """Order ``names`` so that every parent comes before its children (stable otherwise)."""
    order: list[str] = []
    pending = list(names)
    while pending:
        ready = [
            name
            for name in pending
            if all(
                r.parent in order or r.parent == name or r.parent not in names
                for r in relationships
                if r.child == name
            )
        ]
        if not ready:  # check_structure refuses cycles first; this guards direct calls
            raise RecordError(f"Tables {pending} reference each other in a cycle.")
        order += ready
        pending = [name for name in pending if name not in ready]
    return order


def _check_cycles(
    tables: Mapping[str, pd.DataFrame], relationships: Sequence[Relationship]
) -> None:
    # Depth-first from each child up to its parents; meeting a table still on the path
    # again means it is its own ancestor.
    by_child: dict[str, list[Relationship]] = {}
    for link in relationships:
        by_child.setdefault(link.child, []).append(link)
    state: dict[str, str] = {}
    path: list[Relationship] = []

    def visit(name: str) -> None:
        state[name] = "open"
        for link in by_child.get(name, []):
            if state.get(link.parent) == "open":
                start = next((i for i, r in enumerate(path) if r.child == link.parent), len(path))
                _raise_cycle(tables, [*path[start:], link])
            if link.parent not in state:
                path.append(link)
                visit(link.parent)
                path.pop()
        state[name] = "done"

    for name in by_child:
        if name not in state:
            visit(name)


def _raise_cycle(tables: Mapping[str, pd.DataFrame], cycle: list[Relationship]) -> None:
    first = cycle[0]
    chain = " <- ".join([first.child, *[link.parent for link in cycle]])
    frame = tables[first.child]
    example = f" ({describe_row(frame, 0, first.child_key)})" if len(frame) else ""
    raise RecordError(
        f"Table {first.child!r} is its own ancestor: {chain}, through "
        f"{', '.join(f'{r.child}.{r.child_key}' for r in cycle)}{example}. Related tables "
        "must form a tree of parents and children: drop one of these relationships (keep "
        f"{first.child}.{first.child_key} as a plain column)."
    )


def _check_kinds(tables: Mapping[str, pd.DataFrame], link: Relationship) -> None:
    parent = value_kind(tables[link.parent][link.parent_key])
    child_frame = tables[link.child]
    child = value_kind(child_frame[link.child_key])
    if "empty" in (parent, child) or parent == child:
        return
    set_rows = np.flatnonzero(child_frame[link.child_key].notna().to_numpy())
    example = (
        f" ({describe_row(child_frame, int(set_rows[0]), link.child_key)})" if len(set_rows) else ""
    )
    convert = "astype(str)" if parent == "text" else "astype('int64')"
    raise RecordError(
        f"Foreign key {link.child}.{link.child_key} holds {child} values but the key it "
        f"points at, {link.parent}.{link.parent_key}, holds {parent} values{example}; a "
        f"child's key must be of the parent key's kind: convert one, for example "
        f"tables[{link.child!r}][{link.child_key!r}].{convert}."
    )


def _require_column(tables: Mapping[str, pd.DataFrame], table: str, column: str, role: str) -> None:
    if table not in tables:
        raise RecordError(
            f"The {role} names table {table!r}, which is not given; tables: {sorted(tables)}."
        )
    if column not in tables[table].columns:
        raise RecordError(
            f"The {role} names column {column!r}, which is not in table {table!r}; "
            f"columns: {list(tables[table].columns)}."
        )


def _arrow(link: Relationship) -> str:
    return f"relationship {link.parent}.{link.parent_key} -> {link.child}.{link.child_key}"


def _plain(value: object) -> object:
    # numpy scalars print as np.int64(3); show the plain Python value in messages.
    return value.item() if hasattr(value, "item") else value
