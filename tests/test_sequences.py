"""Sequence models: entities with event histories, with and without context."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import synthkit
from synthkit.errors import (
    ConditionError,
    DataError,
    NotFittedError,
    ParameterError,
    UnknownNameError,
)
from synthkit.generators.sequential import SEQUENCE_GENERATORS, SequenceSynthesizer
from synthkit.generators.sequential.ar import _event_times, _tiles

DATA = Path(__file__).parent / "data"
FAST = {"epochs": 4, "batch_size": 32, "state_dim": 32, "hidden_dim": 32, "verbose": False}
CONTEXT_FAST = {"epochs": 2, "hidden_dim": 32}


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return pd.read_csv(DATA / "nafld1_sample.csv.gz")


@pytest.fixture(scope="module")
def labs() -> pd.DataFrame:
    return pd.read_csv(DATA / "nafld2_sample.csv.gz")


@pytest.fixture(scope="module")
def model(labs: pd.DataFrame, patients: pd.DataFrame) -> SequenceSynthesizer:
    sequences = synthkit.SequenceDataset(labs, sequence_key="id", sequence_index="days")
    synthesizer = synthkit.SequenceSynthesizer(
        "ar", random_state=0, context_params=CONTEXT_FAST, **FAST
    )
    return synthesizer.fit(sequences, context=patients)


@pytest.fixture(scope="module")
def synthetic(model: SequenceSynthesizer):
    return model.sample(n_entities=400, random_state=1)


@pytest.fixture(scope="module")
def infections() -> pd.DataFrame:
    return pd.read_csv(DATA / "cgd.csv.gz")


def _lengths(data: pd.DataFrame, context: pd.DataFrame, key: str) -> pd.Series:
    return data.groupby(key).size().reindex(context[key], fill_value=0)


def test_registry_and_dispatch() -> None:
    assert SEQUENCE_GENERATORS.names() == ["ar"]
    model = synthkit.SequenceSynthesizer("ar", epochs=2)
    assert type(model).__name__ == "SequenceARSynthesizer" and model.epochs == 2
    with pytest.raises(UnknownNameError, match="Known: ar"):
        synthkit.SequenceSynthesizer("par")
    with pytest.raises(ParameterError, match="Name a sequence model"):
        synthkit.SequenceSynthesizer()


def test_output_columns_dtypes_and_new_keys(synthetic, labs, patients) -> None:
    events, context = synthetic.data, synthetic.context
    assert list(events.columns) == list(labs.columns)
    assert dict(events.dtypes) == dict(labs.dtypes)
    assert list(context.columns) == list(patients.columns)
    learned = [c for c in patients.columns if c not in ("id", "case.id")]
    assert dict(context[learned].dtypes) == dict(patients[learned].dtypes)
    assert len(context) == 400 and context["id"].is_unique
    assert context["id"].dtype == patients["id"].dtype
    assert set(events["id"]) <= set(context["id"])
    real_keys = set(labs["id"]) | set(patients["id"])
    assert not set(context["id"]) & real_keys
    assert set(events["test"]) <= set(labs["test"])


def test_index_never_decreases_and_ties_appear(synthetic, labs) -> None:
    events = synthetic.data
    assert events.groupby("id", sort=False)["days"].is_monotonic_increasing.all()
    real_ties = (labs.groupby("id")["days"].diff() == 0).mean()
    synthetic_ties = (events.groupby("id")["days"].diff() == 0).mean()
    assert real_ties > 0.3
    assert synthetic_ties > real_ties / 2


def test_length_distribution_and_entities_without_events(synthetic, labs, patients) -> None:
    real = _lengths(labs, patients, "id")
    drawn = _lengths(synthetic.data, synthetic.context, "id")
    assert (real == 0).mean() > 0.05
    assert 0.5 * real.mean() < drawn.mean() < 1.6 * real.mean()
    assert 0.02 < (drawn == 0).mean() < 0.4
    # Histories run well past one training window (max_window=64 by default here).
    assert drawn.max() > 64


def test_given_context_keeps_rows_and_values(model, patients) -> None:
    given = patients.sample(40, random_state=3).reset_index(drop=True)
    out = model.sample(context=given, random_state=2)
    pd.testing.assert_frame_equal(out.context, given[out.context.columns])
    assert set(out.data["id"]) <= set(given["id"])
    # Without the key column, rows get new keys in the same order.
    keyless = model.sample(context=given.drop(columns=["id"]), random_state=2)
    assert len(keyless.context) == 40
    assert not set(keyless.context["id"]) & set(patients["id"])


def test_conditions_are_met_exactly(model) -> None:
    out = model.sample(n_entities=60, conditions={"male": 1, "age": (40, 50)}, random_state=0)
    assert (out.context["male"] == 1).all()
    assert out.context["age"].between(40, 50).all()
    with pytest.raises(ConditionError, match=r"'smoker'.*context columns"):
        model.sample(n_entities=5, conditions={"smoker": 1})


def test_seeded_samples_repeat_and_save_load(model, tmp_path) -> None:
    first = model.sample(n_entities=50, random_state=7)
    second = model.sample(n_entities=50, random_state=7)
    pd.testing.assert_frame_equal(first.data, second.data)
    pd.testing.assert_frame_equal(first.context, second.context)
    path = model.save(tmp_path / "labs.synthkit")
    loaded = synthkit.load_model(path)
    assert type(loaded) is type(model)
    again = loaded.sample(n_entities=50, random_state=7)
    pd.testing.assert_frame_equal(first.data, again.data)
    pd.testing.assert_frame_equal(first.context, again.context)


def test_constant_within_entity_columns_stay_constant(infections) -> None:
    model = synthkit.SequenceSynthesizer("ar", random_state=0, context_params=CONTEXT_FAST, **FAST)
    model.fit(infections, sequence_key="id", sequence_index="tstart")
    constant = model.layout_["constant_columns"]
    assert {"center", "treat", "sex", "age", "random"} <= set(constant)
    assert "tstop" not in constant and "enum" not in constant
    out = model.sample(n_entities=80, random_state=0)
    events = out.data
    assert out.context is None
    assert list(events.columns) == list(infections.columns)
    assert events.groupby("id")[constant].nunique(dropna=False).max().max() == 1
    assert events["id"].nunique() == 80  # no context at fit: every entity has events
    assert events.groupby("id")["tstart"].is_monotonic_increasing.all()


def test_one_entity_keeps_one_new_name(infections) -> None:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(0)
    names = {key: fake.name() for key in infections["id"].unique()}
    events = infections.assign(patient_name=infections["id"].map(names))
    model = synthkit.SequenceSynthesizer("ar", random_state=0, context_params=CONTEXT_FAST, **FAST)
    model.fit(events, sequence_key="id", sequence_index="tstart")
    out = model.sample(n_entities=60, random_state=0).data
    assert out.groupby("id")["patient_name"].nunique(dropna=False).max() == 1
    assert out["patient_name"].nunique() > 40  # a name per entity, not one for all
    assert not out["patient_name"].isin(set(names.values())).any()


def test_refits_with_one_seed_are_identical(infections) -> None:
    def draw() -> pd.DataFrame:
        model = synthkit.SequenceSynthesizer(
            "ar", random_state=3, context_params=CONTEXT_FAST, **FAST
        )
        model.fit(infections, sequence_key="id", sequence_index="tstart")
        return model.sample(n_entities=20, random_state=1).data

    pd.testing.assert_frame_equal(draw(), draw())


def test_yyyymmdd_integer_dates_keep_their_form() -> None:
    purchases = pd.read_csv(DATA / "cdnow_transactions.csv.gz")
    purchases = purchases[purchases["customer_id"] <= 800]
    model = synthkit.SequenceSynthesizer("ar", random_state=0, max_window=16, **FAST)
    model.fit(purchases, sequence_key="customer_id", sequence_index="date")
    events = model.sample(n_entities=200, random_state=0).data
    assert dict(events.dtypes) == dict(purchases.dtypes)
    dates = pd.to_datetime(events["date"].astype(str), format="%Y%m%d")
    assert dates.notna().all()
    assert events.groupby("customer_id")["date"].is_monotonic_increasing.all()
    assert events["customer_id"].min() > purchases["customer_id"].max()
    real_mean = purchases.groupby("customer_id").size().mean()
    assert 0.5 * real_mean < events.groupby("customer_id").size().mean() < 2.5 * real_mean


def test_bad_input_is_named(labs, patients) -> None:
    model = synthkit.SequenceSynthesizer("ar", **FAST)
    with pytest.raises(NotFittedError, match="fit"):
        model.sample(n_entities=3)
    duplicated = pd.concat([patients, patients.head(2)])
    with pytest.raises(DataError, match="duplicate key"):
        model.fit(labs, duplicated, sequence_key="id", sequence_index="days")
    nulls = patients.astype({"id": float}).copy()
    nulls.loc[0, "id"] = np.nan
    with pytest.raises(DataError, match=r"missing value.*context row"):
        model.fit(labs, nulls, sequence_key="id", sequence_index="days")
    with pytest.raises(DataError, match="missing from the context"):
        model.fit(labs, patients.iloc[5:], sequence_key="id", sequence_index="days")
    with pytest.raises(DataError, match="no column 'id'"):
        model.fit(labs, patients.drop(columns=["id"]), sequence_key="id", sequence_index="days")
    with pytest.raises(DataError, match="sequence_key"):
        model.fit(labs)
    words = labs.assign(days=labs["days"].map(lambda d: f"day {d + 10_000:05d}"))
    with pytest.raises(DataError, match="index must be numbers or datetimes"):
        model.fit(words, sequence_key="id", sequence_index="days")


def test_bad_sample_arguments(model, patients) -> None:
    with pytest.raises(ParameterError, match="positive integer"):
        model.sample(n_entities=0)
    with pytest.raises(ParameterError, match="one history is drawn per context row"):
        model.sample(n_entities=3, context=patients.head(2))
    with pytest.raises(DataError, match="lack the column"):
        model.sample(context=patients[["id", "age"]])
    with pytest.raises(DataError, match="duplicate key"):
        model.sample(context=pd.concat([patients.head(2), patients.head(1)]))


def test_lengths_and_empty_histories_are_calibrated_past_the_window(labs, patients) -> None:
    # Windows of 8 positions on histories of 22 events on average: the stop flag
    # must be learned at every position, the last one of long histories included,
    # and "no events at all" from batches that mix empty and non-empty histories.
    model = synthkit.SequenceSynthesizer(
        "ar",
        random_state=0,
        context_params=CONTEXT_FAST,
        **{**FAST, "epochs": 20, "max_window": 8},
    )
    model.fit(synthkit.SequenceDataset(labs, "id", "days"), context=patients)
    given = pd.concat([patients] * 5, ignore_index=True).drop(columns=["id"])
    out = model.sample(context=given, random_state=1)
    real = _lengths(labs, patients, "id")
    drawn = _lengths(out.data, out.context, "id")
    assert abs(drawn.mean() / real.mean() - 1) < 0.15
    assert abs((drawn == 0).mean() - (real == 0).mean()) < 0.04


def test_window_tiles_cover_every_position_equally() -> None:
    torch.manual_seed(0)
    length = torch.full((20_000,), 30)
    start, end, n_tiles = _tiles(length, 8)
    assert bool((end - start <= 8).all()) and bool((end <= 31).all())
    position = torch.arange(31)
    covered = (position >= start[:, None]) & (position < end[:, None])
    # Weighted by the number of tiles, every position (the stop at 30 too) counts once.
    counts = (covered * n_tiles[:, None]).mean(dim=0)
    assert torch.allclose(counts, torch.ones(31), atol=0.06)
    short = _tiles(torch.tensor([0, 5, 7]), 8)
    assert short[0].tolist() == [0, 0, 0] and short[1].tolist() == [1, 6, 8]


def test_windows_inside_a_history_start_from_its_earlier_events(model) -> None:
    network = model.network_
    torch.manual_seed(0)
    tokens = torch.stack(
        [torch.randint(0, size, (40,)) for size in model.event_encoder_.vocab_sizes], dim=1
    )
    context = network.encode_context(
        torch.zeros((2, len(model.context_encoder_.vocab_sizes)), dtype=torch.long)
    )
    offsets, start = torch.tensor([0, 20]), torch.tensor([0, 13])
    # Each event's time inputs, from its time step as training computes them.
    steps = torch.rand(40, dtype=torch.float64) * 100
    times, elapsed = _event_times(steps, offsets, torch.tensor([20, 20]))
    with torch.no_grad():
        carried = model._carried_state(
            context, tokens, offsets, start, 4, len(tokens), (times, elapsed)
        )
        position = torch.arange(13)[None]
        previous = tokens[(20 + position - 1).clamp_min(0)]
        before = (20 + position - 1).clamp_min(0)
        clock = network.clock_tokens(times[before], elapsed[before], position)
        _, full = network.history(context[1:], previous, position, None, clock)
    assert torch.allclose(carried[0, 1], full[0, 0], atol=1e-5)
    assert torch.allclose(carried[0, 0], network.initial_state(context)[0, 0])


def test_rules_hold_within_events_and_entities(infections, tmp_path) -> None:
    sequences = synthkit.SequenceDataset(infections, "id", "tstart")
    kinds = {type(rule).__name__: rule for rule in sequences.metadata.rules}
    assert "Inequality" in kinds and "FixedCombinations" in kinds  # detected
    model = synthkit.SequenceSynthesizer("ar", random_state=0, context_params=CONTEXT_FAST, **FAST)
    model.fit(sequences)
    events = model.sample(n_entities=300, random_state=0).data
    # tstop > tstart reads the index, learned as start and gaps: kept relative to it.
    real_share = (infections["tstop"] > infections["tstart"]).mean()
    assert (events["tstop"] > events["tstart"]).mean() >= real_share - 0.01
    assert dict(events.dtypes) == dict(infections.dtypes)
    # center and hos.cat are constant within patients: the context model keeps the pairs.
    pairs = set(zip(infections["center"], infections["hos.cat"], strict=True))
    assert set(zip(events["center"], events["hos.cat"], strict=True)) <= pairs
    loaded = synthkit.load_model(model.save(tmp_path / "cgd.synthkit"))
    again = loaded.sample(n_entities=300, random_state=0).data
    pd.testing.assert_frame_equal(events, again)


def test_sampler_steps_match_the_training_network(model) -> None:
    # Sampling reads the weights laid out per head; it must compute what training fits.
    network = model.network_
    sampler = network.sampler(({}, {}))
    torch.manual_seed(0)
    sizes = model.event_encoder_.vocab_sizes
    n_context = len(model.context_encoder_.vocab_sizes)
    context = network.encode_context(torch.randint(0, 2, (6, n_context)))
    previous = torch.stack([torch.randint(0, size, (6,)) for size in sizes], dim=1)
    tokens = torch.cat([torch.zeros(6, 1, dtype=torch.long), previous.flip(0)], dim=1)
    with torch.no_grad():
        state = network.initial_state(context)
        # Position 60 lies past the positions the sampler embeds ahead (48 by default).
        for position in (0, 5, 60):
            where = torch.full((6, 1), position)
            _, expected = network.history(context, previous[:, None], where, state)
            stepped = sampler.step(previous, position, state[0])
            assert torch.allclose(stepped, expected[0], atol=1e-5)
        logits = network.heads_logits(stepped, context, tokens)
        projected = sampler.projected(stepped, sampler.context_part(context))
        for head, size in enumerate(network.sizes):
            fast = sampler.logits(head, projected, tokens, first=False)
            assert torch.allclose(fast, logits[:, head, :size], atol=1e-4)


def test_generated_times_stay_in_the_protected_index_range() -> None:
    # Long histories of random gaps: an undertrained model lets histories run on
    # past the last real times unless they end at the learned range.
    rng = np.random.default_rng(0)
    n, length = 80, 25
    days = rng.integers(0, 10, n)[:, None] + rng.integers(0, 12, (n, length)).cumsum(axis=1)
    events = pd.DataFrame(
        {
            "user": np.repeat(np.arange(n), length),
            "day": days.ravel(),
            "amount": rng.normal(size=n * length).round(2),
        }
    )
    model = SequenceSynthesizer("ar", random_state=0, **{**FAST, "epochs": 1})
    model.fit(events, sequence_key="user", sequence_index="day")
    low, high = model.layout_["index_range"]
    # Value protection's range: the fifth smallest and largest times, not the extremes.
    ordered = np.sort(events["day"].to_numpy())
    assert (low, high) == (ordered[4], ordered[-5])
    assert high < ordered[-1]
    out = model.sample(300, random_state=0).data
    assert out["day"].between(low, high).all()
    # Histories end where they pass the range; each still has its first event.
    assert out["user"].nunique() == 300
    assert out.groupby("user")["day"].is_monotonic_increasing.all()


def test_value_protection_hides_real_outliers_of_events_and_context(labs, patients) -> None:
    # One patient's lab value far above the rest: its exact value must never be
    # learned or drawn, in the events or in the entity table.
    labs = labs.copy()
    labs.loc[labs.index[0], "value"] = 98765.43
    sequences = synthkit.SequenceDataset(labs, sequence_key="id", sequence_index="days")
    model = synthkit.SequenceSynthesizer(
        "ar", random_state=0, context_params=CONTEXT_FAST, **{**FAST, "epochs": 1}
    ).fit(sequences, context=patients)
    drawn = model.sample(n_entities=400, random_state=0)
    m = max(model.rare_category_threshold, 5)
    ordered = np.sort(labs["value"].dropna().to_numpy())
    assert drawn.data["value"].max() <= ordered[-m] and drawn.data["value"].min() >= ordered[m - 1]
    assert repr(98765.43) not in str(model.event_encoder_.to_state())
    # The first event's time is clipped too: the model holds no real extreme of the index.
    assert repr(float(labs["days"].min())) not in str(model.event_encoder_.to_state())
    heaviest = np.sort(patients["weight"].dropna().to_numpy())
    assert repr(float(heaviest[-1])) not in str(model.context_encoder_.to_state())
    assert drawn.context["weight"].max() <= heaviest[-m]
    unprotected = synthkit.SequenceSynthesizer(
        "ar",
        random_state=0,
        value_protection=False,
        context_params=CONTEXT_FAST,
        **{**FAST, "epochs": 1},
    ).fit(sequences, context=patients)
    assert unprotected.event_encoder_.transforms_["value"].info["max"] == 98765.43


def test_default_schedule_follows_the_data_size_and_given_values_win(tmp_path) -> None:
    from synthkit.generators.sequential.ar import sequence_schedule

    # More events train fewer passes; small sets keep enough steps, and more entities
    # take more steps (about 6.4 per square root of the entities).
    small, large = sequence_schedule(3_000, 1_000), sequence_schedule(2_250_000, 50_000)
    assert small["epochs"] > large["epochs"] >= 1
    assert small["epochs"] * 1_000 // small["batch_size"] >= 250
    assert large["epochs"] * 50_000 // large["batch_size"] >= 6.4 * 50_000**0.5
    # Batches keep at least half a step's positions (4,096) before passes are added.
    assert large["batch_size"] * 46 >= 2_048
    rng = np.random.default_rng(1)
    events = pd.DataFrame(
        {"user": np.repeat(np.arange(40), 3), "day": np.tile([1, 2, 4], 40)}
    ).assign(amount=rng.normal(size=120))
    fast = {k: v for k, v in FAST.items() if k not in ("epochs", "batch_size")}
    picked = SequenceSynthesizer("ar", random_state=0, **fast)
    picked.fit(events, sequence_key="user", sequence_index="day", context=None)
    assert picked.epochs is None  # the parameter stays as given
    assert picked.schedule_ == sequence_schedule(120, 40, 4)
    assert len(picked.loss_history_) == picked.schedule_["epochs"]
    given = SequenceSynthesizer("ar", random_state=0, epochs=2, learning_rate=0.01, **fast)
    given.fit(events, sequence_key="user", sequence_index="day")
    assert given.schedule_["epochs"] == 2 and given.schedule_["learning_rate"] == 0.01
    assert given.schedule_["batch_size"] == sequence_schedule(120, 40, 4)["batch_size"]
    loaded = synthkit.load_model(given.save(tmp_path / "given.synthkit"))
    assert loaded.schedule_ == given.schedule_


def test_dropout_defaults_by_the_kind_of_fit(model) -> None:
    assert model.dropout is None and model.network_.dropout == 0.1
    ordinary = synthkit.SequenceSynthesizer("ar")
    assert ordinary.dropout is None and ordinary._dropout() == 0.1
    private = synthkit.SequenceSynthesizer("ar", epsilon=1.0)
    private._entity_budget = object()  # what a private fit sets before building its network
    assert private._dropout() == 0.0
    assert synthkit.SequenceSynthesizer("ar", dropout=0.3)._dropout() == 0.3
