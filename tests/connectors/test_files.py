import gzip

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.extra.pandas import column, data_frames, range_indexes

import synthkit
from synthkit.connectors import (
    ConnectorError,
    FormatError,
    MissingSourceError,
    UnknownFormatError,
    iter_batches,
    load,
    save,
)
from synthkit.errors import ParameterError

TYPED_FORMATS = ["parquet", "feather", "arrow"]
ALL_FORMATS = ["csv", "tsv", "csv.gz", "parquet", "feather", "jsonl", "json"]


@pytest.mark.parametrize("suffix", TYPED_FORMATS)
def test_typed_formats_keep_every_dtype(tmp_path, typed_frame, suffix):
    path = tmp_path / f"data.{suffix}"
    save(typed_frame, path)
    pd.testing.assert_frame_equal(load(path), typed_frame)


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "json"])
def test_text_formats_keep_dtypes_given_back(tmp_path, typed_frame, suffix):
    path = tmp_path / f"data.{suffix}"
    save(typed_frame, path)
    dtypes = {"category": "category", "when_tz": "datetime64[ns, Europe/Oslo]"}
    options = {"parse_dates": ["when", "when_tz"]} if suffix == "csv" else {}
    back = load(path, dtypes=dtypes, **options)
    pd.testing.assert_frame_equal(back, typed_frame)


@pytest.mark.parametrize("suffix", ALL_FORMATS)
def test_adult_round_trips_in_every_format(tmp_path, adult, suffix):
    path = tmp_path / f"adult.{suffix}"
    save(adult, path)
    pd.testing.assert_frame_equal(load(path), adult)


def test_as_arrow_returns_the_table(tmp_path, adult):
    path = tmp_path / "adult.parquet"
    save(adult, path)
    table = load(path, as_arrow=True)
    assert isinstance(table, pa.Table) and table.num_rows == len(adult)


def test_top_level_load_and_save(tmp_path, adult):
    path = tmp_path / "a.feather"
    synthkit.save(adult, path)
    pd.testing.assert_frame_equal(synthkit.load(path), adult)


def test_csv_infers_delimiter_and_keeps_leading_zero_codes(tmp_path):
    path = tmp_path / "semicolons.txt"
    path.write_text("zip;amount;name\n02139;1,5;Ada\n10001;2;Bo\n", encoding="utf-8")
    frame = load(path)
    assert frame["zip"].tolist() == ["02139", "10001"]
    assert frame["name"].tolist() == ["Ada", "Bo"]


def test_csv_given_encoding_and_compression(tmp_path):
    path = tmp_path / "latin.csv.gz"
    path.write_bytes(gzip.compress("city,n\nMálaga,1\nKöln,2\n".encode("latin-1")))
    assert load(path, encoding="latin-1")["city"].tolist() == ["Málaga", "Köln"]
    out = tmp_path / "out.csv"
    save(pd.DataFrame({"city": ["Málaga"]}), out, encoding="latin-1")
    assert out.read_bytes() == '"city"\n"Málaga"\n'.encode("latin-1")


def test_csv_wrong_encoding_is_reported(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("city,n\nMálaga,1\n".encode("latin-1"))
    with pytest.raises(FormatError, match=r"not valid utf-8.*line 2.*encoding="):
        load(path)


def test_csv_parses_dates_with_a_format(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,date\n1,19970101\n2,19970112\n")
    frame = load(path, parse_dates={"date": "%Y%m%d"})
    assert frame["date"].tolist() == [pd.Timestamp("1997-01-01"), pd.Timestamp("1997-01-12")]
    with pytest.raises(FormatError, match=r"'date'.*not ISO 8601"):
        load(path, parse_dates=["date"])


def test_malformed_csv_row_names_its_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4\n5,6,7\n8,9\n")
    with pytest.raises(FormatError, match=r"line 4 .*Expected 2 columns, got 3"):
        load(path)


def test_invalid_json_names_its_line(tmp_path):
    lines = tmp_path / "bad.jsonl"
    lines.write_text('{"a": 1}\n{"a": 2}\n{"a": 3,}\n')
    with pytest.raises(FormatError, match="Invalid JSON at line 3"):
        load(lines)
    array = tmp_path / "bad.json"
    array.write_text('[\n {"a": 1},\n {"a": 2\n]\n')
    with pytest.raises(FormatError, match="Invalid JSON at line 4"):
        load(array)


def test_unreadable_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet at all")
    with pytest.raises(FormatError, match=r"broken.parquet.*damaged or is not Parquet"):
        load(path)


def test_missing_file(tmp_path):
    with pytest.raises(MissingSourceError, match=r"nope\.csv"):
        load(tmp_path / "nope.csv")


def test_unknown_format_lists_known_ones(tmp_path):
    with pytest.raises(UnknownFormatError, match=r"Known formats: .*csv.*parquet"):
        load(tmp_path / "data.xlsx")
    assert issubclass(UnknownFormatError, synthkit.errors.ConnectorError)


def test_unknown_option_is_named(tmp_path, adult):
    path = tmp_path / "a.parquet"
    save(adult, path)
    with pytest.raises(ParameterError, match=r"\['delimiter'\].*parquet"):
        load(path, delimiter=";")


def test_failed_write_keeps_the_old_file(tmp_path, adult):
    path = tmp_path / "a.csv"
    save(adult.head(5), path)
    before = path.read_bytes()
    nested = pa.table({"x": [[1, 2]]})
    with pytest.raises(ConnectorError, match="nested"):
        save(nested, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_parquet_partitioned_directory_projection_and_filters(tmp_path, adult):
    target = tmp_path / "by_sex"
    save(adult, target, format="parquet", partition_cols=["sex"])
    assert {p.name for p in target.iterdir()} >= {"sex=Male", "sex=Female"}
    back = load(target, format="parquet")
    order = ["age", "fnlwgt"]
    pd.testing.assert_frame_equal(
        back.sort_values(order, ignore_index=True)[adult.columns],
        adult.sort_values(order, ignore_index=True),
    )
    some = load(target, format="parquet", columns=["age", "sex"], filters=[("sex", "=", "Male")])
    assert list(some.columns) == ["age", "sex"] and set(some["sex"]) == {"Male"}


def test_batches_stream_in_order(tmp_path, adult):
    for suffix in ("parquet", "feather", "csv"):
        path = tmp_path / f"a.{suffix}"
        save(adult, path)
        batches = list(iter_batches(path, batch_size=700))
        assert max(b.num_rows for b in batches) <= 700
        assert sum(b.num_rows for b in batches) == len(adult)
        joined = pa.Table.from_batches(batches).to_pandas()
        assert joined["fnlwgt"].tolist() == adult["fnlwgt"].tolist()


def test_fsspec_memory_filesystem(adult):
    save(adult, "memory://synthkit-test/adult.parquet")
    pd.testing.assert_frame_equal(load("memory://synthkit-test/adult.parquet"), adult)
    save(adult.head(50), "memory://synthkit-test/adult.csv")
    pd.testing.assert_frame_equal(load("memory://synthkit-test/adult.csv"), adult.head(50))


_frames = data_frames(
    columns=[
        column("i", dtype=np.int64),
        column("f", elements=st.floats(allow_nan=False, allow_infinity=False, width=64)),
        column("s", elements=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]))),
        column("b", dtype=bool),
    ],
    index=range_indexes(min_size=1, max_size=30),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=_frames, suffix=st.sampled_from(["parquet", "feather", "csv", "jsonl"]))
def test_random_frames_round_trip(tmp_path, frame, suffix):
    path = tmp_path / f"h.{suffix}"
    save(frame, path)
    # CSV has no types: text that looks like numbers needs its type named.
    csv_options = {"null_values": [], "column_types": {"s": "string"}}
    back = load(path, **(csv_options if suffix == "csv" else {}))
    pd.testing.assert_frame_equal(back, frame, check_dtype=True)


def test_csv_keeps_whole_floats_as_floats(tmp_path):
    frame = pd.DataFrame({"amount": [1.0, 2.0, None], "n": [1, 2, 3]})
    path = tmp_path / "whole.csv"
    save(frame, path)
    pd.testing.assert_frame_equal(load(path), frame)


def test_csv_types_settle_over_the_whole_file(tmp_path):
    # The first rows look like integers; a float far down must widen the column,
    # and a leading-zero code far down keeps its column text, in whole and streamed reads.
    n = 300_000
    frame = pd.DataFrame({"x": np.arange(n, dtype=float), "code": np.arange(n).astype(str)})
    frame.loc[n - 1, "x"] = 0.5
    frame.loc[n - 1, "code"] = "0099"
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False)
    whole = load(path)
    assert whole.dtypes.astype(str).tolist() == ["float64", "object"]
    assert whole["code"].iloc[-1] == "0099"
    streamed = list(iter_batches(path, batch_size=50_000))
    assert {str(b.schema) for b in streamed} == {str(streamed[0].schema)}
    assert pa.Table.from_batches(streamed).column("x").type == pa.float64()


def test_csv_column_projection(tmp_path, adult):
    path = tmp_path / "a.csv"
    save(adult, path)
    assert list(load(path, columns=["sex", "age"]).columns) == ["sex", "age"]
    with pytest.raises(ParameterError, match=r"\['height'\] are not in the file"):
        load(path, columns=["height"])


def test_failed_remote_write_leaves_no_temporary_object(adult, monkeypatch):
    import fsspec

    fs = fsspec.filesystem("memory")
    save(adult.head(5), "memory://atomic/adult.parquet")
    before = fs.cat_file("/atomic/adult.parquet")

    move = type(fs).mv

    def fail_moving_the_new_file(self, source, target, **options):
        if str(source).endswith(".tmp"):
            raise OSError("connection reset")
        return move(self, source, target, **options)

    monkeypatch.setattr(type(fs), "mv", fail_moving_the_new_file)
    with pytest.raises(OSError, match="connection reset"):
        save(adult, "memory://atomic/adult.parquet")
    monkeypatch.undo()
    assert fs.cat_file("/atomic/adult.parquet") == before
    assert fs.ls("/atomic", detail=False) == ["/atomic/adult.parquet"]


def test_cloud_url_without_its_backend_says_what_to_install():
    import importlib.util

    if importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed here; this checks the message when it is missing")
    with pytest.raises(ConnectorError, match="s3fs"):
        load("s3://some-bucket/data.parquet")
