import os

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from synthkit.connectors import DatabaseError, MissingSourceError, RecordDataset, load, save
from synthkit.errors import ParameterError, SynthkitError


def _postgres_url() -> str:
    url = os.environ.get("SYNTHKIT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SYNTHKIT_TEST_POSTGRES_URL is not set (no PostgreSQL server for tests)")
    try:
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as error:  # any failure to connect means no server here
        pytest.skip(
            f"PostgreSQL at SYNTHKIT_TEST_POSTGRES_URL does not answer: {type(error).__name__}"
        )
    return url


@pytest.fixture(params=["sqlite", "duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'test.duckdb'}"
        return
    url = _postgres_url()
    yield url
    _drop_tables(url, {name for name in _CREATED if name.endswith(_suffix(request))})


_CREATED: set[str] = set()


def _drop_tables(url: str, names: set[str]) -> None:
    """Leave the shared test database as the test found it."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as connection:
        for name in names:
            sa.Table(name, sa.MetaData()).drop(connection, checkfirst=True)
    engine.dispose()


@pytest.fixture
def people(adult):
    frame = adult.head(400).reset_index(drop=True)
    return frame.assign(
        when=pd.date_range("2020-01-01", periods=len(frame), freq="h"),
        score=pd.array([None if i % 7 == 0 else i for i in range(len(frame))], dtype="Int64"),
        member=[i % 3 == 0 for i in range(len(frame))],
    )


def _suffix(request) -> str:
    return f"_{abs(hash(request.node.name)) % 10**8}"


def _unique(name: str, request) -> str:
    """A table name of this test alone, recorded so the PostgreSQL fixture drops it."""
    _CREATED.add(unique := f"{name}{_suffix(request)}")
    return unique


def test_table_round_trip(database, people, request):
    table = _unique("people", request)
    save(people, database, table=table, if_exists="replace")
    back = load(database, table=table)
    pd.testing.assert_frame_equal(back, people)


def test_query_with_bound_parameters(database, people, request):
    table = _unique("people", request)
    save(people, database, table=table, if_exists="replace")
    quoted = sa.table(table)  # the test only quotes; the library never builds SQL text
    name = sa.select(sa.literal_column("*")).select_from(quoted).compile().string.split()[-1]
    older = load(
        database, query=f"select age, sex from {name} where age > :age", params={"age": 40}
    )
    expected = people.loc[people["age"] > 40, ["age", "sex"]]
    assert sorted(older["age"]) == sorted(expected["age"])
    hostile = load(
        database, query=f"select age from {name} where sex = :sex", params={"sex": "x' OR '1'='1"}
    )
    assert hostile.empty


def test_replace_append_and_fail(database, people, request):
    table = _unique("people", request)
    save(people.head(10), database, table=table, if_exists="replace")
    save(people.head(5), database, table=table, if_exists="append")
    assert len(load(database, table=table)) == 15
    with pytest.raises(DatabaseError, match=r"already exist.*if_exists='replace'"):
        save(people.head(5), database, table=table)
    save(people.head(3), database, table=table, if_exists="replace")
    assert len(load(database, table=table)) == 3


def test_failed_write_rolls_back(database, people, request):
    table = _unique("people", request)
    save(people.head(10), database, table=table, if_exists="replace")
    with pytest.raises(DatabaseError, match="extra_column"):
        save(people.head(4).assign(extra_column=1), database, table=table, if_exists="append")
    # The drop of the old table and the refused insert share one transaction.
    too_big = pd.DataFrame({"age": np.array([1, 2**64 - 1], dtype=np.uint64)})
    with pytest.raises(DatabaseError, match=f"{table}.*(out of range|too large)"):
        save(too_big, database, table=table, if_exists="replace")
    pd.testing.assert_frame_equal(load(database, table=table), people.head(10))


def test_hostile_table_name_is_just_a_name(database, people, request):
    victim = _unique("victim", request)
    save(people.head(3), database, table=victim, if_exists="replace")
    hostile = _unique(f"x; DROP TABLE {victim}; --", request)
    save(people.head(2), database, table=hostile, if_exists="replace")
    assert len(load(database, table=hostile)) == 2
    assert len(load(database, table=victim)) == 3


def test_missing_table_and_file(database, people, tmp_path, request):
    save(people.head(2), database, table=_unique("present", request), if_exists="replace")
    with pytest.raises(MissingSourceError, match="'nowhere' does not exist"):
        load(database, table="nowhere")
    with pytest.raises(MissingSourceError, match="No database file"):
        load(f"sqlite:///{tmp_path / 'absent.db'}", table="x")
    with pytest.raises(ParameterError, match="exactly one of table= or query="):
        load(database)


def test_unreachable_database_hides_password():
    url = "postgresql://alice:S3cretPassw0rd@127.0.0.1:1/nothing"
    with pytest.raises(DatabaseError) as caught:
        load(url, table="people")
    message = str(caught.value)
    assert "S3cretPassw0rd" not in message and "***" in message
    # The driver's exception is not chained, so no traceback shows the URL either.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_wrong_password_is_not_echoed():
    url = _postgres_url()
    parsed = sa.engine.make_url(url).set(password="Wr0ngPassw0rdXYZ")
    with pytest.raises(DatabaseError) as caught:
        load(parsed.render_as_string(hide_password=False), table="x")
    assert "Wr0ngPassw0rdXYZ" not in str(caught.value)


def test_related_tables_from_foreign_keys(tmp_path, actg_visits):
    url = f"sqlite:///{tmp_path / 'trial.db'}"
    save(actg_visits, url)
    engine = sa.create_engine(url)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert names == set(actg_visits.tables)
    back = load(url, tables="all")
    assert isinstance(back, RecordDataset)
    assert {(r.parent, r.child) for r in back.relationships} == {
        (r.parent, r.child) for r in actg_visits.relationships
    }
    for name, frame in actg_visits.tables.items():
        pd.testing.assert_frame_equal(
            back.tables[name][list(frame.columns)], frame, check_dtype=False
        )


@pytest.mark.parametrize(
    "call",
    [
        lambda url: load(url, table="people", delimiter=";"),
        lambda url: load(url.replace("postgresql", "nosuchdb", 1), table="people"),
        lambda url: save(
            pd.DataFrame({"a": [1]}), url.replace("postgresql", "postgresql+nodriver")
        ),
        lambda url: load(url, query="select 1", params={"x": 1}, table="t"),
    ],
)
def test_no_message_shows_the_password(call):
    url = "postgresql://alice:S3cretPassw0rd@127.0.0.1:1/nothing"
    with pytest.raises(Exception) as caught:
        call(url)
    assert "S3cretPassw0rd" not in str(caught.value)
    assert isinstance(caught.value, SynthkitError)


def test_time_zones_survive_postgresql(request, people):
    url = _postgres_url()
    table = _unique("zoned", request)
    frame = people.head(20).assign(
        at=pd.date_range("2024-03-30", periods=20, freq="5h", tz="Europe/Oslo")
    )
    try:
        save(frame, url, table=table, if_exists="replace")
        back = load(url, table=table, dtypes={"at": "datetime64[ns, Europe/Oslo]"})
        pd.testing.assert_frame_equal(back, frame)
        assert str(load(url, table=table)["at"].dtype) == "datetime64[ns, UTC]"
    finally:
        _drop_tables(url, {table})


def test_postgresql_schema_and_related_tables(request, actg_visits):
    url = _postgres_url()
    schema = _unique("trial", request)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    try:
        save(actg_visits, url, schema=schema, if_exists="replace")
        back = load(url, tables="all", schema=schema)
        assert [(r.parent, r.child, r.child_key) for r in back.relationships] == [
            ("patients", "visits", "pidnum")
        ]
        for name, frame in actg_visits.tables.items():
            pd.testing.assert_frame_equal(back.tables[name][list(frame.columns)], frame)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True))
        engine.dispose()


def test_duckdb_related_tables_need_foreign_keys_it_cannot_reflect(tmp_path, actg_visits):
    url = f"duckdb:///{tmp_path / 'trial.duckdb'}"
    save(actg_visits, url)
    with pytest.raises(DatabaseError, match="read each table with table="):
        load(url, tables="all")
    assert len(load(url, table="visits")) == len(actg_visits.tables["visits"])


@pytest.mark.parametrize("scheme, suffix", [("sqlite", "db"), ("duckdb", "duckdb")])
def test_failed_write_to_a_new_file_leaves_no_file(tmp_path, scheme, suffix):
    url = f"{scheme}:///{tmp_path / f'new.{suffix}'}"
    too_big = pd.DataFrame({"n": np.array([2**64 - 1], dtype=np.uint64)})
    with pytest.raises(DatabaseError):
        save(too_big, url, table="numbers")
    assert list(tmp_path.iterdir()) == []
