"""Sequence sampling with given lengths: histories of exactly the asked number of events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import synthkit
from synthkit.errors import ParameterError
from synthkit.generators.sequential import SequenceSynthesizer
from synthkit.generators.sequential.network import SequenceNetwork

DATA = Path(__file__).parent / "data"
# Small networks and few epochs: these tests check what sampling guarantees, not quality.
SMALL = {"epochs": 3, "batch_size": 32, "state_dim": 32, "hidden_dim": 32, "verbose": False}
SMALL_CONTEXT = {"context_params": {"epochs": 2, "hidden_dim": 32}}


def cdnow_sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    """CDNOW purchases of the test sample, and each customer's cohort as context."""
    events = pd.read_csv(DATA / "cdnow_sample.csv.gz")
    events["date"] = pd.to_datetime(events["date"].astype(str), format="%Y%m%d")
    first = events.groupby("customer_id")["date"].min()
    context = pd.DataFrame(
        {"customer_id": first.index, "cohort": first.dt.strftime("%Y-%m").to_numpy()}
    )
    return events, context


@pytest.fixture(scope="module")
def cdnow() -> tuple[pd.DataFrame, pd.DataFrame]:
    return cdnow_sample()


@pytest.fixture(scope="module")
def model(cdnow) -> SequenceSynthesizer:
    events, context = cdnow
    return synthkit.SequenceSynthesizer("ar", random_state=0, **SMALL_CONTEXT, **SMALL).fit(
        events, context, sequence_key="customer_id", sequence_index="date"
    )


@pytest.fixture(scope="module")
def labs_model() -> tuple[SequenceSynthesizer, pd.DataFrame, pd.DataFrame]:
    labs = pd.read_csv(DATA / "nafld2_sample.csv.gz")
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz")
    model = synthkit.SequenceSynthesizer("ar", random_state=0, **SMALL_CONTEXT, **SMALL)
    return model.fit(synthkit.SequenceDataset(labs, "id", "days"), context=patients), labs, patients


def _counts(out, key: str) -> np.ndarray:
    return out.data.groupby(key).size().reindex(out.context[key], fill_value=0).to_numpy()


def test_lengths_are_exact_with_drawn_contexts(model) -> None:
    # Beyond the longest real history too, and zeros: entities without events.
    longest = model.layout_["max_length"]
    wanted = np.array([0, 1, 2, 7, longest + 5, 0, 3, 1] * 25)
    out = model.sample(n_entities=len(wanted), lengths=wanted, random_state=1)
    assert len(out.context) == len(wanted)
    np.testing.assert_array_equal(_counts(out, "customer_id"), wanted)
    dates = out.data.groupby("customer_id", sort=False)["date"]
    assert dates.apply(lambda d: d.is_monotonic_increasing).all()
    assert out.data["date"].max() <= pd.Timestamp("1998-12-31")
    # n_entities may be left out: lengths say how many.
    alone = model.sample(lengths=[2, 0, 4], random_state=1)
    np.testing.assert_array_equal(_counts(alone, "customer_id"), [2, 0, 4])


def test_lengths_are_exact_with_given_context(model, cdnow) -> None:
    context = cdnow[1].head(40).reset_index(drop=True)
    wanted = pd.Series(np.arange(40) % 6, index=np.arange(100, 140))  # aligned by position
    out = model.sample(context=context, lengths=wanted, random_state=2)
    pd.testing.assert_frame_equal(out.context, context)
    np.testing.assert_array_equal(_counts(out, "customer_id"), wanted.to_numpy())
    # Entities keep the context rows' order.
    with_events = context["customer_id"][wanted.to_numpy() > 0]
    assert list(pd.unique(out.data["customer_id"])) == list(with_events)


def test_zero_lengths_give_entities_without_events(model, cdnow) -> None:
    context = cdnow[1].head(10)
    out = model.sample(context=context, lengths=np.zeros(10, dtype=int), random_state=0)
    assert len(out.data) == 0
    assert list(out.data.columns) == list(cdnow[0].columns)
    assert len(out.context) == 10


def test_lengths_are_reproducible(model, tmp_path) -> None:
    wanted = np.array([3, 0, 1, 5, 2] * 10)
    first = model.sample(n_entities=50, lengths=wanted, random_state=7)
    again = model.sample(n_entities=50, lengths=wanted, random_state=7)
    pd.testing.assert_frame_equal(first.data, again.data)
    pd.testing.assert_frame_equal(first.context, again.context)
    loaded = synthkit.load_model(model.save(tmp_path / "cdnow.synthkit"))
    pd.testing.assert_frame_equal(
        loaded.sample(n_entities=50, lengths=wanted, random_state=7).data, first.data
    )
    other = model.sample(n_entities=50, lengths=wanted, random_state=8)
    assert not other.data.equals(first.data)


def test_lengths_with_seed_events_and_event_conditions(labs_model) -> None:
    model, labs, patients = labs_model
    given = patients[patients["id"].isin(labs["id"])].head(12).reset_index(drop=True)
    seeds = labs[labs["id"].isin(given["id"].head(6))].groupby("id").head(2)
    seeded = seeds.groupby("id").size().reindex(given["id"], fill_value=0).to_numpy()
    wanted = seeded + np.arange(12) % 4
    out = model.sample(context=given, seed_events=seeds, lengths=wanted, random_state=3)
    np.testing.assert_array_equal(_counts(out, "id"), wanted)
    # Lengths count the seed events: fewer is refused.
    with pytest.raises(ParameterError, match="seed event"):
        model.sample(context=given, seed_events=seeds, lengths=np.zeros(12, int))
    # Redrawn histories keep their lengths.
    counts = np.full(12, 6)
    met = model.sample(
        context=given, lengths=counts, event_conditions={"test": "hdl"}, random_state=4
    )
    np.testing.assert_array_equal(_counts(met, "id"), counts)
    assert met.data.groupby("id")["test"].apply(lambda t: (t == "hdl").any()).all()
    with pytest.raises(ParameterError, match="no events, so it cannot"):
        model.sample(context=given, lengths=np.arange(12), event_conditions={"test": "fib4"})
    with pytest.raises(ParameterError, match="context="):
        model.sample(5, lengths=[1] * 5, event_conditions={"test": "fib4"})


@pytest.mark.parametrize(
    ("lengths", "message"),
    [
        ([1, 2], "2 value.*3 entities"),
        ([1, 2, 3, 4], "4 value.*3 entities"),
        ([1, -1, 2], "non-negative"),
        ([1.5, 1, 2], "whole numbers"),
        ([1, np.nan, 2], "whole numbers"),
        ([True, False, True], "non-negative integers"),
        (["a", "b", "c"], "non-negative integers"),
        ([1, None, 2], "whole numbers"),
        ("abc", "one-dimensional"),
        (np.ones((3, 1), dtype=int), "one-dimensional"),
        (3, "one-dimensional"),
    ],
)
def test_bad_lengths(model, lengths, message) -> None:
    with pytest.raises(ParameterError, match=message):
        model.sample(3, lengths=lengths)


def test_bad_lengths_with_context(model, cdnow) -> None:
    with pytest.raises(ParameterError, match="5 context rows"):
        model.sample(context=cdnow[1].head(5), lengths=[1, 2])
    # Whole floats are counts.
    out = model.sample(context=cdnow[1].head(3), lengths=[1.0, 0.0, 2.0], random_state=0)
    np.testing.assert_array_equal(_counts(out, "customer_id"), [1, 0, 2])


def _paced_histories(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Histories whose last event falls on each entity's end day, 50 to 100."""
    rows = []
    for entity in range(n):
        count, end = int(rng.integers(2, 12)), float(rng.uniform(50, 100))
        days = np.sort(rng.uniform(0, end, count))
        days[-1] = end
        rows += [{"id": entity, "day": day, "v": rng.normal()} for day in days]
    return pd.DataFrame(rows)


def test_given_lengths_models_pace_histories_to_their_end() -> None:
    """Knowing how many events remain, a history ends where real ones do."""
    real = _paced_histories(400, np.random.default_rng(0))
    lengths = real.groupby("id").size().to_numpy()
    real_last = real.groupby("id")["day"].max()
    spread = {}
    for given in (False, True):
        model = synthkit.SequenceSynthesizer(
            "ar",
            random_state=0,
            epochs=20,
            state_dim=32,
            hidden_dim=32,
            verbose=False,
            given_lengths=given,
        ).fit(real, sequence_key="id", sequence_index="day")
        assert bool(model.layout_["counted"]) is given
        last = model.sample(lengths=lengths, random_state=1).data.groupby("id")["day"].max()
        spread[given] = last.std()
        if given:
            assert abs(last.mean() - real_last.mean()) < 5
    # Without the count the last day wanders far more than the real ones (sd 14.7).
    assert spread[True] < 0.8 * spread[False]
    with pytest.raises(ParameterError, match="lengths="):
        model.sample(n_entities=5)


def test_a_counted_network_trains_no_stop_flag() -> None:
    """Sampled with given lengths only, a counted network never draws its flag."""
    torch.manual_seed(0)
    states, context = torch.randn(6, 8), torch.randn(6, 8)
    current = torch.randint(0, 3, (6, 2))
    is_event = torch.tensor([True, True, False, True, False, True])
    plain = SequenceNetwork([3, 4], [2], state_dim=8, hidden_dim=8)
    losses = plain.position_losses(states, context, current, is_event)
    assert (losses[:, 0] > 0).all()  # "go on" at events, "stop" after the last
    counted = SequenceNetwork([3, 4], [2], state_dim=8, hidden_dim=8, counted=True)
    losses = counted.position_losses(states, context, current, is_event)
    assert (losses[:, 0] == 0).all() and (losses[~is_event] == 0).all()
    assert (losses[is_event, 1:] > 0).all()
