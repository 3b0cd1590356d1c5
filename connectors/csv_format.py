"""CSV and TSV files: delimiter, encoding and compression inferred, column types kept honest."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from synthkit.connectors._base import DEFAULT_BATCH_SIZE, Connector, FormatError
from synthkit.connectors._paths import open_input_stream, open_output_stream, strip_compression
from synthkit.errors import ParameterError

__all__ = ["CsvConnector"]

_SAMPLE_BYTES = 1 << 16
_BLOCK_BYTES = 1 << 24
_LEADING_ZERO = r"^[+-]?0[0-9]"
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class CsvConnector(Connector):
    """Delimited text files (``.csv``, ``.tsv``), optionally compressed (``.gz``, ``.zst``...).

    Every column is read as text first and then given the narrowest type that
    holds all of its values (integer, float, boolean, else string), so a code
    such as ``"007"`` stays the string ``"007"``. Dates are parsed only when asked
    with ``parse_dates``.

    Example:
        >>> import tempfile, pathlib, pyarrow as pa
        >>> path = str(pathlib.Path(tempfile.mkdtemp()) / "codes.csv")
        >>> CsvConnector().write(pa.table({"zip": ["02139", "10001"], "n": [1, 2]}), path)
        >>> CsvConnector().read(path).to_pydict()
        {'zip': ['02139', '10001'], 'n': [1, 2]}
    """

    name = "csv"
    suffixes = (".csv", ".tsv", ".tab", ".txt")

    def read(
        self,
        uri: str,
        *,
        columns: list[str] | None = None,
        delimiter: str | None = None,
        encoding: str | None = None,
        compression: str | None = "infer",
        parse_dates: list[str] | Mapping[str, str] | None = None,
        column_types: Mapping[str, Any] | None = None,
        null_values: list[str] | None = None,
        newlines_in_values: bool = True,
    ) -> pa.Table:
        """Read a whole CSV file into an Arrow table.

        Args:
            uri: Local path or fsspec URL.
            columns: Read only these columns.
            delimiter: Field separator; sniffed from the file when omitted (tab for ``.tsv``).
            encoding: Text encoding; UTF-8 (or UTF-16 with a byte-order mark) when omitted.
            compression: ``"infer"`` from the suffix, a codec name, or ``None``.
            parse_dates: Columns to parse as timestamps: a list (ISO 8601 text) or a
                mapping of column to ``strptime`` format (``{"date": "%Y%m%d"}``).
            column_types: Arrow types forced for some columns (``{"zip": "string"}``).
            null_values: Strings read as missing (Arrow's defaults: ``""``, ``"NA"``, ...).
            newlines_in_values: Allow quoted values spanning lines (slower when true).
        """
        layout = _Layout.sniff(uri, delimiter, encoding, compression)
        options = layout.arrow_options(columns, null_values, newlines_in_values)
        _check_quotes(uri, compression, layout)
        formats = _plan_types(uri, compression, layout, options, parse_dates, column_types)
        with open_input_stream(uri, compression) as stream, _parse_errors(uri, layout, compression):
            table = pacsv.read_csv(stream, *options)
        _check_last_row(table, uri, compression, layout)
        return _with_dates(table, formats, uri)

    def iter_batches(
        self,
        uri: str,
        *,
        batch_size: int | None = None,
        columns: list[str] | None = None,
        delimiter: str | None = None,
        encoding: str | None = None,
        compression: str | None = "infer",
        parse_dates: list[str] | Mapping[str, str] | None = None,
        column_types: Mapping[str, Any] | None = None,
        null_values: list[str] | None = None,
        newlines_in_values: bool = True,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a CSV file as record batches of at most ``batch_size`` rows.

        Column types are settled over the whole file first (one streaming pass), so
        every batch has the same schema.
        """
        layout = _Layout.sniff(uri, delimiter, encoding, compression)
        options = layout.arrow_options(columns, null_values, newlines_in_values)
        _check_quotes(uri, compression, layout)
        formats = _plan_types(uri, compression, layout, options, parse_dates, column_types)
        # Arrow splits by bytes: estimate bytes per row from the sample.
        rows = batch_size or DEFAULT_BATCH_SIZE
        options[0].block_size = max(1 << 16, int(rows * layout.bytes_per_row))
        with open_input_stream(uri, compression) as stream, _parse_errors(uri, layout, compression):
            previous = None  # held back one block: the last one is checked before it goes out
            for raw in pacsv.open_csv(stream, *options):
                if previous is not None:
                    yield from _with_dates(previous, formats, uri).to_batches(max_chunksize=rows)
                previous = pa.Table.from_batches([raw])
            if previous is not None:
                _check_last_row(previous, uri, compression, layout)
                yield from _with_dates(previous, formats, uri).to_batches(max_chunksize=rows)

    def write(
        self,
        table: pa.Table,
        uri: str,
        *,
        delimiter: str | None = None,
        encoding: str = "utf-8",
        compression: str | None = "infer",
        header: bool = True,
    ) -> None:
        """Write ``table`` as CSV, atomically.

        Args:
            table: The data; nested columns are refused (use Parquet or JSON).
            uri: Local path or fsspec URL; ``.tsv`` writes tabs, ``.gz`` compresses.
            delimiter: Field separator (default: tab for ``.tsv``/``.tab``, else comma).
            encoding: Text encoding of the file.
            compression: ``"infer"`` from the suffix, a codec name, or ``None``.
            header: Write the column names as the first line.
        """
        table = _flat_for_csv(table, uri)
        options = pacsv.WriteOptions(
            include_header=header, delimiter=delimiter or _default_delimiter(uri)
        )
        codec = _checked_codec(encoding)
        with open_output_stream(uri, compression) as stream:
            if codec.name == "utf-8":
                pacsv.write_csv(table, stream, options)
                return
            # Arrow writes UTF-8 only; re-encode batch by batch.
            for index, batch in enumerate(table.to_batches(max_chunksize=DEFAULT_BATCH_SIZE)):
                buffer = pa.BufferOutputStream()
                options.include_header = header and index == 0
                pacsv.write_csv(batch, buffer, options)
                text = buffer.getvalue().to_pybytes().decode("utf-8")
                try:
                    stream.write(text.encode(codec.name))
                except UnicodeEncodeError as error:
                    raise FormatError(
                        f"Cannot write {uri}: {text[error.start : error.end]!r} has no "
                        f"{encoding} encoding; use encoding='utf-8'."
                    ) from None


class _Layout:
    """What sniffing the start of a file tells: encoding, delimiter, header, row width."""

    def __init__(self, encoding: str, delimiter: str, names: list[str], bytes_per_row: float):
        self.encoding = encoding
        self.delimiter = delimiter
        self.names = names
        self.bytes_per_row = bytes_per_row

    @classmethod
    def sniff(
        cls, uri: str, delimiter: str | None, encoding: str | None, compression: str | None
    ) -> _Layout:
        with open_input_stream(uri, compression) as stream:
            sample = stream.read(_SAMPLE_BYTES)
        if not sample.strip():
            raise FormatError(f"The CSV file {uri} is empty; it needs at least a header line.")
        if encoding is None:
            encoding = next((name for bom, name in _BOMS if sample.startswith(bom)), "utf-8")
        codec = _checked_codec(encoding)
        try:
            text = codec.incrementaldecoder().decode(sample, final=False)
        except UnicodeDecodeError as error:
            line = sample[: error.start].count(b"\n") + 1
            raise FormatError(
                f"{uri} is not valid {encoding} text (line {line}, byte {error.start}: "
                f"{sample[error.start : error.start + 4]!r}); pass its encoding, for example "
                "encoding='latin-1'."
            ) from None
        text = text.lstrip("\ufeff")
        if delimiter is None:
            delimiter = _default_delimiter(uri, text)
        lines = text.splitlines()
        names = next(csv.reader(lines[:1], delimiter=delimiter), [])
        bytes_per_row = len(sample) / max(1, len(lines))
        return cls(codec.name, delimiter, names, bytes_per_row)

    def arrow_options(
        self, columns: list[str] | None, null_values: list[str] | None, newlines: bool
    ) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
        if len(set(self.names)) != len(self.names):
            repeated = sorted({n for n in self.names if self.names.count(n) > 1})
            raise FormatError(f"The CSV header repeats column name(s) {repeated}.")
        if columns is not None:
            missing = [name for name in columns if name not in self.names]
            if missing:
                raise ParameterError(
                    f"columns={missing} are not in the file; its columns are {self.names}."
                )
        convert = pacsv.ConvertOptions(
            column_types=dict.fromkeys(self.names, pa.string()),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,  # "" is an empty string, nothing is missing
            include_columns=columns,
        )
        if null_values is not None:
            convert.null_values = null_values
        read = pacsv.ReadOptions(encoding=self.encoding, block_size=_BLOCK_BYTES)
        parse = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=newlines)
        return read, parse, convert


def _checked_codec(encoding: str) -> codecs.CodecInfo:
    try:
        return codecs.lookup(encoding)
    except LookupError:
        raise ParameterError(
            f"encoding={encoding!r} is not a known text encoding; use for example "
            "'utf-8', 'latin-1' or 'cp1252'."
        ) from None


def _default_delimiter(uri: str, sample: str | None = None) -> str:
    if strip_compression(uri).lower().endswith((".tsv", ".tab")):
        return "\t"
    if sample:
        try:
            return csv.Sniffer().sniff(sample[: 1 << 14], delimiters=",;\t|").delimiter
        except csv.Error:
            pass
    return ","


class _parse_errors:  # noqa: N801 - a context manager that reads like a function
    """Turn Arrow's CSV errors into :class:`FormatError` naming the file and line."""

    def __init__(self, uri: str, layout: _Layout, compression: str | None = "infer"):
        self.uri = uri
        self.layout = layout
        self.compression = compression

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, _tb: Any) -> bool:
        if not isinstance(error, (pa.ArrowInvalid, UnicodeDecodeError)):
            return False
        message = str(error)
        if "invalid UTF8" in message or isinstance(error, UnicodeDecodeError):
            raise FormatError(
                f"{self.uri} is not valid {self.layout.encoding} text past its first lines; "
                "pass its encoding, for example encoding='latin-1'."
            ) from None
        if "CSV parse error" in message:
            # A quote left open shifts every later field; name that cause, not its symptom.
            _refuse_open_quote(self.uri, self.compression, self.layout)
            row = message.split(": ", 2)[-1]
            line = _line_of(self.uri, row, self.layout.encoding)
            where = f" at line {line}" if line else ""
            cause = message.removeprefix("CSV parse error: ")
            raise FormatError(
                f"Malformed CSV row{where} of {self.uri}: {cause}"
                f". The header has {len(self.layout.names)} columns separated by "
                f"{self.layout.delimiter!r}; fix the row or pass delimiter=..."
            ) from None
        raise FormatError(f"Cannot read {self.uri} as CSV: {message}") from None


def _check_quotes(uri: str, compression: str | None, layout: _Layout) -> None:
    """Refuse a file whose last quoted field never closes.

    Arrow ends an open quoted field at the end of the file, so an unterminated quote
    silently merges every later row into one cell. Counting quote characters is
    cheap (a byte count per block): every quoted field and every escaped quote adds
    an even number, so an odd total means an open quote or a stray literal quote
    inside an unquoted field; only then is the file scanned field by field to tell
    the two apart and find the line where the open quote starts. A stray literal
    quote elsewhere can even the count out; :func:`_check_last_row` catches that
    case after parsing.

    Raises:
        FormatError: Naming the file and the line of the unterminated quote.
    """
    if layout.encoding in _ASCII_COMPATIBLE:
        count = 0
        with open_input_stream(uri, compression) as stream:
            while block := stream.read(_BLOCK_BYTES):
                count += block.count(b'"')
    else:
        count = sum(text.count('"') for text in _decoded_blocks(uri, compression, layout))
    if count % 2:
        _refuse_open_quote(uri, compression, layout)


def _check_last_row(table: pa.Table, uri: str, compression: str | None, layout: _Layout) -> None:
    """Catch the open quote an even quote count hid: it makes the last value span lines.

    A stray literal quote elsewhere can even out the count; the open field then
    still ends at the end of the file, so the last row holds a value with a line
    break. Only then (rare in real files) is the file scanned.
    """
    if not table.num_rows:
        return
    for column in table.columns:
        value = column[-1].as_py()
        if isinstance(value, str) and ("\n" in value or "\r" in value):
            _refuse_open_quote(uri, compression, layout)
            return


def _refuse_open_quote(uri: str, compression: str | None, layout: _Layout) -> None:
    line = _open_quote_line(uri, compression, layout)
    if line is not None:
        raise FormatError(
            f"{uri} has a quoted field starting at line {line} whose closing quote is "
            "missing, so every later row would merge into one cell; close the quote (a "
            'quote inside a quoted value is written twice, "") or remove it.'
        )


# Encodings in which '"' is the single byte 0x22 and no other character contains it.
_ASCII_COMPATIBLE = {"utf-8", "ascii", "latin-1", "iso8859-1", "cp1252", "iso8859-15"}


def _decoded_blocks(uri: str, compression: str | None, layout: _Layout) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(layout.encoding)(errors="replace")
    with open_input_stream(uri, compression) as stream:
        while block := stream.read(_BLOCK_BYTES):
            yield decoder.decode(block)
    yield decoder.decode(b"", final=True)


def _open_quote_line(uri: str, compression: str | None, layout: _Layout) -> int | None:
    """Return the line where a quoted field left open at the end of the file starts.

    Follows the reader's rules: a quote opens a quoted field only at the start of a
    field; inside one, ``""`` is a literal quote and a lone quote closes it; any
    other quote is a literal character. Steps from quote to quote, so the cost is
    one Python step per quote character, paid only when the quote count is odd.
    """
    starts = (layout.delimiter, "\n", "\r")
    open_line: int | None = None
    lines, previous, carry = 1, "\n", ""
    for index, block in enumerate(_decoded_blocks(uri, compression, layout)):
        text = carry + (block.lstrip("\ufeff") if index == 0 else block)
        carry = ""
        if text.endswith('"'):
            carry, text = '"', text[:-1]  # it may be half of an escaped "" across blocks
        position = 0
        while (found := text.find('"', position)) >= 0:
            if open_line is not None:
                if text.startswith('""', found):
                    position = found + 2
                    continue
                open_line = None
            elif (text[found - 1] if found else previous) in starts:
                open_line = lines + text.count("\n", 0, found)
            position = found + 1
        lines += text.count("\n")
        previous = text[-1] if text else previous
    if carry:  # the file's last character is a quote: it closes an open field
        if open_line is not None:
            open_line = None
        elif previous in starts:
            open_line = lines
    return open_line


def _line_of(uri: str, row_text: str, encoding: str) -> int | None:
    # Error path only: find the offending row's text in the file and count newlines.
    needle = row_text.encode(encoding, errors="ignore")
    if not needle:
        return None
    newlines, tail = 0, b""
    with open_input_stream(uri) as stream:
        while chunk := stream.read(_BLOCK_BYTES):
            data = tail + chunk
            found = data.find(b"\n" + needle)
            if found >= 0:
                return newlines + data.count(b"\n", 0, found) + 2
            keep = len(needle) + 1
            newlines += data.count(b"\n", 0, max(0, len(data) - keep))
            tail = data[max(0, len(data) - keep) :]
    return None


def _plan_types(
    uri: str,
    compression: str | None,
    layout: _Layout,
    options: tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions],
    parse_dates: list[str] | Mapping[str, str] | None,
    column_types: Mapping[str, Any] | None,
) -> dict[str, str | None]:
    """Settle every column's type in one streaming pass over the text; return date formats.

    The pass holds one block of text at a time, so the second (typed) pass is the
    only one that holds the table. ``options``' column types are set in place.
    """
    convert = options[2]
    names = convert.include_columns or layout.names
    formats = _date_formats(parse_dates, layout.names)
    forced = {name: _arrow_type(kind, name) for name, kind in (column_types or {}).items()}
    unknown = sorted(set(forced) - set(layout.names))
    if unknown:
        raise ParameterError(
            f"column_types names {unknown}, not in the file; its columns are {layout.names}."
        )
    states: dict[str, str | None] = {n: None for n in names if n not in forced and n not in formats}
    if states:
        probe = pacsv.ConvertOptions(
            column_types=dict.fromkeys(layout.names, pa.string()),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            include_columns=list(states),
            null_values=convert.null_values,
        )
        with open_input_stream(uri, compression) as stream, _parse_errors(uri, layout, compression):
            for batch in pacsv.open_csv(stream, options[0], options[1], probe):
                for name, state in states.items():
                    if state != "string":
                        states[name] = _widen(state, batch.column(name))
    types = {name: _STATE_TYPES[state] for name, state in states.items()}
    types.update(forced)
    types.update(dict.fromkeys(formats, pa.string()))
    convert.column_types = types
    return formats


_STATE_TYPES = {
    None: pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
}
# Blocks can only widen a column: int to float, anything to string.
_NEXT: dict[str | None, tuple[str, ...]] = {
    "int": ("int", "float"),
    "float": ("float",),
    "bool": ("bool",),
}


def _widen(state: str | None, column: pa.Array) -> str:
    """Return the narrowest type state holding both ``state`` and this block's text values."""
    if column.null_count == len(column):
        return state  # type: ignore[return-value]
    if pc.any(pc.match_substring_regex(column, _LEADING_ZERO)).as_py():
        return "string"  # codes such as "007" are identifiers, not numbers
    for candidate in _NEXT.get(state, ("int", "float", "bool")):
        try:
            column.cast(_STATE_TYPES[candidate])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return candidate
    return "string"


def _arrow_type(kind: Any, name: str) -> pa.DataType:
    if isinstance(kind, pa.DataType):
        return kind
    try:
        return pa.type_for_alias(str(kind))
    except ValueError:
        raise ParameterError(
            f"column_types[{name!r}]={kind!r} is not an Arrow type name; use for example "
            "'string', 'int64', 'float64' or 'bool'."
        ) from None


def _with_dates(table: pa.Table, formats: Mapping[str, str | None], uri: str) -> pa.Table:
    for name, fmt in formats.items():
        if name in table.column_names:
            index = table.column_names.index(name)
            table = table.set_column(index, name, _parse_dates(table.column(name), fmt, name, uri))
    return table


def _date_formats(
    parse_dates: list[str] | Mapping[str, str] | None, names: list[str]
) -> dict[str, str | None]:
    if parse_dates is None:
        return {}
    if isinstance(parse_dates, str):
        raise ParameterError(f"parse_dates={parse_dates!r}: pass a list of column names.")
    formats = dict(parse_dates) if isinstance(parse_dates, Mapping) else dict.fromkeys(parse_dates)
    missing = sorted(set(formats) - set(names))
    if missing:
        raise ParameterError(f"parse_dates names {missing}, not in the file; columns: {names}.")
    return formats


def _parse_dates(column: pa.ChunkedArray, fmt: str | None, name: str, uri: str) -> pa.ChunkedArray:
    try:
        if fmt is not None:
            return pc.strptime(column, format=fmt, unit="ns")
        try:
            return column.cast(pa.timestamp("ns"))
        except pa.ArrowInvalid:
            return column.cast(pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        shown = fmt or "ISO 8601"
        raise FormatError(
            f"Column {name!r} of {uri} has values that are not {shown} dates ({error}); "
            "give the format, for example parse_dates={" + repr(name) + ": '%d/%m/%Y'}."
        ) from None


def _flat_for_csv(table: pa.Table, uri: str) -> pa.Table:
    arrays, names = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_nested(field.type):
            raise FormatError(
                f"Column {field.name!r} holds nested values ({field.type}), which CSV cannot "
                f"store; write {uri} as Parquet or JSON instead."
            )
        if pa.types.is_dictionary(field.type):
            column = column.cast(field.type.value_type)
        if pa.types.is_floating(field.type):
            column = _floats_that_read_back(column)
        arrays.append(column)
        names.append(field.name)
    return pa.Table.from_arrays(arrays, names=names)


def _floats_that_read_back(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Write ``1.0`` rather than ``1`` when every value is whole, so it reads back as float."""
    if column.null_count == len(column):
        return column
    whole = pc.equal(pc.floor(column), column)  # NaN and fractions are not whole
    if not pc.all(pc.or_kleene(whole, pc.is_inf(column))).as_py():
        return column  # a value such as 0.5 or nan already shows it is a float
    text = column.cast(pa.string())
    if pc.any(pc.match_substring_regex(text, "[.eEn]")).as_py():
        return column
    return pc.binary_join_element_wise(text, pa.scalar(".0"), "")
