"""The context's declared metadata (kinds and rules) reaches the sequence model's context model."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthkit
from synthkit.errors import DataError, MetadataError
from synthkit.metadata import Metadata

DATA = Path(__file__).parent / "data"
FAST = {"epochs": 2, "state_dim": 16, "hidden_dim": 16, "verbose": False, "device": "cpu"}
BMI = "weight / (height / 100) ** 2"


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return pd.read_csv(DATA / "nafld1_sample.csv.gz").drop(columns=["case.id"])


@pytest.fixture(scope="module")
def labs() -> pd.DataFrame:
    return pd.read_csv(DATA / "nafld2_sample.csv.gz")


@pytest.fixture(scope="module")
def declared(patients: pd.DataFrame) -> Metadata:
    metadata = Metadata.detect(patients, rules=False)
    metadata.add_rule("formula", column="bmi", expression=BMI)
    return metadata.update_column("male", kind="categorical")


def _held(context: pd.DataFrame) -> pd.Series:
    expected = context["weight"] / (context["height"] / 100) ** 2
    return np.isclose(context["bmi"], expected) | context["bmi"].isna()


@pytest.mark.parametrize("epsilon", [None, 4.0])
def test_a_declared_formula_holds_in_every_drawn_context_row(
    labs, patients, declared, epsilon
) -> None:
    sequences = synthkit.SequenceDataset(
        labs, "id", "days", context=patients, context_metadata=declared
    )
    model = synthkit.SequenceSynthesizer("ar", epsilon=epsilon, random_state=0, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # noisy ranges of a few hundred private patients
        model.fit(sequences)
    context = model.sample(200, random_state=1).context
    assert bool(_held(context).all())
    assert [rule.kind for rule in model.context_model_.metadata_.rules] == ["formula"]
    assert model.context_model_.metadata_.kind("male") == "categorical"


def test_fit_takes_context_metadata_directly(labs, patients, declared) -> None:
    model = synthkit.SequenceSynthesizer("ar", random_state=0, **FAST)
    model.fit(
        synthkit.SequenceDataset(labs, "id", "days"), context=patients, context_metadata=declared
    )
    assert bool(_held(model.sample(100, random_state=2).context).all())


def test_a_holdout_split_keeps_the_context_metadata(labs, patients, declared) -> None:
    sequences = synthkit.SequenceDataset(
        labs, "id", "days", context=patients, context_metadata=declared
    )
    train, holdout = synthkit.holdout_split(sequences, holdout=0.25, random_state=0)
    assert train.context_metadata is declared and holdout.context_metadata is declared


def test_bad_context_metadata_is_refused(labs, patients) -> None:
    with pytest.raises(DataError, match=r"context_metadata must be a synthkit\.Metadata"):
        synthkit.SequenceDataset(labs, "id", "days", context=patients, context_metadata={})
    partial = Metadata.detect(patients.drop(columns=["bmi"]))
    model = synthkit.SequenceSynthesizer("ar", random_state=0, **FAST)
    with pytest.raises(MetadataError, match="bmi"):
        model.fit(
            synthkit.SequenceDataset(labs, "id", "days"),
            context=patients,
            context_metadata=partial,
        )
