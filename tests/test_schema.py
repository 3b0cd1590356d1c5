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
from synthkit.schema import SequenceDataset, SequenceError


def test_shapes_are_exported_from_synthkit_and_reexported_by_connectors():
    for name in ("SequenceDataset", "RecordDataset", "Relationship"):
        assert name in synthkit.__all__
        assert getattr(synthkit, name) is getattr(synthkit.schema, name)
        assert getattr(synthkit.connectors, name) is getattr(synthkit.schema, name)


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
