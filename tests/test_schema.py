"""Dataset shapes and keys live in the core: importable without connectors, exported by synthkit."""

import subprocess
import sys
from pathlib import Path

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import given, settings

import synthkit
import synthkit.connectors
import synthkit.schema
from synthkit.errors import MetadataError, MissingDependencyError
from synthkit.schema import (
    MultiTableMetadata,
    RecordDataset,
    Relationship,
    SequenceDataset,
    SequenceError,
)


def test_shapes_are_exported_from_synthkit_and_reexported_by_connectors():
    for name in ("SequenceDataset", "RecordDataset", "Relationship"):
        assert name in synthkit.__all__
        assert getattr(synthkit, name) is getattr(synthkit.schema, name)
        assert getattr(synthkit.connectors, name) is getattr(synthkit.schema, name)
    assert synthkit.MultiTableMetadata is synthkit.schema.MultiTableMetadata


def test_every_bad_input_error_is_caught_as_synthkit_error() -> None:
    assert "SynthkitError" in synthkit.__all__
    with pytest.raises(synthkit.SynthkitError, match="not been fitted"):
        synthkit.SequenceSynthesizer("ar").sample(n_entities=0)


def test_core_schema_does_not_import_connectors():
    code = (
        "import sys, synthkit.schema, synthkit.metadata; "
        "print(any(m.startswith('synthkit.connectors') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------- sequences with ties
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def labs() -> pd.DataFrame:
    """Lab tests of 300 NAFLD patients: half the rows share a (patient, day) pair."""
    return pd.read_csv(DATA / "nafld2_sample.csv.gz")


def test_lab_tests_with_ties_load_into_a_sequence_dataset(labs):
    tied = labs.duplicated(["id", "days"], keep=False)
    assert tied.mean() > 0.4  # the data really has ties
    sequences = SequenceDataset(labs, "id", "days")
    assert len(sequences) == len(labs)
    assert sequences.n_entities == labs["id"].nunique() == 263  # of the 300 patients
    # Tied events keep their row order: nothing is merged or reordered.
    pd.testing.assert_frame_equal(sequences.data, labs)
    assert sequences.metadata.sequence_key == "id"
    assert sequences.metadata.sequence_index == "days"


def test_lab_tests_with_ties_load_through_synthkit_load(labs):
    loaded = synthkit.load(DATA / "nafld2_sample.csv.gz", sequence_key="id", sequence_index="days")
    assert isinstance(loaded, SequenceDataset)
    pd.testing.assert_frame_equal(loaded.data, labs, check_dtype=False)
    assert loaded.lengths().sum() == len(labs)


def test_a_decreasing_index_is_refused_and_sort_keeps_ties_stable():
    events = pd.DataFrame({"user": [1, 1, 1, 2], "day": [5, 5, 3, 1], "what": ["a", "b", "c", "d"]})
    with pytest.raises(SequenceError, match=r"user=1.*not ordered by 'day'.*sort=True"):
        SequenceDataset(events, "user", "day")
    fixed = SequenceDataset(events, "user", "day", sort=True)
    assert fixed.data["what"].tolist() == ["c", "a", "b", "d"]


@pytest.mark.parametrize("column", ["user", "day"])
def test_null_keys_are_refused(column):
    events = pd.DataFrame({"user": [1.0, 1.0, 2.0], "day": [1.0, 2.0, 3.0]})
    events.loc[1, column] = None
    with pytest.raises(SequenceError, match=rf"{column!r} is a sequence key.*1 missing"):
        SequenceDataset(events, "user", "day")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), min_size=1, max_size=30))
def test_any_non_decreasing_index_is_accepted_and_sort_is_stable(pairs):
    frame = pd.DataFrame(pairs, columns=["entity", "index"])
    frame["row"] = range(len(frame))
    ordered = SequenceDataset(frame, "entity", "index", sort=True).data
    # Sorting is stable: within a (entity, index) tie, original row order is kept.
    expected = sorted(range(len(pairs)), key=lambda i: (pairs[i][0], pairs[i][1], i))
    assert ordered["row"].tolist() == expected
    # Already ordered data (ties included) is accepted unchanged.
    again = SequenceDataset(ordered, "entity", "index")
    pd.testing.assert_frame_equal(again.data, ordered)


# ---------------------------------------------------------- multi-table metadata
LINKS = [
    Relationship("patients", "labs", "id", "id"),
    Relationship("patients", "events", "id", "id"),
]


@pytest.fixture(scope="module")
def nafld() -> dict[str, pd.DataFrame]:
    """300 NAFLD patients, their lab tests and their clinical events."""
    return {
        "patients": pd.read_csv(DATA / "nafld1_sample.csv.gz"),
        "labs": pd.read_csv(DATA / "nafld2_sample.csv.gz"),
        "events": pd.read_csv(DATA / "nafld3_sample.csv.gz"),
    }


@pytest.fixture(scope="module")
def nafld_records(nafld) -> RecordDataset:
    return RecordDataset(nafld, LINKS)


def _sdv_view(metadata: MultiTableMetadata) -> dict:
    """What SDV can carry of our metadata: kinds (booleans are categories), keys, links."""
    return {
        name: (
            {c: e["kind"].replace("boolean", "categorical") for c, e in md.columns.items()},
            md.primary_key,
            {c: e.get("integer") for c, e in md.columns.items() if e["kind"] == "numerical"},
        )
        for name, md in metadata.items()
    }


def test_record_dataset_carries_multi_table_metadata(nafld_records):
    metadata = nafld_records.metadata
    assert isinstance(metadata, MultiTableMetadata)
    assert nafld_records.root == "patients"
    assert metadata["patients"].primary_key == "id"
    assert metadata["labs"].kind("id") == metadata["events"].kind("id") == "id"
    assert metadata.relationships == LINKS
    assert MultiTableMetadata.from_json(metadata.to_json()) == metadata


def test_nafld_metadata_round_trips_through_sdv(nafld, nafld_records):
    metadata = nafld_records.metadata
    sdv_metadata = metadata.to_sdv()
    sdv_metadata.validate()
    sdv_metadata.validate_data(nafld)
    links = sdv_metadata.to_dict()["relationships"]
    assert {(r["parent_table_name"], r["child_table_name"]) for r in links} == {
        ("patients", "labs"),
        ("patients", "events"),
    }
    assert all(r["parent_primary_key"] == r["child_foreign_key"] == "id" for r in links)
    back = MultiTableMetadata.from_sdv(sdv_metadata)
    assert back.relationships == LINKS
    assert _sdv_view(back) == _sdv_view(metadata)
    assert back["labs"].column("days")["min"] == nafld["labs"]["days"].min()
    # Reading SDV's dict needs no SDV install and gives the same metadata.
    assert MultiTableMetadata.from_sdv(sdv_metadata.to_dict()) == back
    # The converted metadata rebuilds the dataset with the same keys.
    rebuilt = RecordDataset(nafld, metadata=back)
    assert rebuilt.relationships == LINKS
    assert rebuilt.primary_keys == {"patients": "id"}
    assert rebuilt.metadata is back


def test_sdv_detected_relationships_convert(nafld):
    import warnings

    from sdv.metadata import Metadata as SDVMetadata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detected = SDVMetadata.detect_from_dataframes(nafld)
    converted = MultiTableMetadata.from_sdv(detected)
    assert sorted(converted.relationships, key=lambda r: r.child) == sorted(
        LINKS, key=lambda r: r.child
    )
    assert converted["patients"].primary_key == "id"


def test_to_sdv_without_sdv_names_the_extra(nafld_records, monkeypatch):
    monkeypatch.setitem(sys.modules, "sdv.metadata", None)  # makes the import fail
    with pytest.raises(MissingDependencyError, match=r'pip install "synthkit\[sdv\]"'):
        nafld_records.metadata.to_sdv()
    with pytest.raises(ImportError, match="SDV"):
        nafld_records.metadata["patients"].to_sdv()
    assert nafld_records.metadata.to_sdv_dict()["relationships"]  # the dict needs no SDV


@pytest.mark.parametrize(
    ("links", "message"),
    [
        ([Relationship("patients", "visits", "id", "id")], r"child table 'visits' is not"),
        ([Relationship("labs", "events", "id", "id")], r"primary key of 'labs'.*None"),
        ([Relationship("patients", "labs", "id", "patient")], r"'patient' is not a column"),
    ],
)
def test_bad_relationships_are_named(nafld_records, links, message):
    tables = dict(nafld_records.metadata.items())
    with pytest.raises(MetadataError, match=message):
        MultiTableMetadata(tables, links)


def test_metadata_for_tables_that_lack_a_column_names_the_table(nafld, nafld_records):
    tables = {**nafld, "labs": nafld["labs"].drop(columns=["value"])}
    with pytest.raises(MetadataError, match=r"Table 'labs':.*\['value'\]"):
        RecordDataset(tables, LINKS, metadata=nafld_records.metadata)


def test_bad_sdv_input_is_named():
    with pytest.raises(MetadataError, match=r"'tables' mapping.*Metadata.from_sdv"):
        MultiTableMetadata.from_sdv({"columns": {"a": {"sdtype": "numerical"}}})
    broken = {"tables": {"a": {"columns": {"k": {"sdtype": "id"}}}}, "relationships": [{}]}
    with pytest.raises(MetadataError, match="lacks"):
        MultiTableMetadata.from_sdv(broken)


_names = st.text(alphabet="abcxyz_", min_size=1, max_size=5)


@given(_names, _names, _names, _names, st.one_of(st.none(), _names), st.one_of(st.none(), _names))
def test_relationship_round_trips(parent, child, parent_key, child_key, field, order):
    link = Relationship(parent, child, parent_key, child_key, field, order)
    assert Relationship.from_dict(link.to_dict()) == link
    bare = Relationship(parent, child, parent_key, child_key)
    assert Relationship.from_sdv_dict(link.to_sdv_dict()) == bare
