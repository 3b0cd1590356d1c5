import os
import tempfile

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import given, settings

from synthkit.connectors import (
    RecordDataset,
    RecordError,
    SequenceDataset,
    SequenceError,
    build_suite,
    load,
    load_suite,
    save,
    save_suite,
    validate,
)

from .conftest import DATA


@pytest.fixture(scope="module")
def purchases():
    raw = load(DATA / "cdnow_transactions.csv.gz", parse_dates={"date": "%Y%m%d"})
    # Several purchases of one customer on one day share a (customer, date) pair: sum them.
    return raw.groupby(["customer_id", "date"], as_index=False).sum()


def test_cdnow_raw_loads_with_repeated_customer_day_pairs():
    # Several purchases of one customer on one day are ties, kept as separate events.
    raw = load(
        DATA / "cdnow_transactions.csv.gz",
        sequence_key="customer_id",
        sequence_index="date",
        parse_dates={"date": "%Y%m%d"},
    )
    assert isinstance(raw, SequenceDataset)
    assert len(raw) == 69659
    assert raw.data.duplicated(["customer_id", "date"]).sum() > 0


@pytest.mark.parametrize("suffix", ["parquet", "csv", "feather"])
def test_sequences_round_trip(tmp_path, purchases, suffix):
    sequences = SequenceDataset(purchases, "customer_id", "date")
    assert sequences.n_entities == 23570
    assert sequences.metadata.sequence_key == "customer_id"
    assert sequences.metadata.kind("customer_id") == "id"
    path = tmp_path / f"cdnow.{suffix}"
    save(sequences, path)
    options = {"parse_dates": ["date"]} if suffix == "csv" else {}
    back = load(path, sequence_key="customer_id", sequence_index="date", **options)
    assert isinstance(back, SequenceDataset)
    pd.testing.assert_frame_equal(back.data, sequences.data)
    assert back.metadata == sequences.metadata


def test_unsorted_sequences_are_refused_or_sorted(purchases):
    shuffled = purchases.sample(frac=1.0, random_state=0)
    with pytest.raises(SequenceError, match=r"not ordered by 'date'.*sort=True"):
        SequenceDataset(shuffled, "customer_id", "date")
    fixed = SequenceDataset(shuffled, "customer_id", "date", sort=True)
    pd.testing.assert_frame_equal(fixed.data, purchases)


def test_nested_records_to_tables_and_back(actg_visits, patient_records):
    assert set(actg_visits.tables) == {"patients", "visits"}
    visits = actg_visits.tables["visits"]
    assert visits["pidnum"].isin(actg_visits.tables["patients"]["pidnum"]).all()
    assert "profile.weight" in actg_visits.tables["patients"].columns
    assert actg_visits.to_records() == patient_records
    assert actg_visits.metadata["patients"].primary_key == "pidnum"


@pytest.mark.parametrize("suffix", ["jsonl", "json", "parquet"])
def test_nested_records_round_trip_through_files(tmp_path, actg_visits, patient_records, suffix):
    path = tmp_path / f"patients.{suffix}"
    save(actg_visits, path)
    back = load(path, shape="records", primary_key="pidnum")
    assert back.to_records() == patient_records
    for name, frame in actg_visits.tables.items():
        pd.testing.assert_frame_equal(back.tables[name], frame)


def test_cards_with_transactions_from_lending_club(tmp_path):
    loans = pd.read_csv(DATA / "lending_club.csv.gz").head(200)
    cards = [
        {"state": state, "loans": group[["funded_amnt", "int_rate", "term"]].to_dict("records")}
        for state, group in loans.groupby("addr_state")
    ]
    dataset = RecordDataset.from_records(cards, name="states", primary_key="state")
    assert len(dataset.tables["loans"]) == 200
    path = tmp_path / "states.jsonl"
    save(dataset, path)
    assert load(path, shape="records", primary_key="state").to_records() == cards


def test_broken_keys_are_named(actg_visits):
    visits = actg_visits.tables["visits"].copy()
    visits.loc[0, "pidnum"] = -1
    with pytest.raises(RecordError, match=r"point to no 'patients' row.*pidnum=-1"):
        actg_visits.with_tables({**actg_visits.tables, "visits": visits})
    patients = actg_visits.tables["patients"].copy()
    patients.loc[1, "pidnum"] = patients.loc[0, "pidnum"]
    with pytest.raises(RecordError, match=r"patients.pidnum must be unique"):
        actg_visits.with_tables({**actg_visits.tables, "patients": patients})


def test_suite_from_real_data_passes_then_names_the_broken_expectation(
    tmp_path, adult, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    train, holdout = adult.iloc[:2000], adult.iloc[2000:]
    suite = build_suite(train, name="adult")
    path = tmp_path / "adult_suite.json"
    save_suite(suite, path)
    assert validate(train, path).success
    broken = holdout.head(50).copy()
    broken.loc[broken.index[3], "age"] = 250
    result = validate(broken, load_suite(path))
    assert not result.success
    assert "expect_column_values_to_be_between(age)" in result.failed_expectations
    failure = next(f for f in result.failures if f.column == "age")
    assert failure.unexpected_values == [250]
    assert not (tmp_path / "gx").exists() and os.listdir(tmp_path) == ["adult_suite.json"]


def test_suite_checks_sequence_keys(purchases):
    sequences = SequenceDataset(purchases.head(5000), "customer_id", "date")
    suite = build_suite(sequences)
    assert validate(sequences, suite).success
    doubled = pd.concat([purchases.head(5000), purchases.head(1)], ignore_index=True)
    result = validate(doubled, suite)
    assert "expect_compound_columns_to_be_unique()" in result.failed_expectations


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)
_visit = st.fixed_dictionaries(
    {
        "week": st.integers(-(2**40), 2**40),
        "note": st.none() | _text,
        "dose": st.floats(-1e6, 1e6),
        "readings": st.lists(st.fixed_dictionaries({"value": st.integers(0, 999)}), max_size=3),
    }
)
_patient = st.fixed_dictionaries(
    {
        "name": _text,
        "score": st.none() | st.floats(allow_nan=False, allow_infinity=False),
        "profile": st.fixed_dictionaries({"height": st.integers(0, 250), "city": _text}),
        "visits": st.lists(_visit, max_size=4),
        "tags": st.lists(_text, max_size=3),
    }
)


@settings(max_examples=40, deadline=None)
@given(records=st.lists(_patient, min_size=1, max_size=12))
def test_random_nested_records_round_trip(records):
    dataset = RecordDataset.from_records(records, name="patients")
    assert len(dataset.tables["patients"]) == len(records)
    assert len(dataset.tables["visits"]) == sum(len(r["visits"]) for r in records)
    readings = sum(len(v["readings"]) for r in records for v in r["visits"])
    if readings:
        assert len(dataset.tables["readings"]) == readings
    rebuilt = dataset.with_tables({k: v.copy() for k, v in dataset.tables.items()})
    assert rebuilt.to_records() == records


@settings(max_examples=30, deadline=None)
@given(
    records=st.lists(_patient, min_size=1, max_size=8),
    suffix=st.sampled_from(["jsonl", "json", "parquet", "feather"]),
)
def test_random_nested_records_round_trip_through_files(records, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/patients.{suffix}"
        save(RecordDataset.from_records(records, name="patients"), path)
        assert load(path, shape="records").to_records() == records
