"""Metadata: detection with overrides, editing, dict/JSON round trips and SDV conversion."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st

from synthkit.datasets import load_adult, load_nafld_labs
from synthkit.errors import DataError, MetadataError
from synthkit.metadata import KINDS, PII_TYPES, IdentifierLearnedWarning, Metadata

DATA = "tests/data"


def contacts(n: int = 400, seed: int = 5) -> pd.DataFrame:
    """A contact list: the columns SDV and synthkit both recognise as PII by name."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "contact_id": np.arange(1, n + 1),
            "email": [fake.email() for _ in range(n)],
            "phone_number": [fake.phone_number() for _ in range(n)],
            "first_name": [fake.first_name() for _ in range(n)],
            "last_name": [fake.last_name() for _ in range(n)],
            "ssn": [fake.ssn() for _ in range(n)],
            "ip_address": [fake.ipv4() for _ in range(n)],
            "credit_card_number": [fake.credit_card_number() for _ in range(n)],
            "joined": pd.Series(pd.date_range("2021-01-01", periods=n, freq="D")).dt.strftime(
                "%Y-%m-%d"
            ),
            "plan": rng.choice(["free", "pro", "team"], n),
            "spend": rng.gamma(2.0, 30.0, n).round(2),
            "active": rng.random(n) < 0.8,
        }
    )


def sdv_detect(frame: pd.DataFrame):
    from sdv.metadata import Metadata as SDVMetadata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SDVMetadata.detect_from_dataframes({"table": frame})


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult("train")


# ----------------------------------------------------------------- detection
def test_detect_gives_every_column_a_kind(adult):
    metadata = Metadata.detect(adult)
    assert list(metadata.columns) == list(adult.columns)
    assert metadata.kind("income") == "categorical"
    assert metadata.learned_columns == list(adult.columns)
    metadata.validate(adult)


def test_detect_on_contacts_keeps_pii_out_of_learning():
    frame = contacts()
    metadata = Metadata.detect(frame)
    assert metadata.primary_key == "contact_id"
    assert metadata.columns_of_kind("pii") == [
        "email",
        "phone_number",
        "first_name",
        "last_name",
        "ssn",
        "ip_address",
        "credit_card_number",
    ]
    assert metadata.learned_columns == ["joined", "plan", "spend", "active"]


def test_overrides_by_kind_name_and_by_entry(adult):
    metadata = Metadata.detect(
        adult,
        overrides={
            "education_num": "categorical",
            "fnlwgt": {"kind": "numerical", "decimals": 1},
            "native_country": {"kind": "pii", "pii_type": "address", "strategy": "drop"},
        },
    )
    assert metadata.column("education_num") == {"kind": "categorical"}
    # Same kind: details merge into the detected entry.
    assert metadata.column("fnlwgt")["decimals"] == 1
    assert metadata.column("fnlwgt")["min"] == int(adult["fnlwgt"].min())
    assert metadata.column("native_country")["strategy"] == "drop"
    assert "native_country" not in metadata.learned_columns


def test_update_column_changes_kind_and_details():
    metadata = Metadata.detect(contacts(50))
    metadata.update_column("plan", kind="text").update_column("email", strategy="drop")
    assert metadata.column("plan") == {"kind": "text"}
    assert metadata.column("email") == {"kind": "pii", "pii_type": "email", "strategy": "drop"}
    metadata.update_column("spend", kind="pii")  # bare PII defaults to a faked name
    assert metadata.column("spend") == {"kind": "pii", "pii_type": "name", "strategy": "fake"}


def test_learning_an_identifier_or_pii_column_warns():
    labs, _ = load_nafld_labs()
    metadata = Metadata.detect(labs)
    assert metadata.kind("id") == "id"  # patient ids repeated over their tests
    learned = "'id' is id: .* As categorical its real values are learned"
    with pytest.warns(IdentifierLearnedWarning, match=learned):
        metadata.update_column("id", kind="categorical")
    people = Metadata.detect(contacts(50))
    with pytest.warns(IdentifierLearnedWarning, match="'email' is pii"):
        people.update_column("email", kind="categorical")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        people.update_column("plan", kind="text")  # a learned column made unlearned
        people.update_column("spend", kind="categorical")


@pytest.mark.parametrize(
    ("change", "error_words"),
    [
        ({"column": "nope", "kind": "numerical"}, "nope"),
        ({"column": "plan", "kind": "blob"}, "blob"),
        ({"column": "email", "pii_type": "passport"}, "passport"),
        ({"column": "email", "strategy": "hash"}, "hash"),
    ],
)
def test_bad_updates_raise_metadata_errors(change, error_words):
    metadata = Metadata.detect(contacts(30))
    column = change.pop("column")
    with pytest.raises(MetadataError, match=error_words):
        metadata.update_column(column, **change)


def test_bad_input_to_detect():
    with pytest.raises(DataError):
        Metadata.detect(pd.DataFrame())
    with pytest.raises(DataError):
        Metadata.detect({"a": [1, 2]})
    with pytest.raises(MetadataError, match="missing"):
        Metadata.detect(pd.DataFrame({"a": [1, 2]}), overrides={"missing": "numerical"})


# ------------------------------------------------------------ serialization
@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(lambda: load_adult("train"), id="adult"),
        pytest.param(lambda: contacts(), id="contacts"),
        pytest.param(lambda: pd.read_csv(f"{DATA}/actg175.csv.gz"), id="actg175"),
        pytest.param(lambda: pd.read_csv(f"{DATA}/cdnow_transactions.csv.gz"), id="cdnow"),
    ],
)
def test_dict_and_json_round_trips(frame, tmp_path):
    metadata = Metadata.detect(frame())
    as_dict = metadata.to_dict()
    assert set(as_dict) >= {"columns", "format_version"}
    assert Metadata.from_dict(as_dict) == metadata
    text = metadata.to_json()
    assert json.loads(text) == json.loads(json.dumps(as_dict))
    assert Metadata.from_json(text) == metadata
    path = tmp_path / "metadata.json"
    metadata.to_json(path)
    assert Metadata.from_json(path) == metadata
    assert Metadata.from_json(str(path)) == metadata


def test_bad_json_and_dicts():
    with pytest.raises(MetadataError, match="invalid"):
        Metadata.from_json("{not json")
    with pytest.raises(MetadataError, match="Cannot read"):
        Metadata.from_json("/no/such/metadata.json")
    with pytest.raises(MetadataError, match="columns"):
        Metadata.from_dict({"tables": {}})
    with pytest.raises(MetadataError, match="primary_key"):
        Metadata.from_dict({"columns": {"a": {"kind": "id"}}, "primary_key": "b"})


_entries = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just("numerical"),
            "integer": st.booleans(),
            "min": st.one_of(st.none(), st.integers(-(10**9), 0)),
            "max": st.one_of(st.none(), st.floats(0, 1e9)),
            "decimals": st.one_of(st.none(), st.integers(0, 10)),
        }
    ),
    st.fixed_dictionaries({"kind": st.sampled_from(["categorical", "boolean"])}),
    st.fixed_dictionaries(
        {
            "kind": st.just("datetime"),
            "format": st.sampled_from([None, "%Y-%m-%d", "%d/%m/%Y %H:%M"]),
            "timezone": st.sampled_from([None, "UTC", "Europe/Berlin"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("pii"),
            "pii_type": st.sampled_from(sorted(PII_TYPES)),
            "strategy": st.sampled_from(["fake", "drop"]),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("id"),
            "id_type": st.just("string"),
            "format": st.just("pattern"),
            "segments": st.lists(
                st.fixed_dictionaries({"class": st.just("digit"), "length": st.integers(1, 9)}),
                max_size=3,
            ),
        }
    ),
)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=12), _entries, min_size=1, max_size=8))
def test_any_metadata_survives_json(columns):
    metadata = Metadata(columns, primary_key=next(iter(columns)))
    assert Metadata.from_json(metadata.to_json()) == metadata
    assert all(entry["kind"] in KINDS for entry in metadata.columns.values())


# ---------------------------------------------------------------------- SDV
def test_from_sdv_on_adult_matches_our_detection(adult):
    ours = Metadata.detect(adult)
    converted = Metadata.from_sdv(sdv_detect(adult))
    assert list(converted.columns) == list(adult.columns)
    for name in adult.columns:
        assert converted.kind(name) == ours.kind(name), name


def test_to_sdv_round_trip_on_adult_is_valid_for_sdv(adult):
    ours = Metadata.detect(adult)
    sdv_metadata = ours.to_sdv()
    sdv_metadata.validate()
    sdv_metadata.validate_data({"table": adult})
    back = Metadata.from_sdv(sdv_metadata)
    assert {n: back.kind(n) for n in back.columns} == {n: ours.kind(n) for n in ours.columns}
    assert Metadata.from_sdv(sdv_metadata.to_dict(), table_name="table") == back


def test_sdv_pii_sdtypes_become_pii_and_back():
    frame = contacts(150)
    converted = Metadata.from_sdv(sdv_detect(frame))
    assert converted.primary_key == "contact_id"
    assert converted.column("email") == {"kind": "pii", "pii_type": "email", "strategy": "fake"}
    # SDV recognises these from the name too; each maps to our PII type.
    for name, pii_type in {"first_name": "first_name", "ssn": "ssn", "ip_address": "ip"}.items():
        assert converted.column(name)["pii_type"] == pii_type
    ours = Metadata.detect(frame)
    sdv_metadata = ours.to_sdv("contacts")
    sdv_metadata.validate()
    sdv_metadata.validate_data({"contacts": frame})
    table = sdv_metadata.to_dict()["tables"]["contacts"]
    assert table["primary_key"] == "contact_id"
    assert table["columns"]["credit_card_number"] == {
        "sdtype": "credit_card_number",
        "pii": True,
    }
    back = Metadata.from_sdv(sdv_metadata)
    for name in ours.columns_of_kind("pii"):
        assert back.column(name) == ours.column(name)
    assert back.column("joined")["format"] == "%Y-%m-%d"


def test_from_sdv_needs_a_table_name_for_several_tables():
    two = {
        "tables": {
            "a": {"columns": {"x": {"sdtype": "numerical"}}},
            "b": {"columns": {"y": {"sdtype": "categorical"}}},
        }
    }
    with pytest.raises(MetadataError, match="table_name"):
        Metadata.from_sdv(two)
    assert Metadata.from_sdv(two, table_name="b").kind("y") == "categorical"


def test_kind_is_the_one_definition_of_learned_and_scored_columns():
    from synthkit.evaluation.data import SCORED_KINDS
    from synthkit.metadata import Kind

    assert [kind.value for kind in Kind] == list(KINDS)
    assert {kind for kind in Kind if not kind.learned} == {Kind.ID, Kind.PII, Kind.TEXT}
    assert set(SCORED_KINDS) == {kind.value for kind in Kind if kind.scored}
    metadata = Metadata({"a": {"kind": "numerical"}, "b": {"kind": "text"}, "c": {"kind": "id"}})
    assert metadata.learned_columns == ["a"]


def test_reasons_survive_json_and_user_overrides_replace_them():
    frame = pd.DataFrame({"contact": [f"u{i}@x.org" for i in range(30)], "n": range(30)})
    metadata = Metadata.detect(frame, overrides={"n": "categorical"})
    assert "100% of a sample match the email pattern" in metadata.explain("contact")
    assert metadata.explain("n") == "'n' is categorical: set by the user."
    again = Metadata.from_json(metadata.to_json())
    assert again.reasons == metadata.reasons and again == metadata
    assert "not detected" in Metadata({"x": {"kind": "numerical"}}).explain("x")
