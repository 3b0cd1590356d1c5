"""Metadata of several related tables: each table's :class:`Metadata` plus the relationships."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from synthkit.errors import MetadataError
from synthkit.metadata import Metadata, read_json, write_json
from synthkit.schema._keys import metadata_for
from synthkit.schema.relationship import Relationship

__all__ = ["MultiTableMetadata"]

_FORMAT_VERSION = 1


class MultiTableMetadata(Mapping[str, Metadata]):
    """Column kinds and keys of related tables, and the relationships that link them.

    It reads like a mapping of table name to that table's :class:`Metadata`; each
    relationship's parent key is the parent's primary key and its child key is a
    column of the child. Converts to and from JSON and SDV's multi-table metadata
    (SDV is an optional dependency: ``pip install "synthkit[sdv]"``).

    Args:
        tables: Table name to its metadata.
        relationships: One-to-many links between those tables.

    Raises:
        MetadataError: If a relationship names an unknown table or column, or a
            parent key that is not the parent's primary key.

    Example:
        >>> import pandas as pd
        >>> patients = pd.DataFrame({"id": [1, 2, 3], "age": [57, 67, 41]})
        >>> labs = pd.DataFrame({"id": [1, 1, 3], "days": [0, 0, 9], "hdl": [75.0, 51.0, 40.0]})
        >>> metadata = MultiTableMetadata.detect(
        ...     {"patients": patients, "labs": labs},
        ...     [Relationship("patients", "labs", "id", "id")],
        ... )
        >>> metadata["patients"].primary_key, metadata["labs"].kind("id")
        ('id', 'id')
        >>> MultiTableMetadata.from_json(metadata.to_json()) == metadata
        True
        >>> metadata.to_sdv_dict()["relationships"][0]["child_table_name"]
        'labs'
    """

    def __init__(
        self, tables: Mapping[str, Metadata], relationships: Sequence[Relationship] = ()
    ) -> None:
        self.tables: dict[str, Metadata] = {}
        for name, metadata in tables.items():
            if not isinstance(metadata, Metadata):
                raise MetadataError(
                    f"Table {name!r} must map to a synthkit.Metadata, got "
                    f"{type(metadata).__name__}; build one with Metadata.detect(df)."
                )
            self.tables[str(name)] = metadata
        self.relationships = list(relationships)
        for link in self.relationships:
            self._check(link)

    # ------------------------------------------------------------ construction
    @classmethod
    def detect(
        cls,
        tables: Mapping[str, pd.DataFrame],
        relationships: Sequence[Relationship] = (),
        primary_keys: Mapping[str, str] | None = None,
    ) -> MultiTableMetadata:
        """Detect each table's kinds and set its keys from ``primary_keys`` and ``relationships``.

        Key columns (primary and foreign) get the ``id`` kind; a relationship's
        parent key is that table's primary key unless ``primary_keys`` says otherwise.
        """
        keys = dict(primary_keys or {})
        for link in relationships:
            keys.setdefault(link.parent, link.parent_key)
        out = {}
        for name, frame in tables.items():
            columns = [keys.get(name)]
            columns += [link.child_key for link in relationships if link.child == name]
            out[name] = metadata_for(
                frame,
                id_columns=tuple(dict.fromkeys(c for c in columns if c is not None)),
                primary_key=keys.get(name),
            )
        return cls(out, relationships)

    def validate(self, tables: Mapping[str, pd.DataFrame]) -> None:
        """Check that ``tables`` holds every described table with every described column.

        Raises:
            MetadataError: Naming the missing table or columns.
        """
        missing = sorted(set(self.tables) - set(tables))
        if missing:
            raise MetadataError(
                f"The metadata describes table(s) {missing} that are not in the data; "
                f"tables given: {sorted(tables)}."
            )
        for name, metadata in self.tables.items():
            try:
                metadata.validate(tables[name])
            except MetadataError as error:
                raise MetadataError(f"Table {name!r}: {error}") from None

    # ---------------------------------------------------------------- mapping
    def __getitem__(self, name: str) -> Metadata:
        try:
            return self.tables[name]
        except KeyError:
            raise MetadataError(
                f"No table {name!r} in the metadata; tables: {sorted(self.tables)}."
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultiTableMetadata) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        links = ", ".join(
            f"{r.parent}.{r.parent_key} -> {r.child}.{r.child_key}" for r in self.relationships
        )
        return f"MultiTableMetadata(tables={list(self.tables)}, relationships=[{links}])"

    # ----------------------------------------------------------- serialization
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: ``{"tables": {...}, "relationships": [...]}``."""
        return {
            "tables": {name: metadata.to_dict() for name, metadata in self.tables.items()},
            "relationships": [link.to_dict() for link in self.relationships],
            "format_version": _FORMAT_VERSION,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MultiTableMetadata:
        """Build metadata from :meth:`to_dict` output."""
        if not isinstance(data, Mapping) or not isinstance(data.get("tables"), Mapping):
            raise MetadataError(
                "Multi-table metadata dicts need a 'tables' mapping: "
                "{'tables': {name: {'columns': ...}}, 'relationships': [...]}."
            )
        return cls(
            {name: Metadata.from_dict(entry) for name, entry in data["tables"].items()},
            [Relationship.from_dict(link) for link in data.get("relationships", [])],
        )

    def to_json(self, path: str | Path | None = None) -> str:
        """Return the metadata as JSON text, also writing it to ``path`` if given."""
        return write_json(self.to_dict(), path)

    @classmethod
    def from_json(cls, source: str | Path) -> MultiTableMetadata:
        """Read metadata from a JSON file path or JSON text."""
        return cls.from_dict(read_json(source))

    # --------------------------------------------------------------------- SDV
    def to_sdv_dict(self) -> dict[str, Any]:
        """Return the tables and relationships in SDV's multi-table dict layout.

        Needs no SDV install; relationships keep their keys, not synthkit's nesting
        details (``field``, ``order``).
        """
        return {
            "tables": {name: metadata.to_sdv_dict() for name, metadata in self.tables.items()},
            "relationships": [link.to_sdv_dict() for link in self.relationships],
            "METADATA_SPEC_VERSION": "V1",
        }

    def to_sdv(self) -> Any:
        """Return an equivalent SDV ``Metadata`` object, relationships included.

        SDV is licensed under the Business Source License and is an optional
        dependency of synthkit (Apache-2.0), whose models do not use it; this needs
        ``pip install "synthkit[sdv]"``.

        Raises:
            MissingDependencyError: If SDV is not installed.
        """
        from synthkit._registry import import_optional

        sdv_metadata = import_optional(
            "sdv.metadata", extra="sdv", purpose="Converting metadata to SDV's format"
        )
        return sdv_metadata.Metadata.load_from_dict(self.to_sdv_dict())

    @classmethod
    def from_sdv(cls, sdv_metadata: Any) -> MultiTableMetadata:
        """Convert SDV multi-table metadata (a ``Metadata`` object or its dict).

        Reading a dict needs no SDV install (SDV is BSL-licensed and optional).

        Example:
            >>> sdv_dict = {
            ...     "tables": {
            ...         "cards": {"columns": {"card": {"sdtype": "id"}}, "primary_key": "card"},
            ...         "payments": {"columns": {"card": {"sdtype": "id"},
            ...                                  "amount": {"sdtype": "numerical"}}},
            ...     },
            ...     "relationships": [{"parent_table_name": "cards", "parent_primary_key": "card",
            ...                        "child_table_name": "payments", "child_foreign_key": "card"}],
            ... }
            >>> MultiTableMetadata.from_sdv(sdv_dict).relationships
            [Relationship(parent='cards', child='payments', parent_key='card', child_key='card', field=None, order=None)]
        """  # noqa: E501
        data = sdv_metadata.to_dict() if hasattr(sdv_metadata, "to_dict") else sdv_metadata
        if not isinstance(data, Mapping) or not isinstance(data.get("tables"), Mapping):
            raise MetadataError(
                "SDV multi-table metadata needs a 'tables' mapping; for one table's "
                "metadata use synthkit.Metadata.from_sdv(...)."
            )
        tables = {name: Metadata.from_sdv(data, table_name=name) for name in data["tables"]}
        links = [Relationship.from_sdv_dict(link) for link in data.get("relationships", [])]
        return cls(tables, links)

    # ----------------------------------------------------------------- helpers
    def _check(self, link: Relationship) -> None:
        if not isinstance(link, Relationship):
            raise MetadataError(
                f"relationships must hold synthkit.Relationship objects, got {link!r}."
            )
        for role, table in (("parent", link.parent), ("child", link.child)):
            if table not in self.tables:
                raise MetadataError(
                    f"Relationship {role} table {table!r} is not described; tables: "
                    f"{sorted(self.tables)}."
                )
        parent, child = self.tables[link.parent], self.tables[link.child]
        if parent.primary_key != link.parent_key:
            raise MetadataError(
                f"Relationship {link.parent}.{link.parent_key} -> {link.child}.{link.child_key} "
                f"needs {link.parent_key!r} as the primary key of {link.parent!r}, which has "
                f"{parent.primary_key!r}; set it with primary_key={link.parent_key!r}."
            )
        if link.child_key not in child.columns:
            raise MetadataError(
                f"Foreign key {link.child_key!r} is not a column of {link.child!r}; columns: "
                f"{list(child.columns)}."
            )
