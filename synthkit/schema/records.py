"""Record data: nested records normalized into parent and child tables with keys, and back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synthkit.schema._arrow import to_arrow, to_pandas
from synthkit.schema._record_checks import (
    RecordError,
    check_orphans,
    check_structure,
    check_unique_keys,
    fix_orphans,
    parents_first,
)
from synthkit.schema.multitable import MultiTableMetadata
from synthkit.schema.relationship import Relationship

if TYPE_CHECKING:
    from synthkit.schema.key_detection import KeyProposal

__all__ = ["RecordDataset", "RecordError", "Relationship"]

_SCALAR_VALUES = "value"


class RecordDataset:
    """Related tables with primary and foreign keys, convertible to and from nested records.

    Nested records (a patient with a list of visits) become a parent table of
    scalar fields (nested objects flattened to ``object.field`` columns) and one
    child table per list, linked by keys; :meth:`to_records` rebuilds the same
    records. Tables read from a database come with its own foreign keys;
    :meth:`detect` proposes keys for tables that come without them.

    The tables must form a tree of parents and children, possibly with several
    tables at the top (flights point at planes, airlines and airports) and a child
    with several parents. Construction refuses, with a :class:`RecordError`
    naming the table, column and an example row: a relationship naming an unknown
    table or column, a duplicate or missing primary key, a foreign key whose
    values are of another kind than the key it points at (numbers against text),
    a table that is its own ancestor, a table no relationship reaches (unless
    declared ``independent``) and orphan rows (a foreign key naming no parent),
    unless ``orphans`` says how to repair them. A missing foreign key (null) means
    the row has no parent, as in SQL; it is not an orphan.

    Args:
        tables: Table name to DataFrame.
        relationships: The links between them. The first one listed for a child
            with several parents is the one it nests under.
        root: The table at the top of the nesting; found when only one table has
            no parent, else None (then :meth:`to_records` asks for it).
        primary_keys: Table name to primary key column (a relationship's parent key
            is its parent's primary key unless given here).
        generated: Table name to columns synthkit added (keys, positions), dropped
            when nesting back.
        schemas: Table name to the nested Arrow schema it came from, to rebuild
            objects, column order and types exactly.
        metadata: Kinds and keys of every table (for example read from SDV with
            ``MultiTableMetadata.from_sdv``); detected when omitted. When given,
            its relationships and primary keys are used unless passed as well.
        orphans: What to do with child rows whose foreign key names no parent:
            ``"raise"`` (default), ``"drop"`` the rows (and, in turn, their own
            children) or ``"null"`` their foreign key. A warning on the
            ``synthkit.records`` logger says how many rows changed.
        independent: Tables that stand on their own, linked to no other, when
            the others are related.

    Raises:
        RecordError: For any of the broken keys above.

    Example:
        >>> records = [
        ...     {"card": "A", "limit": 500, "payments": [{"amount": 20.0}, {"amount": 5.5}]},
        ...     {"card": "B", "limit": 900, "payments": []},
        ... ]
        >>> dataset = RecordDataset.from_records(records, name="cards", primary_key="card")
        >>> sorted(dataset.tables)
        ['cards', 'payments']
        >>> dataset.tables["payments"][["card", "amount"]].to_dict("list")
        {'card': ['A', 'A'], 'amount': [20.0, 5.5]}
        >>> dataset.to_records() == records
        True

        Several tables at the top, and a repair asked for explicitly:

        >>> import pandas as pd
        >>> tables = {
        ...     "airlines": pd.DataFrame({"carrier": ["AA", "UA"]}),
        ...     "airports": pd.DataFrame({"faa": ["EWR", "JFK"]}),
        ...     "flights": pd.DataFrame({"carrier": ["AA", "UA", "UA"],
        ...                              "dest": ["JFK", "EWR", "SJU"]}),
        ... }
        >>> links = [Relationship("airlines", "flights", "carrier", "carrier"),
        ...          Relationship("airports", "flights", "faa", "dest")]
        >>> flights = RecordDataset(tables, links, orphans="null")
        >>> flights.roots, flights.root, flights.parents_first
        (['airlines', 'airports'], None, ['airlines', 'airports', 'flights'])
        >>> flights.tables["flights"]["dest"].tolist()
        ['JFK', 'EWR', nan]
    """

    def __init__(
        self,
        tables: Mapping[str, pd.DataFrame],
        relationships: Sequence[Relationship] = (),
        *,
        root: str | None = None,
        primary_keys: Mapping[str, str] | None = None,
        generated: Mapping[str, Sequence[str]] | None = None,
        schemas: Mapping[str, pa.Schema] | None = None,
        metadata: MultiTableMetadata | None = None,
        orphans: str = "raise",
        independent: Sequence[str] = (),
    ) -> None:
        if not isinstance(tables, Mapping):
            raise RecordError(
                f"tables must map table names to DataFrames, got {type(tables).__name__}."
            )
        self.tables = {name: _frame(name, table) for name, table in tables.items()}
        if metadata is not None and not isinstance(metadata, MultiTableMetadata):
            raise RecordError(
                f"metadata must be a synthkit.schema.MultiTableMetadata, got "
                f"{type(metadata).__name__}; build one with MultiTableMetadata.detect(tables) "
                "or MultiTableMetadata.from_sdv(...)."
            )
        if metadata is not None:
            metadata.validate(self.tables)
            relationships = relationships or metadata.relationships
            keys = {name: md.primary_key for name, md in metadata.items() if md.primary_key}
            primary_keys = {**keys, **(primary_keys or {})}
        self._metadata = metadata
        self.relationships = list(relationships)
        self.primary_keys = dict(primary_keys or {})
        for relationship in self.relationships:
            if isinstance(relationship, Relationship):
                self.primary_keys.setdefault(relationship.parent, relationship.parent_key)
        self.independent = [str(name) for name in independent]
        self.generated = {name: list(columns) for name, columns in (generated or {}).items()}
        self.schemas = dict(schemas or {})
        check_structure(self.tables, self.relationships, self.primary_keys, self.independent)
        check_unique_keys(self.tables, self.primary_keys)
        self.tables = fix_orphans(self.tables, self.relationships, self.parents_first, orphans)
        self.root = self._find_root(root)
        check_orphans(self.tables, self.relationships)

    # ------------------------------------------------------------- construction
    @classmethod
    def detect(
        cls,
        tables: Mapping[str, pd.DataFrame],
        *,
        orphans: str = "raise",
        independent: Sequence[str] | None = None,
    ) -> RecordDataset:
        """Build a dataset from tables that come without keys, detecting them.

        :meth:`propose_keys` finds the primary and foreign keys; look at (print)
        the proposal to confirm or override it before building. Tables no
        detected relationship links are made ``independent`` unless a list is
        given.

        Example:
            >>> import pandas as pd
            >>> patients = pd.DataFrame({"id": [1, 2, 3], "age": [57, 67, 41]})
            >>> labs = pd.DataFrame({"id": [1, 1, 3], "hdl": [75.0, 51.0, 40.0]})
            >>> dataset = RecordDataset.detect({"patients": patients, "labs": labs})
            >>> dataset.relationships
            [Relationship(parent='patients', child='labs', parent_key='id', child_key='id', field=None, order=None)]
        """  # noqa: E501
        return cls.propose_keys(tables).build(tables, orphans=orphans, independent=independent)

    @staticmethod
    def propose_keys(tables: Mapping[str, pd.DataFrame]) -> KeyProposal:
        """Propose primary and foreign keys from names, uniqueness and value containment.

        Returns a :class:`~synthkit.schema.KeyProposal` whose ``primary_keys`` and
        ``relationships`` can be edited before ``build(tables)``; printing it shows
        each foreign key's containment share and orphans.
        """
        from synthkit.schema.key_detection import detect_keys

        return detect_keys(tables)

    @classmethod
    def from_records(
        cls,
        records: Sequence[Mapping[str, Any]],
        *,
        name: str = "records",
        primary_key: str | None = None,
    ) -> RecordDataset:
        """Normalize a list of nested dicts (as parsed from JSON) into related tables."""
        try:
            array = pa.array(list(records))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise RecordError(f"The records do not share one shape: {error}.") from None
        if not pa.types.is_struct(array.type):
            raise RecordError(f"Records must be objects (dicts); got {array.type} values.")
        return cls.from_arrow(pa.Table.from_struct_array(array), name=name, primary_key=primary_key)

    @classmethod
    def from_arrow(
        cls, table: pa.Table, *, name: str = "records", primary_key: str | None = None
    ) -> RecordDataset:
        """Normalize an Arrow table with struct and list columns into related tables."""
        builder = _Normalizer()
        builder.add(table, name, primary_key)
        return cls(
            {key: to_pandas(value) for key, value in builder.tables.items()},
            builder.relationships,
            root=name,
            primary_keys=builder.primary_keys,
            generated=builder.generated,
            schemas=builder.schemas,
        )

    @classmethod
    def from_files(
        cls,
        source: str | Path | Mapping[str, str | Path],
        relationships: Sequence[Relationship] | str | None = None,
        **options: Any,
    ) -> RecordDataset:
        """Read one file per table (CSV, Parquet, Feather, JSON Lines) into related tables.

        Same as ``synthkit.load(source, shape="records", ...)``.

        Args:
            source: A directory (each ``<table>.<suffix>`` file is a table; a
                ``_relationships.json`` that :meth:`to_files` wrote gives the keys)
                or a mapping of table name to file path.
            relationships: The links; ``"detect"`` (or None without a
                ``_relationships.json``) proposes them with :meth:`propose_keys`.
            **options: ``primary_keys``, ``root``, ``orphans``, ``independent``,
                ``format`` and ``dtypes`` (table name to pandas dtypes).

        Example:
            >>> import tempfile, pandas as pd
            >>> folder = tempfile.mkdtemp()
            >>> pd.DataFrame({"id": [1, 2]}).to_csv(f"{folder}/patients.csv", index=False)
            >>> pd.DataFrame({"id": [2, 2], "hdl": [40, 51]}).to_csv(
            ...     f"{folder}/labs.csv", index=False)
            >>> RecordDataset.from_files(folder).relationships[0].child
            'labs'
        """
        from synthkit.connectors.related_files import read_related_files

        return read_related_files(source, relationships=relationships, **options)

    def to_files(self, directory: str | Path, *, format: str = "csv") -> None:
        """Write one file per table into ``directory`` plus ``_relationships.json`` (the keys).

        ``format`` is a file suffix a connector writes: ``csv``, ``csv.gz``,
        ``parquet``, ``feather``, ``jsonl``. Same as ``synthkit.save(dataset,
        directory, format=...)``; :meth:`from_files` reads it back with its keys.
        """
        from synthkit.connectors.related_files import write_related_files

        write_related_files(self, directory, format=format)

    def with_tables(self, tables: Mapping[str, pd.DataFrame]) -> RecordDataset:
        """Return a dataset with the same keys and nesting over new tables (synthetic ones)."""
        return RecordDataset(
            tables,
            self.relationships,
            root=self.root,
            primary_keys=self.primary_keys,
            generated=self.generated,
            schemas=self.schemas,
            metadata=self._metadata,
            independent=self.independent,
        )

    # ---------------------------------------------------------------- checks
    def validate(self) -> None:
        """Check every key again (for example after editing ``tables`` in place).

        Raises:
            RecordError: Naming the table, column and an example row at fault.
        """
        check_structure(self.tables, self.relationships, self.primary_keys, self.independent)
        check_unique_keys(self.tables, self.primary_keys)
        check_orphans(self.tables, self.relationships)

    @property
    def parents_first(self) -> list[str]:
        """The table names ordered so that every parent comes before its children."""
        return parents_first(list(self.tables), self.relationships)

    @property
    def roots(self) -> list[str]:
        """The tables without a parent, in table order (independent ones included)."""
        children = {link.child for link in self.relationships}
        return [name for name in self.tables if name not in children]

    def parents_of(self, table: str) -> list[Relationship]:
        """The relationships in which ``table`` is the child, in the order listed."""
        self._table(table)
        return [link for link in self.relationships if link.child == table]

    def children_of(self, table: str) -> list[Relationship]:
        """The relationships in which ``table`` is the parent, in the order listed."""
        self._table(table)
        return [link for link in self.relationships if link.parent == table]

    @property
    def metadata(self) -> MultiTableMetadata:
        """Metadata of every table (keys set, key columns of kind ``id``) and the relationships.

        Detected on first use unless given at construction; it converts to and
        from JSON and SDV's multi-table metadata.
        """
        if self._metadata is None:
            self._metadata = MultiTableMetadata.detect(
                self.tables, self.relationships, self.primary_keys
            )
        return self._metadata

    # --------------------------------------------------------------- nesting
    def to_arrow(self, root: str | None = None) -> pa.Table:
        """Return the ``root`` table with every table under it nested as a list column.

        A child with several parents nests under the first one listed that is
        under ``root``; its other foreign keys stay plain columns. Tables not under
        ``root`` are left out (write them with :meth:`to_files` or to SQL).

        Raises:
            RecordError: If ``root`` is not given and the dataset has several tables
                without a parent.
        """
        root = root or self.root
        if root is None:
            raise RecordError(
                f"Nested records need one table at the top; this dataset has several "
                f"({', '.join(self.roots)}). Pass root=... (for example "
                f"to_records(root={self.roots[0]!r}), or save(dataset, path, "
                f"root={self.roots[0]!r})); tables not under it are left out, so write "
                "all tables with save(dataset, directory) or to SQL instead."
            )
        self._table(root)
        return self._nest(root, self._nesting(root), None)

    def to_records(self, root: str | None = None) -> list[dict[str, Any]]:
        """Return the nested records as dicts (the shape JSON holds); see :meth:`to_arrow`."""
        return self.to_arrow(root).to_pylist()

    def _nesting(self, root: str) -> dict[str, list[Relationship]]:
        """Parent name to the links nested under it: each table under ``root`` once."""
        under = {root}
        nested: dict[str, list[Relationship]] = {}
        for name in self.parents_first:
            link = next((r for r in self.parents_of(name) if r.parent in under), None)
            if name not in under and link is not None:
                under.add(name)
                nested.setdefault(link.parent, []).append(link)
        # Lists are appended to their parent in the order the relationships are listed.
        return {name: sorted(links, key=self.relationships.index) for name, links in nested.items()}

    def _nest(
        self, name: str, nested: Mapping[str, list[Relationship]], via: Relationship | None
    ) -> pa.Table:
        table = to_arrow(self.tables[name]).replace_schema_metadata(None)
        for link in nested.get(name, []):
            child = self._nest(link.child, nested, link)
            lists = _as_lists(table, child, link, self)
            table = table.append_column(link.field or link.child, lists)
        # As a child, a table keeps its foreign key and position until its parent groups it.
        as_child = [column for column in (via.child_key, via.order) if column] if via else []
        return _restore(table, self.schemas.get(name), self.generated.get(name, ()), as_child)

    # ---------------------------------------------------------------- helpers
    def _find_root(self, root: str | None) -> str | None:
        if root is not None:
            self._table(root)
            return root
        related = [name for name in self.roots if name not in self.independent]
        roots = related or self.roots
        return roots[0] if len(roots) == 1 else None

    def _table(self, name: str) -> pd.DataFrame:
        if name not in self.tables:
            raise RecordError(f"No table {name!r}; tables: {sorted(self.tables)}.")
        return self.tables[name]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(frame)}" for name, frame in self.tables.items())
        return f"RecordDataset(root={self.root!r}, {sizes})"


def _frame(name: str, table: pd.DataFrame | pa.Table) -> pd.DataFrame:
    if isinstance(table, pa.Table):
        return to_pandas(table)
    if not isinstance(table, pd.DataFrame):
        raise RecordError(f"Table {name!r} must be a DataFrame; got {type(table).__name__}.")
    return table


def _as_lists(
    parent: pa.Table, child: pa.Table, link: Relationship, owner: RecordDataset
) -> pa.Array:
    """Group ``child`` rows under their parent rows as one list per parent, in list order."""
    keys = parent.column(link.parent_key).combine_chunks()
    position = pc.index_in(child.column(link.child_key), value_set=keys)
    position = position.to_numpy(zero_copy_only=False).astype(np.int64)
    sort_keys = [position]
    if link.order is not None:
        sort_keys.insert(0, child.column(link.order).to_numpy(zero_copy_only=False))
    ranks = np.lexsort(sort_keys)  # by parent, then by position in the list
    counts = np.bincount(position, minlength=len(keys))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    hidden = {link.child_key, link.order, *owner.generated.get(link.child, ())}
    kept = child.drop_columns([c for c in child.column_names if c in hidden])
    kept = kept.take(pa.array(ranks))
    if not kept.num_columns:
        raise RecordError(f"Table {link.child!r} has no columns besides its keys to nest.")
    schema = owner.schemas.get(link.parent)
    field = link.field or link.child
    if schema is not None and field in schema.names:
        value_type = schema.field(field).type.value_type
        if not pa.types.is_struct(value_type):
            return pa.ListArray.from_arrays(offsets, kept.column(_SCALAR_VALUES).combine_chunks())
    values = pa.StructArray.from_arrays(
        [column.combine_chunks() for column in kept.columns], names=kept.column_names
    )
    return pa.ListArray.from_arrays(offsets, values)


def _restore(
    table: pa.Table, schema: pa.Schema | None, generated: Sequence[str], as_child: list[str]
) -> pa.Table:
    """Drop synthkit's helper columns and rebuild nested objects, column order and types."""
    if schema is None:
        hidden = set(generated) - set(as_child)
        return table.select([c for c in table.column_names if c not in hidden])
    arrays = [_rebuild(table, field, field.name) for field in schema]
    fields = list(schema)
    for column in as_child:
        if column not in schema.names:
            arrays.append(table.column(column))
            fields.append(table.schema.field(column))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _conform(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast ``array`` to ``target`` level by level.

    Arrow 26's own cast of lists of structs with a null-typed field builds invalid
    arrays, so nested types are rebuilt from their parts and only leaves are cast.
    """
    if array.type == target:
        return array
    mask = array.is_null() if array.null_count else None
    if pa.types.is_list(target) and pa.types.is_list(array.type):
        values = _conform(array.values, target.value_type)
        return pa.ListArray.from_arrays(array.offsets, values, type=target, mask=mask)
    if pa.types.is_struct(target) and pa.types.is_struct(array.type):
        parts = dict(zip([f.name for f in array.type], array.flatten(), strict=True))
        children = [
            _conform(parts[f.name], f.type) if f.name in parts else pa.nulls(len(array), f.type)
            for f in target
        ]
        return pa.StructArray.from_arrays(children, fields=list(target), mask=mask)
    return array.cast(target)


def _rebuild(table: pa.Table, field: pa.Field, name: str) -> pa.Array | pa.ChunkedArray:
    if name in table.column_names:
        return _conform(table.column(name).combine_chunks(), field.type)
    if pa.types.is_struct(field.type):
        children = [_rebuild(table, child, f"{name}.{child.name}") for child in field.type]
        arrays = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in children]
        # An object whose fields were all missing was a missing object.
        missing = np.logical_and.reduce(
            [array.is_null().to_numpy(zero_copy_only=False) for array in arrays]
        )
        return pa.StructArray.from_arrays(arrays, fields=list(field.type), mask=pa.array(missing))
    raise RecordError(f"Column {name!r} of the nested records is missing from its table.")


class _Normalizer:
    """Walks a nested Arrow table and emits flat tables with keys."""

    def __init__(self) -> None:
        self.tables: dict[str, pa.Table] = {}
        self.relationships: list[Relationship] = []
        self.primary_keys: dict[str, str] = {}
        self.generated: dict[str, list[str]] = {}
        self.schemas: dict[str, pa.Schema] = {}

    def add(self, table: pa.Table, name: str, primary_key: str | None) -> None:
        table = table.replace_schema_metadata(None)
        self.schemas[name] = table.schema
        flat = _flatten_structs(table)
        generated: list[str] = []
        if primary_key is None:
            primary_key = _free_name(f"{name}_id", flat.column_names)
            flat = flat.append_column(primary_key, pa.array(np.arange(len(flat), dtype=np.int64)))
            generated.append(primary_key)
        elif primary_key not in flat.column_names:
            raise RecordError(
                f"primary_key={primary_key!r} is not a field of the {name!r} records; "
                f"fields: {flat.column_names}."
            )
        self.primary_keys[name] = primary_key
        self.generated[name] = generated
        lists = [
            f.name
            for f in flat.schema
            if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)
        ]
        scalar = flat.drop_columns(lists)
        self.tables[name] = scalar
        for field in lists:
            self._add_child(name, primary_key, flat, field)

    def _add_child(self, parent: str, parent_key: str, flat: pa.Table, field: str) -> None:
        column = flat.column(field).combine_chunks()
        owners = pc.list_parent_indices(column).to_numpy()
        values = pc.list_flatten(column)
        lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy()
        starts = np.cumsum(lengths) - lengths
        positions = np.arange(len(values), dtype=np.int64) - starts[owners]
        if pa.types.is_struct(values.type):
            child = pa.Table.from_struct_array(values)
        else:
            child = pa.table({_SCALAR_VALUES: values})
        child_name = _free_name(field.replace(".", "_"), [*self.tables, parent])
        foreign_key = _free_name(parent_key, child.column_names)
        order = _free_name(f"{child_name}_position", [*child.column_names, foreign_key])
        child = child.append_column(foreign_key, flat.column(parent_key).take(pa.array(owners)))
        child = child.append_column(order, pa.array(positions))
        self.relationships.append(
            Relationship(parent, child_name, parent_key, foreign_key, field=field, order=order)
        )
        self.add(child, child_name, None)
        self.generated[child_name] += [order]
        self.schemas[child_name] = pa.schema(
            [f for f in child.schema if f.name not in (foreign_key, order)]
        )


def _flatten_structs(table: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()
    return table


def _free_name(wanted: str, taken: Sequence[str]) -> str:
    name = wanted
    while name in taken:
        name = f"_{name}"
    return name
