"""The verbs users call: ``load``, ``save`` and ``iter_batches``, dispatching to connectors."""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from synthkit.connectors._base import ConnectorError, UnknownFormatError, password_of, redact
from synthkit.connectors.registry import connector_for
from synthkit.connectors.related_files import (
    is_table_directory,
    read_related_files,
    write_related_files,
)
from synthkit.errors import DataError, ParameterError, SynthkitError
from synthkit.metadata import Metadata
from synthkit.schema import RecordDataset, Relationship, SequenceDataset, detect_keys
from synthkit.schema._arrow import to_arrow, to_pandas

if TYPE_CHECKING:
    from synthkit.generators.streamed_source import BatchSource

__all__ = ["batch_source", "iter_batches", "load", "save"]

_SHAPES = ("table", "sequences", "records")


def load(
    uri: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]],
    *,
    format: str | None = None,
    as_arrow: bool = False,
    dtypes: Mapping[str, Any] | None = None,
    shape: str | None = None,
    sequence_key: str | None = None,
    sequence_index: str | None = None,
    metadata: Metadata | None = None,
    name: str | None = None,
    primary_key: str | None = None,
    relationships: Sequence[Relationship] | str | None = None,
    primary_keys: Mapping[str, str] | None = None,
    orphans: str = "raise",
    independent: Sequence[str] | None = None,
    **options: Any,
) -> pd.DataFrame | pa.Table | SequenceDataset | RecordDataset:
    """Read a file, directory or database into a DataFrame (or a dataset object).

    The connector is chosen by the URI's scheme (``sqlite://``, ``postgresql://``,
    ``duckdb://``) or file suffix (``.csv``, ``.parquet``, ``.feather``,
    ``.jsonl``...); ``format=`` overrides the choice.

    Related tables (a :class:`RecordDataset`) come from three sources: several
    tables of a database (``tables=[...]`` or ``"all"``; keys from its declared
    primary and foreign keys), a mapping of table name to file or a directory of
    table files (one ``<table>.<suffix>`` each; keys from the ``_relationships.json``
    that ``save`` writes, else given or detected), or one file of nested records
    (``shape="records"``).

    Args:
        uri: Local path, fsspec URL (``memory://``, ``s3://``...) or SQLAlchemy URL.
        format: Connector name, for files whose suffix says nothing.
        as_arrow: Return the ``pyarrow.Table`` instead of pandas (tables only).
        dtypes: pandas dtypes to apply after reading (``{"zip": "category"}``), for
            formats that store none (CSV, JSON, SQL); for a mapping or directory of
            table files, per table (``{"patients": {"zip": "category"}}``).
        shape: ``"table"`` (default), ``"sequences"`` (implied by ``sequence_key``) or
            ``"records"`` (nested records, or several SQL tables via ``tables=``).
        sequence_key: Column naming the entity of each row (sequences).
        sequence_index: Column ordering rows within an entity (sequences).
        metadata: Column kinds and keys for a sequence dataset.
        name: Name of the root table of a record dataset (default: the file stem).
        primary_key: Key column of the root records (default: a generated one).
        relationships: For related tables: the links, ``"detect"`` to propose them
            from names and values (:meth:`RecordDataset.propose_keys`), or None for
            the source's own (a database's foreign keys, a directory's keys file),
            detected when it declares none.
        primary_keys: For related tables: table name to primary key, overriding
            the source's.
        orphans: For related tables: ``"raise"`` on child rows whose parent is
            missing, or repair them: ``"drop"`` the rows or ``"null"`` their key.
        independent: For related tables: tables linked to no other.
        **options: Passed to the connector, for example ``columns=``, ``delimiter=``,
            ``parse_dates=`` (CSV), ``filters=`` (Parquet), ``table=``, ``query=``,
            ``params=`` (SQL).

    Returns:
        A DataFrame, a ``pyarrow.Table`` (``as_arrow=True``), a
        :class:`SequenceDataset` or a :class:`RecordDataset`.

    Raises:
        ConnectorError: Missing source, unknown format, malformed content,
            unreachable database or missing table; the message names which.
        ParameterError: An option the connector does not accept.

    Example:
        >>> import tempfile, pathlib, pandas as pd
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "people.csv"
        >>> save(pd.DataFrame({"id": ["007", "042"], "age": [31, 45]}), path)
        >>> load(path).dtypes.astype(str).tolist()
        ['object', 'int64']

        Related tables from files, keys detected, and back from the database they
        were saved to:

        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> save(pd.DataFrame({"id": [1, 2]}), folder / "patients.csv")
        >>> save(pd.DataFrame({"id": [2, 2, 1], "hdl": [40, 51, 62]}), folder / "labs.csv")
        >>> db = load({"patients": folder / "patients.csv", "labs": folder / "labs.csv"})
        >>> save(db, f"sqlite:///{folder / 'hospital.db'}")
        >>> load(f"sqlite:///{folder / 'hospital.db'}", tables="all").relationships
        [Relationship(parent='patients', child='labs', parent_key='id', child_key='id', field=None, order=None)]
    """  # noqa: E501
    related = {
        "relationships": relationships,
        "primary_keys": primary_keys,
        "orphans": orphans,
        "independent": independent,
    }
    # A directory with no data suffix holds one file per table, unless format= says it
    # is one partitioned table (a Parquet dataset directory).
    as_tables = shape == "records" or (shape is None and format is None)
    if isinstance(uri, Mapping) or (
        as_tables and "tables" not in options and is_table_directory(uri)
    ):
        if options:
            raise ParameterError(
                f"Option(s) {sorted(options)} do not apply to a directory or mapping of "
                "table files; read such files one by one."
            )
        # dtypes here maps each table to its columns' dtypes.
        return read_related_files(uri, root=name, format=format, dtypes=dtypes, **related)
    given = {key: value for key, value in related.items() if value not in (None, "raise")}
    with _secrets_hidden(uri):
        shape = _shape_of(shape, sequence_key, sequence_index, options)
        connector = connector_for(uri, format)
        text = os.fspath(uri)
        if shape == "records" and "tables" in options:
            tables, links, keys = _call(connector.read_related, text, options)
            frames = {key: to_pandas(value) for key, value in tables.items()}
            if relationships == "detect" or (relationships is None and not links):
                proposal = detect_keys(frames) if len(frames) > 1 else None
                links = proposal.relationships if proposal else []
                keys = {**(proposal.primary_keys if proposal else {}), **keys}
                if independent is None and proposal is not None:
                    independent = proposal.unlinked
            elif relationships is not None:
                links = list(relationships)
            return RecordDataset(
                frames,
                links,
                root=name,
                primary_keys={**keys, **(primary_keys or {})},
                orphans=orphans,
                independent=independent or (),
            )
        if given:
            raise ParameterError(
                f"{sorted(given)} apply to related tables: a mapping or directory of table "
                "files, or tables=[...] of a database."
            )
        table = _call(connector.read, text, options)
        if shape == "records":
            stem = name or PurePosixPath(text.split("?", 1)[0]).name.split(".", 1)[0] or "records"
            return RecordDataset.from_arrow(table, name=stem, primary_key=primary_key)
        if as_arrow:
            if dtypes:
                raise ParameterError("dtypes applies to pandas output; drop it or as_arrow=True.")
            if shape == "sequences":
                raise ParameterError("Sequences load as a SequenceDataset; drop as_arrow=True.")
            return table
        frame = to_pandas(table, dtypes)
        if shape == "sequences":
            return SequenceDataset(frame, sequence_key, sequence_index, metadata=metadata)
        return frame


def save(
    data: pd.DataFrame | pa.Table | SequenceDataset | RecordDataset,
    uri: str | os.PathLike[str],
    *,
    format: str | None = None,
    **options: Any,
) -> None:
    """Write a DataFrame, Arrow table or dataset to a file, directory or database.

    File writes are atomic (a temporary file beside the target, then a rename);
    database writes run in one transaction. A record dataset is written nested
    (JSON, Parquet, Arrow) or as related tables with keys (SQL).

    Args:
        data: What to write.
        uri: Target path, fsspec URL or SQLAlchemy URL.
        format: Connector name, for targets whose suffix says nothing.
        **options: Passed to the connector, for example ``partition_cols=``
            (Parquet), ``table=`` and ``if_exists=`` (SQL), ``delimiter=`` (CSV);
            ``root=`` names the top table of a record dataset written nested.

    A record dataset goes to a database as its tables with primary and foreign
    keys declared (one transaction), to a path without a file suffix as a
    directory of one file per table (``format=`` gives their suffix: ``csv``
    by default, ``csv.gz``, ``parquet``, ``feather``, ``jsonl``) with its keys in
    ``_relationships.json``, or to a JSON, Parquet or Arrow file as nested records.

    Example:
        >>> import tempfile, pathlib, pandas as pd
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "people.parquet"
        >>> frame = pd.DataFrame({"city": pd.Categorical(["Oslo", "Rome"])})
        >>> save(frame, path)
        >>> load(path).dtypes["city"]
        CategoricalDtype(categories=['Oslo', 'Rome'], ordered=False, categories_dtype=object)
    """
    if isinstance(data, RecordDataset) and _is_directory_target(uri):
        if options:
            raise ParameterError(
                f"Option(s) {sorted(options)} do not apply when writing one file per table."
            )
        write_related_files(data, uri, format=format or "csv")
        return
    with _secrets_hidden(uri):
        connector = connector_for(uri, format)
        text = os.fspath(uri)
        root = options.pop("root", None) if isinstance(data, RecordDataset) else None
        if isinstance(data, RecordDataset) and hasattr(connector, "write_related"):
            tables = {key: to_arrow(value) for key, value in data.tables.items()}
            _call(
                connector.write_related,
                text,
                options,
                tables,
                data.relationships,
                data.primary_keys,
            )
            return
        if isinstance(data, RecordDataset):
            table = data.to_arrow(root)
        elif isinstance(data, SequenceDataset):
            table = data.to_arrow()
        elif isinstance(data, (pd.DataFrame, pa.Table, pa.RecordBatch)):
            table = to_arrow(data)
        else:
            raise DataError(
                f"save() writes a DataFrame, pyarrow Table, SequenceDataset or RecordDataset; "
                f"got {type(data).__name__}."
            )
        _call(connector.write, text, options, table)


def iter_batches(
    uri: str | os.PathLike[str],
    *,
    batch_size: int | None = None,
    format: str | None = None,
    **options: Any,
) -> Iterator[pa.RecordBatch]:
    """Stream a source as Arrow record batches of at most ``batch_size`` rows.

    Parquet, Arrow and CSV files and SQL results are read incrementally, so a
    source larger than memory can be processed batch by batch.

    Example:
        >>> import tempfile, pathlib, pandas as pd
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "n.parquet"
        >>> save(pd.DataFrame({"n": range(10)}), path)
        >>> [batch.num_rows for batch in iter_batches(path, batch_size=4)]
        [4, 4, 2]
    """
    with _secrets_hidden(uri):
        connector = connector_for(uri, format)
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ParameterError(f"batch_size={batch_size!r}: use a positive integer.")
        options = {**options, "batch_size": batch_size}
        yield from _call(connector.iter_batches, os.fspath(uri), options)


def batch_source(
    uri: str | os.PathLike[str],
    *,
    batch_size: int | None = None,
    format: str | None = None,
    **options: Any,
) -> BatchSource:
    """A source a model can fit from without loading it: :func:`iter_batches`, re-opened per pass.

    ``model.fit(batch_source(uri), memory_budget=...)`` streams any source that
    :func:`iter_batches` reads (CSV, Arrow, Parquet, SQL), in order; Parquet
    files passed to ``fit`` by path stream with their row groups shuffled too.

    Args:
        uri: As for :func:`iter_batches`.
        batch_size: Rows per batch read from the source (the fit cuts them finer).
        format: Connector name, for sources whose suffix says nothing.
        **options: Passed to the connector, as for :func:`iter_batches`.

    Example:
        >>> import tempfile, pathlib, pandas as pd
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "n.csv"
        >>> save(pd.DataFrame({"n": range(10)}), path)
        >>> source = batch_source(path, batch_size=4)
        >>> [len(frame) for frame in source.frames(rows=3)]
        [3, 1, 3, 1, 2]
    """
    from synthkit.generators.streamed_source import BatchSource

    # Fail now, not at the first pass, on a missing source or an unknown format.
    with _secrets_hidden(uri):
        connector_for(uri, format)
    return BatchSource(
        lambda: iter_batches(uri, batch_size=batch_size, format=format, **options),
        name=redact(os.fspath(uri)),
    )


def _is_directory_target(uri: str | os.PathLike[str]) -> bool:
    """A target no connector claims by scheme or suffix: a directory of table files."""
    try:
        connector_for(uri)
    except UnknownFormatError:
        return True
    return False


@contextlib.contextmanager
def _secrets_hidden(uri: str | os.PathLike[str]) -> Iterator[None]:
    """Re-raise any error whose message would show the password of ``uri``, redacted."""
    secret = password_of(os.fspath(uri))
    try:
        yield
    except Exception as error:
        if not secret or secret not in str(error):
            raise
        text = redact(str(error), secret)
        if isinstance(error, SynthkitError):
            raise type(error)(text) from None
        raise ConnectorError(text) from None


def _shape_of(
    shape: str | None, sequence_key: str | None, sequence_index: str | None, options: dict
) -> str:
    if shape is None:
        if sequence_key is not None or sequence_index is not None:
            return "sequences"
        return "records" if "tables" in options else "table"
    if shape not in _SHAPES:
        raise ParameterError(f"shape={shape!r}: use one of {', '.join(_SHAPES)}.")
    if shape == "sequences" and sequence_key is None:
        raise ParameterError("shape='sequences' needs sequence_key= (the entity column).")
    return shape


def _call(method: Callable[..., Any], uri: str, options: Mapping[str, Any], *head: Any) -> Any:
    """Call a connector method, reporting options it does not accept by name."""
    parameters = inspect.signature(method).parameters.values()
    accepted = [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    unknown = [] if open_ended else sorted(set(options) - set(accepted))
    if unknown:
        owner = getattr(method, "__self__", None)
        raise ParameterError(
            f"Option(s) {unknown} are not accepted by the {getattr(owner, 'name', '?')} "
            f"connector for {redact(uri)}; it accepts: {', '.join(accepted) or 'none'}."
        )
    return method(*head, uri, **options)
