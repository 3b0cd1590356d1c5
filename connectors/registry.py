"""The connector registry: which connector reads and writes a URI, chosen by scheme and suffix."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from synthkit._registry import Registry
from synthkit.connectors._base import Connector, UnknownFormatError, redact
from synthkit.connectors._paths import strip_compression
from synthkit.errors import ParameterError, UnknownNameError

__all__ = ["connector_for", "connectors", "register_connector"]

#: Every connector by name; third parties add theirs through the
#: ``synthkit.connectors`` entry-point group (a :class:`Connector` subclass).
connectors: Registry[type[Connector]] = Registry("connector", "synthkit.connectors")

_by_scheme: dict[str, str] = {}
_by_suffix: dict[str, str] = {}


def register_connector(
    name: str,
    target: type[Connector] | str,
    *,
    schemes: tuple[str, ...] = (),
    suffixes: tuple[str, ...] = (),
    install_hint: str | None = None,
    clobber: bool = False,
) -> None:
    """Register a connector class under ``name`` for URI ``schemes`` and file ``suffixes``.

    Args:
        name: The connector's name, also accepted as ``format=`` by ``load``/``save``.
        target: A :class:`Connector` subclass or a lazy ``"module:Class"`` path.
        schemes: URI schemes it serves (``"sqlite"`` serves ``sqlite:///...``).
        suffixes: File suffixes it serves (``".csv"``), matched case-insensitively,
            also under a compression suffix (``data.csv.gz``).
        install_hint: Shown when the lazy import of ``target`` fails.
        clobber: Replace an existing connector of the same name, scheme or suffix.

    Example:
        >>> from synthkit.connectors import Connector, connector_for, register_connector
        >>> class Shout(Connector):
        ...     name, suffixes = "shout", (".shout",)
        >>> register_connector("shout", Shout, suffixes=(".shout",))
        >>> type(connector_for("out/data.shout")).__name__
        'Shout'
    """
    for scheme in schemes:
        _claim(_by_scheme, scheme.lower(), name, "scheme", clobber)
    for suffix in suffixes:
        _claim(_by_suffix, suffix.lower(), name, "suffix", clobber)
    connectors.register(name, target, install_hint=install_hint, clobber=clobber)
    for scheme in schemes:
        _by_scheme[scheme.lower()] = name.lower()
    for suffix in suffixes:
        _by_suffix[suffix.lower()] = name.lower()


def _claim(table: dict[str, str], key: str, name: str, what: str, clobber: bool) -> None:
    owner = table.get(key)
    if owner is not None and owner != name.lower() and not clobber:
        raise ParameterError(
            f"The {what} {key!r} already belongs to the {owner!r} connector; "
            "pass clobber=True to replace it."
        )


def connector_for(uri: str | os.PathLike[str], format: str | None = None) -> Connector:
    """Return a connector instance for ``uri``: by ``format`` if given, else scheme then suffix.

    Raises:
        UnknownFormatError: Listing the known formats, schemes and suffixes.

    Example:
        >>> connector_for("data/people.parquet").name
        'parquet'
        >>> connector_for("sqlite:///people.db").name
        'sql'
    """
    text = os.fspath(uri)
    if format is not None:
        try:
            return connectors.get(format)()
        except UnknownNameError as error:
            raise UnknownFormatError(f"format={format!r}: {error}") from None
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    base_scheme = scheme.split("+", 1)[0]
    if base_scheme in _by_scheme:
        return connectors.get(_by_scheme[base_scheme])()
    name = PurePosixPath(strip_compression(text.rstrip("/"))).name.lower()
    for suffix in sorted(_by_suffix, key=len, reverse=True):
        if name.endswith(suffix):
            return connectors.get(_by_suffix[suffix])()
    found = _from_entry_points(text)
    if found is not None:
        return found
    raise UnknownFormatError(
        f"No connector reads or writes {redact(text)!r}. "
        f"Known formats: {', '.join(connectors.names())}; "
        f"schemes: {', '.join(sorted(_by_scheme))}; suffixes: {', '.join(sorted(_by_suffix))}. "
        "Pass format=... for a file with another suffix, or register_connector(...) a new one."
    )


def _from_entry_points(uri: str) -> Connector | None:
    # Third-party connectors arrive by name only; ask each for its schemes and suffixes.
    known = set(_by_scheme.values()) | set(_by_suffix.values())
    for name in connectors.names():
        if name in known:
            continue
        connector = connectors.get(name)()
        scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
        if scheme in connector.schemes or connector.handles_suffix(strip_compression(uri)):
            return connector
    return None


register_connector(
    "csv",
    "synthkit.connectors.csv_format:CsvConnector",
    suffixes=(".csv", ".tsv", ".tab", ".txt"),
)
register_connector(
    "parquet", "synthkit.connectors.parquet_format:ParquetConnector", suffixes=(".parquet", ".pq")
)
register_connector(
    "arrow",
    "synthkit.connectors.ipc_format:ArrowConnector",
    suffixes=(".arrow", ".feather", ".ipc"),
)
register_connector(
    "json", "synthkit.connectors.json_format:JsonConnector", suffixes=(".json", ".jsonl", ".ndjson")
)
register_connector(
    "sql",
    "synthkit.connectors.sql:SqlConnector",
    schemes=("sqlite", "postgresql", "postgres", "duckdb"),
    install_hint='pip install "synthkit[postgres]" for PostgreSQL, "synthkit[duckdb]" for DuckDB.',
)
