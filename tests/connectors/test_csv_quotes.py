"""An unterminated quote in a CSV file is refused, naming the file and line; real quoting works."""

import gzip

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import synthkit
from synthkit.connectors import ConnectorError, FormatError, csv_format, iter_batches, load, save

UNTERMINATED = 'a,b\n1,2\n3,"4\n5,6,7,8\n'


def test_unterminated_quote_names_file_and_line(tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text(UNTERMINATED)
    with pytest.raises(ConnectorError, match=r"broken\.csv has a quoted field starting at line 3"):
        synthkit.load(path)
    with pytest.raises(FormatError, match="line 3"):
        list(iter_batches(path))


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('a,b\n1,2\n"3,4\n5,6\n', 3),  # in the first column
        ('a,b\n1,2\n3,"', 3),  # the file's last character opens a field
        ('a,b\n1,"x\ny"\n3,"4\n5,6\n', 4),  # after a legitimate multi-line field
        ('a,b\n1,"say ""hi""\n2,3\n', 2),  # escaped quotes do not close it
        ('a,b\n1,5"\n3,"4\n5,6\n', 3),  # a stray literal quote evens out the count
        ('a,b,c\n1,5",x\n"3,4,y\n5,6,7\n', 3),  # ... and the fields no longer line up
    ],
)
def test_unterminated_quote_anywhere(tmp_path, text, line):
    path = tmp_path / "broken.csv"
    path.write_text(text)
    with pytest.raises(FormatError, match=rf"starting at line {line} whose closing quote"):
        load(path)
    with pytest.raises(FormatError, match=rf"starting at line {line} whose closing quote"):
        list(iter_batches(path, batch_size=1))


def test_unterminated_quote_in_compressed_and_utf16_files(tmp_path):
    gz = tmp_path / "broken.csv.gz"
    gz.write_bytes(gzip.compress(UNTERMINATED.encode()))
    with pytest.raises(FormatError, match="line 3"):
        load(gz)
    utf16 = tmp_path / "broken16.csv"
    utf16.write_bytes(UNTERMINATED.encode("utf-16"))
    with pytest.raises(FormatError, match="line 3"):
        load(utf16)


def test_multi_line_quoted_fields_and_literal_quotes_still_load(tmp_path):
    path = tmp_path / "fine.csv"
    path.write_text('a,b\n1,"x\ny"\n3,"he said ""hi"""\n4,5"\n6,"7"')
    frame = load(path)
    assert frame.to_dict("list") == {"a": [1, 3, 4, 6], "b": ["x\ny", 'he said "hi"', '5"', "7"]}


def test_escaped_quote_split_across_blocks(tmp_path, monkeypatch):
    # Blocks of 7 bytes cut the file inside '""' and right after a closing quote.
    monkeypatch.setattr(csv_format, "_BLOCK_BYTES", 7)
    text = 'a,b\n1,"x""y"\n2,"z"\n3,"""q"\n4,"open\n'
    path = tmp_path / "blocks.csv"
    path.write_text(text)
    layout = csv_format._Layout.sniff(str(path), None, None, "infer")
    assert csv_format._open_quote_line(str(path), "infer", layout) == 5
    path.write_text(text.replace('4,"open\n', '4,"open"\n'))
    assert csv_format._open_quote_line(str(path), "infer", layout) is None


_cells = st.text(alphabet='ab,"\n\r ', max_size=6)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(_cells, _cells), min_size=1, max_size=8))
def test_any_text_written_as_csv_reads_back(tmp_path, rows):
    # Whatever quotes, commas and newlines the values hold, a written file is never refused.
    frame = pd.DataFrame(rows, columns=["x", "y"])
    frame = frame.map(lambda value: "v" + value.replace("\r", ""))  # keep them text, non-empty
    path = tmp_path / "round.csv"
    save(frame, path)
    pd.testing.assert_frame_equal(load(path, column_types={"x": "string", "y": "string"}), frame)
