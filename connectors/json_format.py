"""JSON Lines and JSON arrays of records, nested objects and lists included."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from synthkit._registry import import_optional
from synthkit.connectors._base import DEFAULT_BATCH_SIZE, Connector, FormatError
from synthkit.connectors._paths import (
    open_input_stream,
    open_output_stream,
    strip_compression,
)

__all__ = ["JsonConnector"]

_LINE_SUFFIXES = (".jsonl", ".ndjson")


class JsonConnector(Connector):
    """JSON Lines (``.jsonl``, ``.ndjson``: one object per line) and JSON arrays (``.json``).

    Nested objects become Arrow structs and lists of objects become lists of
    structs, so a patient with a list of visits stays one row. Timestamps, which
    JSON has no type for, are written as ISO 8601 text and read back as
    timestamps.

    Example:
        >>> import tempfile, pathlib, pyarrow as pa
        >>> path = str(pathlib.Path(tempfile.mkdtemp()) / "people.jsonl")
        >>> table = pa.table({"id": [1, 2], "visits": [[{"day": 3}], []]})
        >>> JsonConnector().write(table, path)
        >>> JsonConnector().read(path).to_pylist()
        [{'id': 1, 'visits': [{'day': 3}]}, {'id': 2, 'visits': []}]
    """

    name = "json"
    suffixes = (".json", ".jsonl", ".ndjson")

    def read(
        self, uri: str, *, lines: bool | None = None, compression: str | None = "infer"
    ) -> pa.Table:
        """Read JSON Lines or a JSON array of objects.

        Args:
            uri: Local path or fsspec URL.
            lines: One object per line; inferred from the suffix and the first character.
            compression: ``"infer"`` from the suffix, a codec name, or ``None``.
        """
        if not _is_lines(uri, lines, compression):
            return _read_array(uri, compression)
        with open_input_stream(uri, compression) as stream:
            try:
                table = pajson.read_json(
                    stream,
                    read_options=pajson.ReadOptions(block_size=1 << 24),
                    parse_options=pajson.ParseOptions(unexpected_field_behavior="infer"),
                )
            except pa.ArrowInvalid as error:
                raise _line_error(uri, compression, str(error)) from None
        return _nanosecond_times(table)

    def iter_batches(
        self,
        uri: str,
        *,
        batch_size: int | None = None,
        lines: bool | None = None,
        compression: str | None = "infer",
    ) -> Iterator[pa.RecordBatch]:
        """Yield batches of at most ``batch_size`` rows (the file is parsed whole first)."""
        table = self.read(uri, lines=lines, compression=compression)
        yield from table.to_batches(max_chunksize=batch_size or DEFAULT_BATCH_SIZE)

    def write(
        self,
        table: pa.Table,
        uri: str,
        *,
        lines: bool | None = None,
        compression: str | None = "infer",
    ) -> None:
        """Write ``table`` as JSON Lines (``.jsonl``) or a JSON array (``.json``), atomically."""
        lines = strip_compression(uri).lower().endswith(_LINE_SUFFIXES) if lines is None else lines
        duckdb = import_optional("duckdb", extra="duckdb", purpose="Writing JSON files")
        # DuckDB's JSON writer is vectorized and handles nested types.
        with tempfile.TemporaryDirectory(prefix="synthkit-json-") as folder:
            scratch = Path(folder) / "out.json"
            connection = duckdb.connect()
            try:
                connection.execute("SET TimeZone = 'UTC'")  # instants written in UTC
                connection.register("source_table", _plain(table))
                connection.execute(
                    "COPY (SELECT * FROM source_table) TO ? (FORMAT JSON, ARRAY ?)",
                    [str(scratch), not lines],
                )
            finally:
                connection.close()
            with open_output_stream(uri, compression) as sink, scratch.open("rb") as source:
                shutil.copyfileobj(source, sink, length=1 << 22)


def _plain(table: pa.Table) -> pa.Table:
    # Categories are written as their values; DuckDB would otherwise need an ENUM.
    arrays = [
        column.cast(field.type.value_type) if pa.types.is_dictionary(field.type) else column
        for field, column in zip(table.schema, table.columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=table.column_names)


def _is_lines(uri: str, lines: bool | None, compression: str | None) -> bool:
    if lines is not None:
        return lines
    if strip_compression(uri).lower().endswith(_LINE_SUFFIXES):
        return True
    with open_input_stream(uri, compression) as stream:
        start = stream.read(1 << 12).lstrip()
    if not start:
        raise FormatError(f"The JSON file {uri} is empty.")
    return not start.startswith(b"[")


def _read_array(uri: str, compression: str | None) -> pa.Table:
    with open_input_stream(uri, compression) as stream:
        raw = stream.read()
    try:
        records = json.loads(raw)
    except UnicodeDecodeError as error:
        raise FormatError(
            f"{uri} is not UTF-8 text (byte {error.start}); JSON must be UTF-8."
        ) from None
    except json.JSONDecodeError as error:
        raise FormatError(
            f"Invalid JSON at line {error.lineno}, column {error.colno} of {uri}: {error.msg}."
        ) from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records[:1]):
        raise FormatError(
            f"{uri} holds a JSON {type(records).__name__}; expected an array of objects "
            "(records) or one object per line."
        )
    try:
        array = pa.array(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise FormatError(f"The records of {uri} do not share one shape: {error}.") from None
    if not pa.types.is_struct(array.type):
        raise FormatError(f"{uri} must be an array of objects; found {array.type} items.")
    return _nanosecond_times(_timestamps_from_text(pa.Table.from_struct_array(array)))


_ISO_TIME = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?$"


def _timestamps_from_text(table: pa.Table) -> pa.Table:
    # The JSON Lines reader infers timestamps from ISO text; do the same for arrays.
    arrays = []
    for column in table.columns:
        text = pa.types.is_string(column.type) and column.null_count < len(column)
        if text and pc.all(pc.match_substring_regex(column, _ISO_TIME)).as_py():
            column = column.cast(pa.timestamp("ns"))
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=table.column_names)


def _line_error(uri: str, compression: str | None, message: str) -> FormatError:
    # Error path only: find the first line that is not a JSON object to name it.
    with open_input_stream(uri, compression) as stream:
        text = stream.read().decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            return FormatError(
                f"Invalid JSON at line {number}, column {error.colno} of {uri}: {error.msg}."
            )
        if not isinstance(value, dict):
            return FormatError(
                f"Line {number} of {uri} holds a JSON {type(value).__name__}; "
                "JSON Lines needs one object per line."
            )
    return FormatError(
        f"Cannot read {uri} as JSON Lines: {message}. A field may change type between "
        "records (number in one, text in another); make it consistent."
    )


def _nanosecond_times(table: pa.Table) -> pa.Table:
    # Arrow infers timestamp[s] from ISO text; pandas works in nanoseconds. Only the
    # timestamp columns are cast: Arrow 26 corrupts some nested columns cast to themselves.
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.unit != "ns":
            target = pa.timestamp("ns", field.type.tz)
            table = table.set_column(index, field.name, table.column(index).cast(target))
    return table
