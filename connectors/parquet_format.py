"""Parquet files and partitioned Parquet directories, read whole or streamed in record batches."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from synthkit.connectors._base import DEFAULT_BATCH_SIZE, Connector, FormatError
from synthkit.connectors._paths import arrow_filesystem, atomic_output_path, require_exists, resolve
from synthkit.errors import DataError, ParameterError

__all__ = ["ParquetConnector", "ParquetFiles"]

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


class ParquetFiles:
    """Parquet files named by paths, globs or directories, read one row group at a time.

    A streamed fit reads its source through this: the row groups of every file
    (in any order, so that training can shuffle them) in record batches of a
    bounded number of rows, never a whole file.

    Args:
        uris: A path, glob (``data/*.parquet``) or directory (every ``.parquet``
            or ``.pq`` file under it), or a list of them; local or fsspec URLs.

    Raises:
        DataError: If nothing matches, or the files' schemas differ.

    Example:
        >>> import tempfile, pathlib, pyarrow as pa
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for i in range(2):
        ...     pq.write_table(pa.table({"a": [i] * 5}), folder / f"part-{i}.parquet",
        ...                    row_group_size=2)
        >>> files = ParquetFiles(str(folder / "*.parquet"))
        >>> files.n_rows, len(files.row_groups)
        (10, 6)
        >>> [batch.num_rows for batch in files.read(files.row_groups[0], rows=1)]
        [1, 1]
    """

    def __init__(self, uris: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> None:
        items = [uris] if isinstance(uris, (str, os.PathLike)) else list(uris)
        if not items:
            raise DataError("No Parquet files given; pass a path, a glob or a list of paths.")
        self.files: list[tuple[Any, str]] = []
        for item in items:
            self.files.extend(_matching_files(os.fspath(item)))
        first_fs, first_path = self.files[0]
        with first_fs.open(first_path, "rb") as handle, _read_errors(first_path):
            self.schema = pq.read_schema(handle)
        #: ``(file index, row group index, rows)`` of every non-empty row group.
        self.row_groups: list[tuple[int, int, int]] = []
        for index, (fs, path) in enumerate(self.files):
            with fs.open(path, "rb") as handle, _read_errors(path):
                metadata = pq.ParquetFile(handle).metadata
                schema = metadata.schema.to_arrow_schema()
            if not schema.remove_metadata().equals(self.schema.remove_metadata()):
                raise DataError(_schema_difference(self.schema, first_path, schema, path))
            for group in range(metadata.num_row_groups):
                rows = metadata.row_group(group).num_rows
                if rows:
                    self.row_groups.append((index, group, rows))

    @property
    def n_rows(self) -> int:
        """Rows in all files."""
        return sum(rows for _, _, rows in self.row_groups)

    def read(self, row_group: tuple[int, int, int], rows: int) -> Iterator[pa.RecordBatch]:
        """Record batches of at most ``rows`` rows of one row group, with the file's schema."""
        fs, path = self.files[row_group[0]]
        with fs.open(path, "rb") as handle, _read_errors(path):
            # No pre-buffering: memory stays near one batch, not one row group.
            reader = pq.ParquetFile(handle, pre_buffer=False)
            for batch in reader.iter_batches(
                batch_size=rows, row_groups=[row_group[1]], use_threads=False
            ):
                yield batch.replace_schema_metadata(self.schema.metadata)


def _matching_files(uri: str) -> list[tuple[Any, str]]:
    fs, path = resolve(uri)
    if any(char in path for char in "*?["):
        paths = sorted(fs.glob(path))
    elif fs.isdir(path):
        paths = sorted(p for p in fs.find(path) if p.endswith(ParquetConnector.suffixes))
    else:
        require_exists(fs, path, uri)
        paths = [path]
    paths = [p for p in paths if not fs.isdir(p)]
    if not paths:
        raise DataError(
            f"No Parquet files match {uri!r}; check the path or glob (relative paths start "
            f"at {os.getcwd()})."
        )
    return [(fs, p) for p in paths]


def _schema_difference(first: pa.Schema, first_path: str, other: pa.Schema, path: str) -> str:
    one = {field.name: str(field.type) for field in first}
    two = {field.name: str(field.type) for field in other}
    differ = sorted(
        f"{name}: {one.get(name, 'absent')} vs {two.get(name, 'absent')}"
        for name in set(one) | set(two)
        if one.get(name) != two.get(name)
    )
    detail = "; ".join(differ) if differ else "the same columns in another order"
    return (
        f"The Parquet files do not share one schema: {path} differs from {first_path} "
        f"({detail}). Fit on files with the same columns and types, or cast them first."
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
