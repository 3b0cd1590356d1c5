"""holdout_split: tables by row, sequences by entity, related tables by root entity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthkit
from synthkit.datasets import load_adult, load_nafld_events, load_nafld_labs
from synthkit.errors import DataError
from synthkit.schema import RecordError, SequenceError

KEY = "id"


@pytest.fixture(scope="module")
def nafld() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    labs, patients = load_nafld_labs()
    return labs, patients, load_nafld_events()


def test_table_split_by_row_is_seeded_and_complete() -> None:
    adult = load_adult("train").head(3000)
    train, held = synthkit.holdout_split(adult, holdout=0.25, random_state=4)
    assert (len(train), len(held)) == (2250, 750)
    both = pd.concat([train, held]).sort_values(list(adult.columns), ignore_index=True)
    pd.testing.assert_frame_equal(both, adult.sort_values(list(adult.columns), ignore_index=True))
    again, _ = synthkit.holdout_split(adult, holdout=0.25, random_state=4)
    pd.testing.assert_frame_equal(train, again)
    other, _ = synthkit.holdout_split(adult, holdout=0.25, random_state=5)
    assert not train.equals(other)


def test_sequences_split_by_entity_with_context(nafld) -> None:
    labs, patients, _ = nafld
    sequences = synthkit.SequenceDataset(labs, KEY, "days")
    train, held = synthkit.holdout_split(sequences, holdout=100, context=patients)
    assert isinstance(train, synthkit.SequenceDataset)
    assert len(held.context) == 100
    assert len(train.context) + len(held.context) == len(patients)
    assert not set(train.context[KEY]) & set(held.context[KEY])
    # every event goes with its entity's context row, none lost
    for side in (train, held):
        assert set(side.data[KEY]) <= set(side.context[KEY])
    assert len(train) + len(held) == len(labs)
    # patients without lab tests are units too: they are split, not dropped
    untested = set(patients[KEY]) - set(labs[KEY])
    assert untested
    assert untested <= set(train.context[KEY]) | set(held.context[KEY])
    assert train.data.dtypes.equals(labs.dtypes)


def test_split_sequences_feed_fit_and_evaluate(nafld) -> None:
    labs, patients, _ = nafld
    # Halves: DCR share compares against as many training entities as holdout ones.
    train, held = synthkit.holdout_split(
        synthkit.SequenceDataset(labs, KEY, "days"), holdout=0.5, context=patients
    )
    model = synthkit.SequenceSynthesizer(
        "ar", epochs=1, verbose=False, random_state=0, context_params={"epochs": 1}
    )
    model.fit(train)  # the context comes with the dataset
    assert model.sample(n_entities=5, random_state=1).context is not None
    report = synthkit.evaluate(
        train, train, holdout=held, metrics=["dcr_share", "exact_match_rate"]
    )
    # a copy of the training patients is caught at the entity level
    assert report.to_dict()["dcr_share"] > 0.9
    assert report.to_dict()["exact_match_rate"] == 1.0


def test_records_split_by_root_entity(nafld) -> None:
    labs, patients, events = nafld
    database = synthkit.RecordDataset(
        {"patients": patients, "labs": labs, "events": events},
        [
            synthkit.Relationship("patients", "labs", KEY, KEY),
            synthkit.Relationship("patients", "events", KEY, KEY),
        ],
    )
    train, held = synthkit.holdout_split(database, holdout=0.2, random_state=1)
    assert len(held.tables["patients"]) == round(0.2 * len(patients))
    for name in ("labs", "events"):
        assert set(train.tables[name][KEY]) <= set(train.tables["patients"][KEY])
        assert set(held.tables[name][KEY]) <= set(held.tables["patients"][KEY])
        assert len(train.tables[name]) + len(held.tables[name]) == len(database.tables[name])
    assert not set(train.tables["patients"][KEY]) & set(held.tables["patients"][KEY])


def test_records_lookup_tables_go_to_both_sides() -> None:
    rng = np.random.default_rng(0)
    tables = {
        "airports": pd.DataFrame({"faa": ["EWR", "JFK", "LGA"]}),
        "planes": pd.DataFrame({"tailnum": [f"N{i}" for i in range(20)]}),
        "flights": pd.DataFrame(
            {
                "tailnum": [f"N{i % 20}" for i in range(60)],
                "dest": rng.choice(["EWR", "JFK", "LGA"], 60),
            }
        ),
    }
    links = [
        synthkit.Relationship("planes", "flights", "tailnum", "tailnum"),
        synthkit.Relationship("airports", "flights", "faa", "dest"),
    ]
    database = synthkit.RecordDataset(tables, links)
    with pytest.raises(RecordError, match="root="):
        synthkit.holdout_split(database)
    train, held = synthkit.holdout_split(database, holdout=5, root="planes")
    assert len(held.tables["planes"]) == 5
    assert train.tables["airports"].equals(tables["airports"])
    assert held.tables["airports"].equals(tables["airports"])
    assert len(held.tables["flights"]) == 15


@pytest.mark.parametrize("holdout", [0, 1.0, 1.5, -0.2, 3000, "half", True])
def test_bad_holdout_sizes_are_refused(holdout: object) -> None:
    adult = load_adult("train").head(3000)
    with pytest.raises(DataError, match="holdout"):
        synthkit.holdout_split(adult, holdout=holdout)


def test_bad_arguments_are_refused(nafld) -> None:
    labs, patients, _ = nafld
    sequences = synthkit.SequenceDataset(labs, KEY, "days")
    with pytest.raises(SequenceError, match="more than once"):
        synthkit.holdout_split(sequences, context=pd.concat([patients, patients.head(1)]))
    with pytest.raises(SequenceError, match="sequence key column 'id'"):
        synthkit.holdout_split(sequences, context=patients.drop(columns=KEY))
    with pytest.raises(DataError, match="context= applies to sequences"):
        synthkit.holdout_split(patients, context=patients)
    with pytest.raises(DataError, match="root= applies"):
        synthkit.holdout_split(sequences, root="patients")
    with pytest.raises(DataError, match="DataFrame, SequenceDataset or RecordDataset"):
        synthkit.holdout_split(labs.to_numpy())
