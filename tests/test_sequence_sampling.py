"""Sequence sampling: continuing given histories and conditions on events."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import synthkit
from synthkit.errors import ConditionError, DataError, ParameterError
from synthkit.generators.sequential import SequenceSynthesizer, event_conditions

DATA = Path(__file__).parent / "data"
# Small networks and few epochs: these tests check what sampling guarantees, not quality.
SMALL = {"epochs": 3, "batch_size": 32, "state_dim": 32, "hidden_dim": 32, "verbose": False}
SMALL_CONTEXT = {"context_params": {"epochs": 2, "hidden_dim": 32}}


def _model(**fit: object) -> SequenceSynthesizer:
    return synthkit.SequenceSynthesizer("ar", random_state=0, **SMALL_CONTEXT, **SMALL).fit(**fit)


@pytest.fixture(scope="module")
def nafld() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lab events and patients of the NAFLD test sample."""
    return pd.read_csv(DATA / "nafld2_sample.csv.gz"), pd.read_csv(DATA / "nafld1_sample.csv.gz")


@pytest.fixture(scope="module")
def model(nafld) -> SequenceSynthesizer:
    labs, patients = nafld
    return _model(data=synthkit.SequenceDataset(labs, "id", "days"), context=patients)


def _seeds(labs: pd.DataFrame, keys: pd.Series, n: int) -> pd.DataFrame:
    return labs[labs["id"].isin(keys)].groupby("id").head(n).reset_index(drop=True)


def test_metadata_after_fit_and_load(model, tmp_path, nafld) -> None:
    labs = nafld[0]
    assert model.metadata_.kind("test") == "categorical"
    assert list(model.metadata_.columns) == list(labs.columns)
    loaded = synthkit.load_model(model.save(tmp_path / "labs.synthkit"))
    assert loaded.metadata_.to_dict() == model.metadata_.to_dict()


def test_seed_events_lead_each_history_unchanged(model, nafld) -> None:
    labs, patients = nafld
    given = patients[patients["id"].isin(labs["id"])].head(24).reset_index(drop=True)
    seeded = given["id"].iloc[:16]  # the last 8 entities get whole new histories
    seeds = _seeds(labs, seeded, 5)
    out = model.sample(context=given, seed_events=seeds, random_state=3)
    events = out.data
    assert list(events.columns) == list(labs.columns)
    assert dict(events.dtypes) == dict(labs.dtypes)
    assert set(events["id"]) <= set(given["id"])
    # Entities keep the context order; each starts with its seed events, as given.
    assert list(pd.unique(events["id"])) == [k for k in given["id"] if k in set(events["id"])]
    for key, prefix in seeds.groupby("id", sort=False):
        history = events[events["id"] == key].reset_index(drop=True)
        assert len(history) >= len(prefix)  # never ends before its seed events
        pd.testing.assert_frame_equal(history.head(len(prefix)), prefix.reset_index(drop=True))
        assert (history["days"].iloc[len(prefix) :] >= prefix["days"].iloc[-1]).all()
    # Some continued histories go on past their seeds, with times from the last seed.
    lengths = events.groupby("id").size()
    assert (lengths.reindex(seeded).to_numpy() > 5).any()
    again = model.sample(context=given, seed_events=seeds, random_state=3)
    pd.testing.assert_frame_equal(events, again.data)


def test_seed_events_longer_than_any_real_history(model, nafld) -> None:
    labs, patients = nafld
    key = labs["id"].value_counts().index[0]
    history = labs[labs["id"] == key].reset_index(drop=True)
    longer = pd.concat([history, history.assign(days=history["days"] + 10_000)])
    given = patients[patients["id"] == key]
    out = model.sample(context=given, seed_events=longer, random_state=0)
    assert len(out.data) >= len(longer) > model.layout_["max_length"]
    pd.testing.assert_frame_equal(
        out.data.head(len(longer)).reset_index(drop=True), longer.reset_index(drop=True)
    )


def test_constant_columns_follow_the_seed_events() -> None:
    infections = pd.read_csv(DATA / "cgd.csv.gz")
    model = _model(data=infections, sequence_key="id", sequence_index="tstart")
    constant = model.layout_["constant_columns"]
    assert "sex" in constant and "treat" in constant
    seeds = infections.groupby("id").head(1).head(12).reset_index(drop=True)
    # Flip the seeds' constant columns: the continued histories keep the seeds' values.
    flipped = seeds.assign(sex=seeds["sex"].map({"male": "female", "female": "male"}))
    given = pd.DataFrame({"id": flipped["id"]})
    out = model.sample(context=given, seed_events=flipped, random_state=1)
    per_entity = out.data.groupby("id")["sex"].agg(["nunique", "first"])
    assert (per_entity["nunique"] == 1).all()
    expected = flipped.set_index("id")["sex"]
    assert per_entity["first"].equals(expected.reindex(per_entity.index))
    # The rule tstop > tstart still holds on the new events.
    assert (out.data["tstop"] > out.data["tstart"]).all()


def test_bad_seed_events_are_named(model, nafld) -> None:
    labs, patients = nafld
    given = patients.head(5)
    seeds = _seeds(labs, given["id"], 3)
    with pytest.raises(DataError, match=r"missing from the context rows \(first id=999999"):
        model.sample(context=given, seed_events=seeds.assign(id=999_999))
    with pytest.raises(DataError, match=r"missing \['value'\]"):
        model.sample(context=given, seed_events=seeds.drop(columns="value"))
    with pytest.raises(DataError, match=r"unknown \['note'\]"):
        model.sample(context=given, seed_events=seeds.assign(note="x"))
    with pytest.raises(DataError, match=r"'value' holds object values such as 'high'"):
        model.sample(context=given, seed_events=seeds.assign(value="high"))
    backwards = seeds.copy()
    backwards["days"] = backwards.groupby("id")["days"].transform(lambda d: d.to_numpy()[::-1])
    backwards = backwards[backwards.groupby("id")["days"].transform("nunique") > 1]
    with pytest.raises(DataError, match=r"'days' of seed_events decreases within entity id="):
        model.sample(context=given, seed_events=backwards)
    with pytest.raises(ParameterError, match="seed_events continue the histories"):
        model.sample(5, seed_events=seeds)
    with pytest.raises(DataError, match="key column 'id'"):
        model.sample(context=given.drop(columns="id"), seed_events=seeds)
    with pytest.raises(DataError, match="must be a DataFrame"):
        model.sample(context=given, seed_events=[1, 2])


@pytest.mark.parametrize(
    "condition",
    [{"test": "fib4"}, {"test": ["smoke", "fib4"]}, {"value": (150, None)}],
    ids=["value", "list", "range"],
)
def test_event_conditions_are_met_by_every_entity(model, condition) -> None:
    out = model.sample(n_entities=40, event_conditions=condition, random_state=4)
    assert out.context["id"].is_unique and len(out.context) == 40
    events = out.data
    assert set(events["id"]) == set(out.context["id"])
    ((column, wanted),) = condition.items()
    if isinstance(wanted, tuple):
        meets = events[column] >= wanted[0]
    else:
        meets = events[column].isin(wanted if isinstance(wanted, list) else [wanted])
    assert meets.groupby(events["id"]).any().all()
    # Entities stay whole and ordered: each one's events are contiguous, times increasing.
    assert events.groupby("id", sort=False)["days"].is_monotonic_increasing.all()
    assert events["id"].ne(events["id"].shift()).sum() == events["id"].nunique()


def test_event_conditions_with_context_conditions_and_given_rows(model, nafld) -> None:
    patients = nafld[1]
    out = model.sample(
        n_entities=20, conditions={"male": 1}, event_conditions={"test": "fib4"}, random_state=5
    )
    assert (out.context["male"] == 1).all()
    assert out.data.groupby("id")["test"].apply(lambda t: (t == "fib4").any()).all()
    given = patients.head(15).reset_index(drop=True)
    kept = model.sample(context=given, event_conditions={"test": "fib4"}, random_state=5)
    pd.testing.assert_frame_equal(kept.context, given[kept.context.columns])
    assert set(kept.data["id"]) == set(given["id"])
    assert kept.data.groupby("id")["test"].apply(lambda t: (t == "fib4").any()).all()


def test_event_conditions_change_which_entities_are_drawn(model) -> None:
    # Entities that have a fib4 test have events at all: no empty histories remain.
    plain = model.sample(n_entities=300, random_state=6)
    lengths = plain.data.groupby("id").size().reindex(plain.context["id"], fill_value=0)
    assert (lengths == 0).any()
    conditioned = model.sample(n_entities=60, event_conditions={"test": "fib4"}, random_state=6)
    assert conditioned.data["id"].nunique() == 60


def test_bad_event_conditions(model, monkeypatch) -> None:
    with pytest.raises(ConditionError, match=r"Unknown event condition column 'age'.*conditions="):
        model.sample(5, event_conditions={"age": 50})
    with pytest.raises(ConditionError, match="sequence key or index"):
        model.sample(5, event_conditions={"days": (0, 10)})
    with pytest.raises(ConditionError, match="never takes the value 'ast'"):
        model.sample(5, event_conditions={"test": "ast"})
    with pytest.raises(ConditionError, match="must be a dict"):
        model.sample(5, event_conditions=["test"])
    # With one round of drawing, a test few patients have cannot reach 50 entities:
    # the message states the acceptance rate seen.
    monkeypatch.setattr(event_conditions, "_MAX_EVENT_ROUNDS", 1)
    with pytest.raises(ConditionError, match=r"Only \d+ of 50 .*acceptance rate \d+\.\d+%"):
        model.sample(50, event_conditions={"test": "fib4"}, random_state=0)
