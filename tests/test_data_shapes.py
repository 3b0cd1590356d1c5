"""Single-table models refuse sequence and multi-table data instead of scrambling it."""

from __future__ import annotations

import pandas as pd
import pytest

import synthkit
from synthkit.errors import DataError, SynthkitError
from synthkit.generators import GENERATORS
from synthkit.schema import RecordDataset, Relationship, SequenceDataset

from .conftest import DATA

NAMES = GENERATORS.names()


@pytest.fixture(scope="module")
def purchases(cdnow: pd.DataFrame) -> SequenceDataset:
    """CDNOW purchase histories: several purchases per customer, some on the same day."""
    rows = cdnow[cdnow["customer_id"] <= 300]
    return SequenceDataset(rows, "customer_id", "date")


@pytest.fixture(scope="module")
def patients() -> RecordDataset:
    """NAFLD patients with their lab tests, linked by patient id."""
    tables = {
        "patients": pd.read_csv(DATA / "nafld1_sample.csv.gz"),
        "labs": pd.read_csv(DATA / "nafld2_sample.csv.gz"),
    }
    return RecordDataset(tables, [Relationship("patients", "labs", "id", "id")])


@pytest.mark.parametrize("name", NAMES)
def test_a_sequence_dataset_is_refused_naming_the_sequence_model(
    name: str, make_model, purchases: SequenceDataset
) -> None:
    with pytest.raises(DataError, match=r"SequenceDataset.*synthkit\.SequenceSynthesizer"):
        make_model(name).fit(purchases)


@pytest.mark.parametrize("name", NAMES)
def test_its_rows_with_sequence_key_metadata_are_refused(
    name: str, make_model, purchases: SequenceDataset
) -> None:
    assert purchases.metadata.sequence_key == "customer_id"
    with pytest.raises(
        DataError, match=r"sequence_key='customer_id'.*synthkit\.SequenceSynthesizer"
    ):
        make_model(name).fit(purchases.data, purchases.metadata)


@pytest.mark.parametrize("name", NAMES)
def test_a_record_dataset_is_refused_naming_the_record_model(
    name: str, make_model, patients: RecordDataset
) -> None:
    with pytest.raises(DataError, match=r"RecordDataset.*synthkit\.RecordSynthesizer"):
        make_model(name).fit(patients)


def test_the_refusal_is_a_synthkit_error_raised_before_any_work(purchases) -> None:
    # Refused even with invalid parameters: the data's shape is the first problem.
    model = synthkit.Synthesizer("ctgan", epochs=0)
    with pytest.raises(SynthkitError, match="SequenceSynthesizer"):
        model.fit(purchases)
    assert not hasattr(model, "encoder_")
