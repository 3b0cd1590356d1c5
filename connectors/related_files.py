"""Related tables as one file per table: a directory (or a mapping of name to file) and its keys.

A directory written by :func:`write_related_files` holds ``<table>.<suffix>`` per
table and ``_relationships.json`` with the primary keys, relationships,
independent tables and root, so reading it back needs no detection. Any other
directory of table files (CSV, Parquet, Feather, JSON Lines) reads too: keys are
then given or detected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from synthkit.connectors._base import ConnectorError, FormatError, UnknownFormatError, redact
from synthkit.connectors._paths import atomic_output_path, require_exists, resolve
from synthkit.connectors.registry import connector_for
from synthkit.errors import ParameterError
from synthkit.schema import RecordDataset, Relationship
from synthkit.schema._arrow import to_arrow, to_pandas
from synthkit.schema.key_detection import detect_keys

__all__ = ["KEYS_FILE", "is_table_directory", "read_related_files", "write_related_files"]

KEYS_FILE = "_relationships.json"
_FORMAT_VERSION = 1


def is_table_directory(uri: str | os.PathLike[str]) -> bool:
    """Whether ``uri`` is an existing directory whose name has no data-file suffix.

    A ``x.parquet`` directory is one partitioned file, not a directory of tables.
    """
    text = os.fspath(uri)
    try:
        connector_for(text.rstrip("/"))
    except UnknownFormatError:
        try:
            fs, path = resolve(text)
        except ConnectorError:
            return False
        return bool(fs.isdir(path))
    return False


def read_related_files(
    source: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]],
    *,
    relationships: Sequence[Relationship] | str | None = None,
    primary_keys: Mapping[str, str] | None = None,
    root: str | None = None,
    orphans: str = "raise",
    independent: Sequence[str] | None = None,
    format: str | None = None,
    dtypes: Mapping[str, Mapping[str, Any]] | None = None,
) -> RecordDataset:
    """Read one file per table into a :class:`RecordDataset`.

    Args:
        source: A directory of ``<table>.<suffix>`` files, or table name to file path.
        relationships: The links; ``"detect"``, or None to use the directory's
            ``_relationships.json`` and detect without one.
        primary_keys: Table name to primary key (overrides what was read or detected).
        root: The table at the top of the nesting.
        orphans: ``"raise"``, ``"drop"`` or ``"null"`` (see :class:`RecordDataset`).
        independent: Tables linked to no other; detection makes the unlinked ones so.
        format: Connector name for files whose suffix says nothing.
        dtypes: Table name to pandas dtypes to apply after reading.

    Raises:
        ConnectorError: A missing source, or a directory without table files.
        RecordError: Broken keys, as :class:`RecordDataset` reports them.
    """
    paths, keys = _sources(source, format)
    dtypes = dict(dtypes or {})
    unknown = sorted(set(dtypes) - set(paths))
    if unknown:
        raise ParameterError(f"dtypes names table(s) {unknown} not read; tables: {sorted(paths)}.")
    tables = {
        name: to_pandas(connector_for(path, format).read(path), dtypes.get(name))
        for name, path in paths.items()
    }
    if relationships is None and keys is not None:
        return RecordDataset(
            tables,
            [Relationship.from_dict(link) for link in keys.get("relationships", [])],
            primary_keys={**keys.get("primary_keys", {}), **(primary_keys or {})},
            root=root or keys.get("root"),
            orphans=orphans,
            independent=keys.get("independent", []) if independent is None else independent,
        )
    if relationships is None or relationships == "detect":
        proposal = detect_keys(tables)
        proposal.primary_keys.update(primary_keys or {})
        return proposal.build(tables, orphans=orphans, independent=independent, root=root)
    if isinstance(relationships, str):
        raise ParameterError(
            f"relationships={relationships!r}: pass a list of Relationship, 'detect' or None."
        )
    return RecordDataset(
        tables,
        relationships,
        primary_keys=primary_keys,
        root=root,
        orphans=orphans,
        independent=independent or (),
    )


def write_related_files(
    dataset: RecordDataset, directory: str | os.PathLike[str], *, format: str = "csv"
) -> None:
    """Write every table to ``directory/<table>.<format>`` plus the keys, atomically.

    Args:
        dataset: The related tables.
        directory: Target directory; an existing one is replaced only if it holds
            such a dataset (its ``_relationships.json``) or nothing.
        format: File suffix of each table: ``csv``, ``csv.gz``, ``parquet``,
            ``feather``, ``jsonl``...
    """
    uri = os.fspath(directory).rstrip("/")
    suffix = format.lstrip(".")
    connector_for(f"table.{suffix}")  # an unknown suffix fails before anything is written
    fs, path = resolve(uri)
    if fs.exists(path):
        if not fs.isdir(path):
            raise ConnectorError(f"{redact(uri)} is a file; record tables go into a directory.")
        entries = [PurePosixPath(entry).name for entry in fs.ls(path, detail=False)]
        if entries and KEYS_FILE not in entries:
            raise ConnectorError(
                f"{redact(uri)} already holds other files ({', '.join(sorted(entries)[:5])}); "
                "write the tables to a new or empty directory."
            )
    keys = {
        "tables": list(dataset.tables),
        "primary_keys": dataset.primary_keys,
        "relationships": [link.to_dict() for link in dataset.relationships],
        "independent": dataset.independent,
        "root": dataset.root,
        "format_version": _FORMAT_VERSION,
    }
    with atomic_output_path(uri, directory=True) as (_filesystem, tmp):
        target = tmp if "://" not in uri else fs.unstrip_protocol(tmp)
        for name, frame in dataset.tables.items():
            table_uri = f"{target}/{name}.{suffix}"
            connector_for(table_uri).write(to_arrow(frame), table_uri)
        with fs.open(f"{tmp}/{KEYS_FILE}", "w") as handle:
            json.dump(keys, handle, indent=2)


def _sources(
    source: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]], format: str | None
) -> tuple[dict[str, str], dict[str, Any] | None]:
    """Table name to file, and the keys file's content if the directory has one."""
    if isinstance(source, Mapping):
        if not source:
            raise ParameterError("Pass at least one table: {name: path}.")
        return {str(name): os.fspath(path) for name, path in source.items()}, None
    uri = os.fspath(source).rstrip("/")
    fs, path = resolve(uri)
    require_exists(fs, path, uri)
    if not fs.isdir(path):
        raise ConnectorError(
            f"{redact(uri)} is a file; related tables read from a directory of table files "
            "or a mapping {table: path}. For nested records in one file use "
            "load(path, shape='records')."
        )
    paths: dict[str, str] = {}
    keys = None
    for entry in sorted(fs.ls(path, detail=False)):
        name = PurePosixPath(entry).name
        full = entry if "://" not in uri else fs.unstrip_protocol(entry)
        if name == KEYS_FILE:
            with fs.open(entry, "r") as handle:
                keys = _read_keys(handle.read(), uri)
            continue
        if name.startswith((".", "_")) or fs.isdir(entry):
            continue
        try:
            connector_for(full, format)
        except UnknownFormatError:
            continue
        table = name.split(".", 1)[0]
        if table in paths:
            raise FormatError(
                f"{redact(uri)} holds two files for table {table!r} "
                f"({PurePosixPath(paths[table]).name}, {name}); keep one."
            )
        paths[table] = full
    if keys is not None:
        # The order the tables were written in (which orders relationships' owners too).
        written = [name for name in keys.get("tables", []) if name in paths]
        paths = {name: paths[name] for name in [*written, *sorted(set(paths) - set(written))]}
    if not paths:
        raise FormatError(
            f"{redact(uri)} holds no table files (.csv, .parquet, .feather, .jsonl...)."
        )
    return paths, keys


def _read_keys(text: str, uri: str) -> dict[str, Any]:
    try:
        keys = json.loads(text)
    except json.JSONDecodeError as error:
        raise FormatError(f"{KEYS_FILE} in {redact(uri)} is not valid JSON: {error}.") from None
    if not isinstance(keys, dict) or keys.get("format_version") != _FORMAT_VERSION:
        raise FormatError(
            f"{KEYS_FILE} in {redact(uri)} is not a keys file this synthkit writes "
            f"(format_version {_FORMAT_VERSION}); pass relationships= or remove it."
        )
    return keys
