"""The verbs users call: ``load``, ``save`` and ``iter_batches``, dispatching to connectors."""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa

from synthkit.connectors._base import ConnectorError, password_of, redact
from synthkit.connectors.registry import connector_for
from synthkit.errors import DataError, ParameterError, SynthkitError
from synthkit.metadata import Metadata
from synthkit.schema import RecordDataset, SequenceDataset
from synthkit.schema._arrow import to_arrow, to_pandas

__all__ = ["iter_batches", "load", "save"]

_SHAPES = ("table", "sequences", "records")


def load(
    uri: str | os.PathLike[str],
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
    **options: Any,
) -> pd.DataFrame | pa.Table | SequenceDataset | RecordDataset:
    """Read a file, directory or database into a DataFrame (or a dataset object).

    The connector is chosen by the URI's scheme (``sqlite://``, ``postgresql://``,
    ``duckdb://``) or file suffix (``.csv``, ``.parquet``, ``.feather``,
    ``.jsonl``...); ``format=`` overrides the choice.

    Args:
        uri: Local path, fsspec URL (``memory://``, ``s3://``...) or SQLAlchemy URL.
        format: Connector name, for files whose suffix says nothing.
        as_arrow: Return the ``pyarrow.Table`` instead of pandas (tables only).
        dtypes: pandas dtypes to apply after reading (``{"zip": "category"}``), for
            formats that store none (CSV, JSON, SQL).
        shape: ``"table"`` (default), ``"sequences"`` (implied by ``sequence_key``) or
            ``"records"`` (nested records, or several SQL tables via ``tables=``).
        sequence_key: Column naming the entity of each row (sequences).
        sequence_index: Column ordering rows within an entity (sequences).
        metadata: Column kinds and keys for a sequence dataset.
        name: Name of the root table of a record dataset (default: the file stem).
        primary_key: Key column of the root records (default: a generated one).
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
    """
    with _secrets_hidden(uri):
        shape = _shape_of(shape, sequence_key, sequence_index, options)
        connector = connector_for(uri, format)
        text = os.fspath(uri)
        if shape == "records" and "tables" in options:
            tables, relationships = _call(connector.read_related, text, options)
            return RecordDataset(
                {key: to_pandas(value) for key, value in tables.items()}, relationships, root=name
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
            (Parquet), ``table=`` and ``if_exists=`` (SQL), ``delimiter=`` (CSV).

    Example:
        >>> import tempfile, pathlib, pandas as pd
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "people.parquet"
        >>> frame = pd.DataFrame({"city": pd.Categorical(["Oslo", "Rome"])})
        >>> save(frame, path)
        >>> load(path).dtypes["city"]
        CategoricalDtype(categories=['Oslo', 'Rome'], ordered=False, categories_dtype=object)
    """
    with _secrets_hidden(uri):
        connector = connector_for(uri, format)
        text = os.fspath(uri)
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
        if isinstance(data, (SequenceDataset, RecordDataset)):
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
