import pyarrow as pa
import pytest

from synthkit.connectors import (
    Connector,
    UnknownFormatError,
    connector_for,
    connectors,
    load,
    register_connector,
    registry,
    save,
)
from synthkit.errors import ParameterError


class UpperCsv(Connector):
    """A toy connector: text files with one upper-cased word per line."""

    name = "words"
    suffixes = (".words",)

    def read(self, uri, *, upper=True):
        with open(uri, encoding="utf-8") as handle:
            words = handle.read().split()
        return pa.table({"word": [w.upper() if upper else w for w in words]})

    def write(self, table, uri):
        with open(uri, "w", encoding="utf-8") as handle:
            handle.write("\n".join(table.column("word").to_pylist()))


def test_register_connector_by_suffix(tmp_path, monkeypatch):
    monkeypatch.setattr(connectors, "_targets", dict(connectors._targets))
    monkeypatch.setattr(registry, "_by_suffix", dict(registry._by_suffix))
    register_connector("words", UpperCsv, suffixes=(".words",))
    path = tmp_path / "list.words"
    save(pa.table({"word": ["alpha", "beta"]}), path)
    assert load(path)["word"].tolist() == ["ALPHA", "BETA"]
    assert load(path, upper=False)["word"].tolist() == ["alpha", "beta"]
    with pytest.raises(ParameterError, match="accepts: upper"):
        load(path, delimiter=",")


def test_a_suffix_cannot_be_taken_silently():
    with pytest.raises(ParameterError, match=r"'\.csv' already belongs to the 'csv' connector"):
        register_connector("my_csv", UpperCsv, suffixes=(".csv",))


def test_third_party_connector_from_an_entry_point(tmp_path, monkeypatch):
    package = tmp_path / "site"
    package.mkdir()
    (package / "wordsplugin.py").write_text(
        "import pyarrow as pa\n"
        "from synthkit.connectors import Connector\n"
        "class Lines(Connector):\n"
        "    name = 'lines'\n"
        "    suffixes = ('.lines',)\n"
        "    def read(self, uri):\n"
        "        return pa.table({'line': open(uri).read().splitlines()})\n"
    )
    info = package / "wordsplugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wordsplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[synthkit.connectors]\nlines = wordsplugin:Lines\n")
    monkeypatch.syspath_prepend(str(package))
    monkeypatch.setattr(connectors, "_targets", dict(connectors._targets))
    monkeypatch.setattr(connectors, "_entry_points_loaded", False)
    data = tmp_path / "notes.lines"
    data.write_text("first\nsecond\n")
    assert "lines" in connectors.names()
    assert connector_for(data).name == "lines"
    assert load(data)["line"].tolist() == ["first", "second"]


def test_unknown_format_error_lists_formats_and_suggests(tmp_path):
    with pytest.raises(
        UnknownFormatError,
        match=r"Known formats: arrow, csv, json, parquet, .*sql.*suffixes: .*\.csv",
    ):
        connector_for(tmp_path / "a.xyz")
    with pytest.raises(UnknownFormatError, match="Did you mean 'parquet'"):
        connector_for(tmp_path / "a.bin", format="parqet")
