"""Related tables end to end: read from CSV files, SQLite or nested JSON, synthesize, write back.

Each source is read with ``synthkit.load``, a small ``RecordSynthesizer`` is
fitted on it and its sample is written to a SQLite database (foreign keys
declared), a directory of CSV files and nested JSON, each read back and checked:
same tables, keys and values, and every foreign key pointing at a row.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import torch

import synthkit

torch.set_num_threads(1)

DATA = Path(__file__).parent / "data"
FLIGHTS = DATA / "nycflights13_sample"
FAST = {"epochs": 1, "verbose": False, "sequence_params": {"state_dim": 32, "hidden_dim": 32}}
NAFLD_LINKS = [
    synthkit.Relationship("patients", "labs", "id", "id"),
    synthkit.Relationship("patients", "events", "id", "id"),
]


@pytest.fixture(scope="module")
def nafld_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """CSV files of the first 120 bundled NAFLD patients, their labs and their events."""
    folder = tmp_path_factory.mktemp("nafld_csv")
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz").head(120)
    files = {"patients": folder / "patients.csv"}
    patients.to_csv(files["patients"], index=False)
    for name, source in (("labs", "nafld2_sample.csv.gz"), ("events", "nafld3_sample.csv.gz")):
        frame = pd.read_csv(DATA / source)
        files[name] = folder / f"{name}.csv"
        frame[frame["id"].isin(patients["id"])].to_csv(files[name], index=False)
    return files


@pytest.fixture(scope="module")
def nafld(nafld_files: dict[str, Path]) -> synthkit.RecordDataset:
    return synthkit.load(nafld_files, relationships=NAFLD_LINKS)


@pytest.fixture(scope="module")
def flights() -> synthkit.RecordDataset:
    # The sample keeps real orphans (flights to airports or planes it lacks): blank those keys.
    return synthkit.load(FLIGHTS, orphans="null")


def _synthesize(dataset: synthkit.RecordDataset, **fit: object) -> synthkit.RecordDataset:
    model = synthkit.RecordSynthesizer("ar", random_state=0, **FAST)
    return model.fit(dataset, **fit).sample(random_state=0)


def _assert_integrity(dataset: synthkit.RecordDataset) -> None:
    """Every set foreign key names a parent row; primary keys are unique and set."""
    for link in dataset.relationships:
        keys = dataset.tables[link.child][link.child_key].dropna()
        assert keys.isin(dataset.tables[link.parent][link.parent_key]).all(), link
    for name, key in dataset.primary_keys.items():
        column = dataset.tables[name][key]
        assert column.notna().all() and column.is_unique, (name, key)


def _links(dataset: synthkit.RecordDataset) -> set[tuple[str, str, str, str]]:
    """The keys of every relationship (a database keeps no nesting field or list order)."""
    return {(r.parent, r.child, r.parent_key, r.child_key) for r in dataset.relationships}


def _assert_same_tables(back: synthkit.RecordDataset, dataset: synthkit.RecordDataset) -> None:
    assert _links(back) == _links(dataset)
    assert back.primary_keys == dataset.primary_keys
    assert set(back.tables) == set(dataset.tables)
    for name, frame in dataset.tables.items():
        left, right = _none(back.tables[name]), _none(frame)
        assert list(left.columns) == list(right.columns)
        # A column of blanks has no type in a CSV file: compare that it stays all blank.
        blank = [c for c in right if right[c].isna().all() and left[c].isna().all()]
        pd.testing.assert_frame_equal(
            left.drop(columns=blank), right.drop(columns=blank), check_dtype=False
        )


def _none(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values of text columns as None (pandas holds them as None or NaN)."""
    text = frame.select_dtypes(include="object").columns
    return frame.assign(**{c: frame[c].where(frame[c].notna(), None) for c in text})


def _assert_writes_back(
    synthetic: synthkit.RecordDataset, folder: Path, root: str, primary_key: str
) -> None:
    """Write ``synthetic`` to SQLite, a CSV directory and nested JSON; read each back and check."""
    _assert_integrity(synthetic)
    # SQLite: all tables in one file with their primary and foreign keys declared.
    path = folder / "synthetic.db"
    synthkit.save(synthetic, f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        declared = {
            (name, row[3], row[2], row[4])  # child, child key, parent, parent key
            for name in synthetic.tables
            for row in connection.execute(f"PRAGMA foreign_key_list('{name}')")
        }
        broken = connection.execute("PRAGMA foreign_key_check").fetchall()
    expected = {(r.child, r.child_key, r.parent, r.parent_key) for r in synthetic.relationships}
    assert declared == expected
    assert broken == []
    back = synthkit.load(f"sqlite:///{path}", tables=list(synthetic.tables))
    _assert_same_tables(back, synthetic)
    _assert_integrity(back)
    # A directory of CSV files with the keys beside them.
    synthkit.save(synthetic, folder / "synthetic_csv")
    assert (folder / "synthetic_csv" / f"{root}.csv").exists()
    _assert_same_tables(synthkit.load(folder / "synthetic_csv"), synthetic)
    # Nested JSON: one record per root row with its children as lists.
    json_path = folder / f"{root}.json"
    synthkit.save(synthetic, json_path, root=root)
    written = json.loads(json_path.read_text())
    assert len(written) == len(synthetic.tables[root])
    nested = synthkit.load(json_path, shape="records", primary_key=primary_key)
    assert nested.to_records() == synthetic.to_records(root=root)
    _assert_integrity(nested)


# ---------------------------------------------------------------------- NAFLD
def test_nafld_from_csv_files(nafld, tmp_path):
    assert nafld.relationships == NAFLD_LINKS
    synthetic = _synthesize(nafld, sequence_index={"labs": "days", "events": "days"})
    assert list(synthetic.tables) == list(nafld.tables)
    assert len(synthetic.tables["patients"]) == len(nafld.tables["patients"])
    _assert_writes_back(synthetic, tmp_path, "patients", "id")


def test_nafld_from_sqlite_with_keys_read_from_the_database(nafld, tmp_path):
    path = tmp_path / "hospital.db"
    synthkit.save(nafld, f"sqlite:///{path}")
    db = synthkit.load(f"sqlite:///{path}", tables=["patients", "labs", "events"])
    assert set(db.relationships) == set(NAFLD_LINKS)
    assert db.primary_keys == {"patients": "id"}
    assert db.root == "patients"
    synthetic = _synthesize(db)
    assert not synthetic.tables["patients"]["id"].isin(nafld.tables["patients"]["id"]).any()
    out = tmp_path / "out"
    out.mkdir()
    _assert_writes_back(synthetic, out, "patients", "id")


def test_nafld_from_nested_json_keeps_the_nested_shape(nafld, tmp_path):
    records = nafld.to_records()  # patients, each with lists of labs and events
    assert {"labs", "events"} <= set(records[0])
    path = tmp_path / "patients.json"
    path.write_text(json.dumps(records))
    db = synthkit.load(path, shape="records", primary_key="id")
    assert db.root == "patients"
    assert {(r.parent, r.child) for r in db.relationships} == {
        ("patients", "labs"),
        ("patients", "events"),
    }
    synthetic = _synthesize(db)
    nested = synthetic.to_records()
    assert len(nested) == len(records)
    assert synthetic.to_arrow().schema == db.to_arrow().schema
    assert {key for record in nested for key in record} == set(records[0])
    out = tmp_path / "out"
    out.mkdir()
    _assert_writes_back(synthetic, out, "patients", "id")


# --------------------------------------------------------------- nycflights13
def test_flights_from_a_csv_directory_with_detected_keys(flights, tmp_path):
    links = {(r.parent, r.child, r.child_key) for r in flights.relationships}
    assert {("airports", "flights", "origin"), ("airports", "flights", "dest")} <= links
    assert {("planes", "flights", "tailnum"), ("airlines", "flights", "carrier")} <= links
    synthetic = _synthesize(flights, keep=["airlines", "airports"])
    pd.testing.assert_frame_equal(synthetic.tables["airports"], flights.tables["airports"])
    _assert_writes_back(synthetic, tmp_path, "airlines", "carrier")


def test_flights_from_sqlite_with_keys_read_from_the_database(flights, tmp_path):
    path = tmp_path / "flights.db"
    synthkit.save(flights, f"sqlite:///{path}")
    db = synthkit.load(f"sqlite:///{path}", tables=list(flights.tables))
    _assert_same_tables(db, flights)
    synthetic = _synthesize(db)
    # Every table is synthesized: no real key survives in a table with a primary key.
    for name, key in db.primary_keys.items():
        assert not synthetic.tables[name][key].isin(db.tables[name][key]).any(), name
    out = tmp_path / "out"
    out.mkdir()
    _assert_writes_back(synthetic, out, "airlines", "carrier")


def test_flights_from_nested_json(flights, tmp_path):
    path = tmp_path / "airlines.json"
    synthkit.save(flights, path, root="airlines")  # airlines, each with its flights
    db = synthkit.load(path, shape="records", primary_key="carrier")
    assert set(db.tables) == {"airlines", "flights"}
    assert len(db.tables["flights"]) == len(flights.tables["flights"])
    synthetic = _synthesize(db)
    assert synthetic.to_arrow().schema == db.to_arrow().schema
    out = tmp_path / "out"
    out.mkdir()
    _assert_writes_back(synthetic, out, "airlines", "carrier")
