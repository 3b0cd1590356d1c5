"""Optional parts (extras) stay optional: missing ones name the extra that installs them."""

import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import synthkit
from synthkit.connectors import build_suite, save
from synthkit.errors import MissingDependencyError, SynthkitError

ROOT = Path(__file__).resolve().parents[1]
FRAME = pd.DataFrame({"age": [31, 45, 27], "city": ["Oslo", "Rome", "Oslo"]})


def test_bsl_and_heavy_packages_are_extras_not_core_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {dep.split(">")[0].split("=")[0].strip() for dep in project["dependencies"]}
    assert not core & {"sdv", "sdmetrics", "great-expectations", "duckdb", "duckdb-engine"}
    extras = project["optional-dependencies"]
    assert {"sdv", "validation", "duckdb", "postgres"} <= set(extras)
    assert any(dep.startswith("sdv") for dep in extras["sdv"])
    # make demo / make test install dev, which pulls in every extra.
    assert any("synthkit[all]" in dep for dep in extras["dev"])
    assert all(name in extras["all"][0] for name in ("sdv", "validation", "duckdb", "postgres"))


def test_missing_error_is_an_import_error_and_a_synthkit_error():
    assert issubclass(MissingDependencyError, ImportError)
    assert issubclass(MissingDependencyError, SynthkitError)


def test_sdv_conversion_without_sdv_names_the_extra(monkeypatch):
    metadata = synthkit.Metadata.detect(FRAME)
    monkeypatch.setitem(sys.modules, "sdv.metadata", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "synthkit\[sdv\]"'):
        metadata.to_sdv()
    # Reading and writing SDV's dict layout needs no SDV.
    assert synthkit.Metadata.from_sdv(metadata.to_sdv_dict()).kind("age") == "numerical"


def test_sdv_conversion_with_sdv_installed():
    sdv_metadata = synthkit.Metadata.detect(FRAME).to_sdv("people")
    sdv_metadata.validate()
    sdv_metadata.validate_data({"people": FRAME})
    assert synthkit.Metadata.from_sdv(sdv_metadata).kind("city") == "categorical"


def test_validation_without_great_expectations_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "great_expectations", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "synthkit\[validation\]"'):
        build_suite(FRAME)


def test_json_writing_without_duckdb_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "synthkit\[duckdb\]"'):
        save(FRAME, tmp_path / "people.jsonl")


def test_duckdb_url_without_its_driver_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb_engine", None)
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "synthkit\[duckdb\]"'):
        save(FRAME, f"duckdb:///{tmp_path / 'people.duckdb'}", table="people")
    assert not (tmp_path / "people.duckdb").exists()
