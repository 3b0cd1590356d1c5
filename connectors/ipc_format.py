"""Arrow IPC files (Feather version 2): Arrow's own format, read without conversion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from synthkit.connectors._base import DEFAULT_BATCH_SIZE, Connector, FormatError
from synthkit.connectors._paths import arrow_filesystem, atomic_output_path, require_exists, resolve
from synthkit.errors import ParameterError

__all__ = ["ArrowConnector"]


class ArrowConnector(Connector):
    """Arrow IPC files (``.arrow``, ``.feather``, ``.ipc``), file or stream layout.

    Example:
        >>> import tempfile, pathlib, pyarrow as pa
        >>> path = str(pathlib.Path(tempfile.mkdtemp()) / "t.feather")
        >>> ArrowConnector().write(pa.table({"a": [1, 2], "b": ["x", "y"]}), path)
        >>> ArrowConnector().read(path, columns=["b"]).to_pydict()
        {'b': ['x', 'y']}
    """

    name = "arrow"
    suffixes = (".arrow", ".feather", ".ipc")

    def read(self, uri: str, *, columns: list[str] | None = None) -> pa.Table:
        """Read the whole file; ``columns`` selects a subset."""
        with _Reader(uri, columns) as reader:
            tables = list(reader.batches())
        return pa.concat_tables(tables) if tables else reader.schema.empty_table()

    def iter_batches(
        self, uri: str, *, batch_size: int | None = None, columns: list[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Yield record batches of at most ``batch_size`` rows."""
        with _Reader(uri, columns) as reader:
            for batch in reader.batches():
                yield from batch.to_batches(max_chunksize=batch_size or DEFAULT_BATCH_SIZE)

    def write(self, table: pa.Table, uri: str, *, compression: str | None = "lz4") -> None:
        """Write ``table`` atomically as an Arrow IPC file (``compression``: lz4, zstd or None)."""
        options = pa.ipc.IpcWriteOptions(compression=compression)
        with (
            atomic_output_path(uri) as (filesystem, tmp),
            filesystem.open_output_stream(tmp) as sink,
        ):
            writer = pa.ipc.new_file(sink, table.schema, options=options)
            writer.write_table(table, max_chunksize=DEFAULT_BATCH_SIZE)
            writer.close()


class _Reader:
    """An open IPC file or stream with an optional column projection."""

    def __init__(self, uri: str, columns: list[str] | None):
        fs, path = resolve(uri)
        require_exists(fs, path, uri)
        self.uri = uri
        self.columns = columns
        self.source = arrow_filesystem(fs).open_input_file(path)
        try:
            self.reader = _open(self.source, uri)
        except BaseException:
            self.source.close()
            raise
        schema = self.reader.schema
        if columns is not None:
            missing = [name for name in columns if name not in schema.names]
            if missing:
                self.source.close()
                raise ParameterError(
                    f"columns={missing} are not in {uri}; its columns are {schema.names}."
                )
            schema = pa.schema([schema.field(n) for n in columns], metadata=schema.metadata)
        self.schema = schema

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *_: object) -> None:
        self.source.close()

    def batches(self) -> Iterator[pa.Table]:
        try:
            if isinstance(self.reader, pa.ipc.RecordBatchFileReader):
                raw: Any = (self.reader.get_batch(i) for i in range(self.reader.num_record_batches))
            else:
                raw = self.reader
            for batch in raw:
                table = pa.Table.from_batches([batch])
                yield table.select(self.columns) if self.columns is not None else table
        except (pa.ArrowInvalid, OSError) as error:
            raise FormatError(f"{self.uri} is truncated or damaged ({error}).") from None


def _open(source: Any, uri: str) -> Any:
    try:
        return pa.ipc.open_file(source)
    except pa.ArrowInvalid:
        source.seek(0)
    try:
        return pa.ipc.open_stream(source)
    except pa.ArrowInvalid as error:
        raise FormatError(
            f"Cannot read {uri} as an Arrow IPC/Feather file ({error}); the file is damaged "
            "or in another format: pass format=... to choose its reader."
        ) from None
