"""Parquet files and partitioned Parquet directories, read whole or streamed in record batches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from synthkit.connectors._base import DEFAULT_BATCH_SIZE, Connector, FormatError
from synthkit.connectors._paths import arrow_filesystem, atomic_output_path, require_exists, resolve
from synthkit.errors import ParameterError

__all__ = ["ParquetConnector"]

_SCHEMA_FILE = "_common_metadata"
_PARTITIONS_KEY = b"synthkit.partition_cols"


class ParquetConnector(Connector):
    """Parquet: one file, or a directory partitioned Hive-style (``year=2024/part-0.parquet``).

    Example:
        >>> import tempfile, pathlib, pyarrow as pa
        >>> path = str(pathlib.Path(tempfile.mkdtemp()) / "t.parquet")
        >>> ParquetConnector().write(pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]}), path)
        >>> [len(batch) for batch in ParquetConnector().iter_batches(path, batch_size=2)]
        [2, 1]
    """

    name = "parquet"
    suffixes = (".parquet", ".pq")

    def read(self, uri: str, *, columns: list[str] | None = None, filters: Any = None) -> pa.Table:
        """Read a Parquet file or partitioned directory.

        Args:
            uri: Local path or fsspec URL of a file or directory.
            columns: Read only these columns (the others are never decoded).
            filters: Row filter pushed down to the files, in pyarrow's form
                (``[("year", "=", 2024)]``) or a ``pyarrow.dataset`` expression.
        """
        dataset = _open_dataset(uri)
        _check_columns(dataset.schema, columns, uri)
        if filters is not None and not isinstance(filters, pads.Expression):
            filters = pq.filters_to_expression(filters)
        with _read_errors(uri):
            table = dataset.to_table(columns=columns, filter=filters)
        return table.replace_schema_metadata(dataset.schema.metadata)

    def iter_batches(
        self,
        uri: str,
        *,
        batch_size: int | None = None,
        columns: list[str] | None = None,
        filters: Any = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream record batches of at most ``batch_size`` rows; memory stays near one batch."""
        dataset = _open_dataset(uri)
        _check_columns(dataset.schema, columns, uri)
        if filters is not None and not isinstance(filters, pads.Expression):
            filters = pq.filters_to_expression(filters)
        # No read-ahead and no pre-buffering of column chunks: memory stays near one
        # batch (pre-buffering alone holds several row groups).
        scanner = dataset.scanner(
            columns=columns,
            filter=filters,
            batch_size=batch_size or DEFAULT_BATCH_SIZE,
            batch_readahead=0,
            fragment_readahead=0,
            fragment_scan_options=pads.ParquetFragmentScanOptions(pre_buffer=False),
            use_threads=True,
        )
        with _read_errors(uri):
            for batch in scanner.to_batches():
                if len(batch):
                    yield batch.replace_schema_metadata(dataset.schema.metadata)

    def write(
        self,
        table: pa.Table,
        uri: str,
        *,
        partition_cols: list[str] | None = None,
        compression: str = "snappy",
        row_group_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Write ``table`` atomically, as one file or as a directory partitioned by columns.

        Args:
            table: The data.
            uri: Target file, or directory when ``partition_cols`` is given.
            partition_cols: Columns whose values name sub-directories.
            compression: Parquet codec (``"snappy"``, ``"zstd"``, ``"gzip"``, ``"none"``).
            row_group_size: Rows per row group; smaller groups stream with less memory.
        """
        if partition_cols:
            _check_columns(table.schema, partition_cols, "the data", what="partition_cols")
            metadata = dict(table.schema.metadata or {})
            metadata[_PARTITIONS_KEY] = json.dumps(list(partition_cols)).encode()
            table = table.replace_schema_metadata(metadata)
            with atomic_output_path(uri, directory=True) as (filesystem, tmp):
                pq.write_to_dataset(
                    table,
                    tmp,
                    partition_cols=list(partition_cols),
                    filesystem=filesystem,
                    compression=compression,
                    row_group_size=row_group_size,
                    existing_data_behavior="overwrite_or_ignore",
                )
                pq.write_metadata(table.schema, f"{tmp}/{_SCHEMA_FILE}", filesystem=filesystem)
            return
        with atomic_output_path(uri) as (filesystem, tmp):
            pq.write_table(
                table,
                tmp,
                filesystem=filesystem,
                compression=compression,
                row_group_size=row_group_size,
            )


def _open_dataset(uri: str) -> pads.Dataset:
    fs, path = resolve(uri)
    require_exists(fs, path, uri)
    filesystem = arrow_filesystem(fs)
    with _read_errors(uri):
        if not fs.isdir(path):
            return pads.dataset(path, filesystem=filesystem, format="parquet")
        schema, partitioning = _saved_layout(fs, path, filesystem)
        return pads.dataset(
            path, filesystem=filesystem, format="parquet", schema=schema, partitioning=partitioning
        )


def _saved_layout(fs: Any, path: str, filesystem: Any) -> tuple[pa.Schema | None, Any]:
    # A directory written by synthkit keeps the full schema (partition column
    # types and pandas dtypes included); other directories are inferred Hive-style.
    schema_path = f"{path.rstrip('/')}/{_SCHEMA_FILE}"
    if not fs.exists(schema_path):
        return None, "hive"
    schema = pq.read_schema(schema_path, filesystem=filesystem)
    names = json.loads((schema.metadata or {}).get(_PARTITIONS_KEY, b"[]"))
    partitioning = pads.partitioning(pa.schema([schema.field(n) for n in names]), flavor="hive")
    return schema, partitioning


def _check_columns(
    schema: pa.Schema, columns: list[str] | None, uri: str, what: str = "columns"
) -> None:
    if columns is None:
        return
    missing = [name for name in columns if name not in schema.names]
    if missing:
        raise ParameterError(f"{what}={missing} are not in {uri}; its columns are {schema.names}.")


class _read_errors:  # noqa: N801 - used as a context manager, reads like a function
    """Turn Arrow's Parquet errors into :class:`FormatError` naming the file."""

    def __init__(self, uri: str):
        self.uri = uri

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, _tb: Any) -> bool:
        if isinstance(error, (pa.ArrowInvalid, pa.ArrowTypeError, OSError)) and not isinstance(
            error, FormatError
        ):
            raise FormatError(
                f"Cannot read {self.uri} as Parquet ({error}); the file is damaged or is not "
                "Parquet: check the path, or pass format=... for another format."
            ) from None
        return False
