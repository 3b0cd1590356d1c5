"""The same contract checked on every registered file connector."""

from pathlib import Path

import pyarrow as pa
import pytest

import synthkit._files
from synthkit.connectors import MissingSourceError, connector_for, connectors

SUFFIX = {"csv": "csv", "parquet": "parquet", "arrow": "arrow", "json": "jsonl"}
FILE_CONNECTORS = [name for name in connectors.names() if name in SUFFIX]


def test_every_builtin_file_connector_is_checked():
    assert set(FILE_CONNECTORS) == set(SUFFIX)


@pytest.fixture(params=FILE_CONNECTORS)
def connector(request):
    return connectors.get(request.param)()


def _path(tmp_path, connector, name="data"):
    return str(tmp_path / f"{name}.{SUFFIX[connector.name]}")


def test_chosen_by_suffix(tmp_path, connector):
    assert connector_for(_path(tmp_path, connector)).name == connector.name


def test_write_then_read_gives_the_table_back(tmp_path, connector, adult):
    table = pa.Table.from_pandas(adult.head(500), preserve_index=False)
    path = _path(tmp_path, connector)
    connector.write(table, path)
    back = connector.read(path)
    assert back.column_names == table.column_names
    assert back.num_rows == table.num_rows
    assert back.column("age").to_pylist() == table.column("age").to_pylist()
    assert back.column("workclass").to_pylist() == table.column("workclass").to_pylist()


def test_batches_cover_the_table(tmp_path, connector, adult):
    table = pa.Table.from_pandas(adult.head(500), preserve_index=False)
    path = _path(tmp_path, connector)
    connector.write(table, path)
    batches = list(connector.iter_batches(path, batch_size=128))
    assert [b.num_rows for b in batches][:3] == [128, 128, 128]
    assert pa.Table.from_batches(batches).column("fnlwgt").equals(table.column("fnlwgt"))


def test_missing_source(tmp_path, connector):
    with pytest.raises(MissingSourceError):
        connector.read(_path(tmp_path, connector, "absent"))


def test_interrupted_write_keeps_the_old_file(tmp_path, connector, adult, monkeypatch):
    path = _path(tmp_path, connector)
    connector.write(pa.Table.from_pandas(adult.head(20), preserve_index=False), path)
    before = Path(path).read_bytes()

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(synthkit._files.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        connector.write(pa.Table.from_pandas(adult.head(300), preserve_index=False), path)
    monkeypatch.undo()
    assert Path(path).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.rsplit("/", 1)[1]]


def test_memory_filesystem(connector, adult):
    path = f"memory://conformance/{connector.name}.{SUFFIX[connector.name]}"
    table = pa.Table.from_pandas(adult.head(50), preserve_index=False)
    connector.write(table, path)
    assert connector.read(path).column("age").to_pylist() == adult["age"].head(50).tolist()
