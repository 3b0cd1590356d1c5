"""Differentially private sequence models: the entity is the unit, the budget is kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import synthkit
from synthkit.errors import ParameterError
from synthkit.generators.sequential.private import (
    EntityBudget,
    EntityLoss,
    clipped_sum,
    entity_gradients,
    entity_inputs,
    gru_states,
    one_event_per_entity,
    private_event_frame,
)
from tests.conftest import DATA

pytest.importorskip("opacus")

QUICK = {"epochs": 2, "batch_size": 64, "verbose": False, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    """NAFLD patients and their lab tests (long format, many tests per day)."""
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz").drop(columns=["case.id"])
    labs = pd.read_csv(DATA / "nafld2_sample.csv.gz")
    return patients, labs


@pytest.fixture(scope="module")
def private_model(cohort):
    patients, labs = cohort
    model = synthkit.SequenceSynthesizer("ar", epsilon=4.0, **QUICK)
    return model.fit(labs, context=patients, sequence_key="id", sequence_index="days")


def test_the_spent_budget_never_exceeds_epsilon_and_names_the_entity(private_model) -> None:
    budget = private_model.privacy_budget_
    assert budget["unit"] == "entity" and budget["events"]["unit"] == "entity"
    assert 0.5 * 4.0 < private_model.epsilon_spent_ <= 4.0
    # Basic composition of the entity table's part and the events' part.
    parts = budget["entity_table"]["epsilon_spent"] + budget["events"]["epsilon_spent"]
    assert private_model.epsilon_spent_ == pytest.approx(parts)
    assert budget["entity_table"]["epsilon_spent"] <= budget["entity_table"]["epsilon"] + 1e-9
    assert budget["events"]["epsilon_spent"] <= budget["events"]["epsilon"] + 1e-9
    assert private_model.delta_ == pytest.approx(budget["delta"])


def test_private_histories_are_well_formed(private_model, cohort) -> None:
    _, labs = cohort
    synthetic = private_model.sample(40, random_state=1)
    events = synthetic.data
    assert events["days"].notna().all()
    assert events.groupby("id")["days"].apply(lambda d: d.is_monotonic_increasing).all()
    assert set(events["test"].dropna()) <= set(labs["test"])
    assert not set(synthetic.context["id"]) & set(labs["id"])


def test_no_exact_real_extreme_or_singleton_category_is_stored(private_model, cohort) -> None:
    _, labs = cohort
    encoder = private_model.event_encoder_
    info = encoder.transforms_["value"].info
    assert info["min"] != labs["value"].min() and info["max"] != labs["value"].max()
    # A lab test written once in the data never becomes a category.
    rare = labs.assign(test=np.where(labs.index == 0, "one-off-test", labs["test"]))
    patients, _ = cohort
    model = synthkit.SequenceSynthesizer("ar", epsilon=4.0, **{**QUICK, "epochs": 1})
    model.fit(rare, context=patients, sequence_key="id", sequence_index="days")
    assert "one-off-test" not in model.event_encoder_.transforms_["test"].categories


def test_the_privacy_report_survives_save_and_load(private_model, tmp_path) -> None:
    path = tmp_path / "labs.synthkit"
    private_model.save(path)
    loaded = synthkit.load_model(path)
    assert loaded.epsilon_spent_ == pytest.approx(private_model.epsilon_spent_)
    assert loaded.privacy_budget_["unit"] == "entity"
    pd.testing.assert_frame_equal(
        loaded.sample(10, random_state=3).data, private_model.sample(10, random_state=3).data
    )


def test_settings_a_private_fit_cannot_honour_are_refused(cohort) -> None:
    patients, labs = cohort
    keys = {"sequence_key": "id", "sequence_index": "days"}
    for params, message in (
        ({"context_model": "ctgan"}, "context_model='ctgan'"),
        ({"patience": 2}, "patience"),
        ({"dropout": 0.1}, "dropout"),
    ):
        model = synthkit.SequenceSynthesizer("ar", epsilon=1.0, **{**QUICK, **params})
        with pytest.raises(ParameterError, match=message):
            model.fit(labs, context=patients, **keys)


def test_each_entity_moves_each_histogram_by_at_most_one() -> None:
    lengths = np.array([3, 0, 1, 4])
    frame = pd.DataFrame(
        {
            "start": [5.0, np.nan, np.nan, 7.0, 1.0, np.nan, np.nan, np.nan],
            "gap": [np.nan, 1.0, 2.0, np.nan, np.nan, 3.0, 4.0, 5.0],
            "x": np.arange(8.0),
        }
    )
    rows = private_event_frame(frame, lengths, seed=0, first="start", later="gap")
    assert len(rows) == 3  # one row per entity with events
    assert rows["start"].tolist() == [5.0, 7.0, 1.0]  # each entity's first event
    assert rows["gap"].iloc[0] in (1.0, 2.0) and np.isnan(rows["gap"].iloc[1])
    assert rows["gap"].iloc[2] in (3.0, 4.0, 5.0)
    picks = one_event_per_entity(lengths, seed=4)
    assert [int(np.searchsorted(np.cumsum(lengths), p, side="right")) for p in picks] == [0, 2, 3]


def test_the_budget_split_and_the_default_delta() -> None:
    budget = EntityBudget(2.0, None, n_entities=1000, context_share=0.25, has_context=True)
    assert budget.context_epsilon + budget.events_epsilon == pytest.approx(2.0)
    assert budget.context_delta + budget.events_delta == pytest.approx(1000**-1.1)
    alone = EntityBudget(2.0, 1e-6, n_entities=1000, context_share=0.25, has_context=False)
    assert alone.events_epsilon == 2.0 and alone.events_delta == 1e-6


def test_an_entity_gradient_depends_on_that_entity_alone(private_model, cohort) -> None:
    patients, labs = cohort
    model = private_model
    frame = labs.sort_values(["id", "days"], kind="stable")
    entity_keys = patients["id"]
    codes = pd.Index(entity_keys).get_indexer(frame["id"])
    order = np.argsort(codes, kind="stable")
    lengths = torch.as_tensor(np.bincount(codes, minlength=len(entity_keys)))
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)[:-1]])
    n_columns = len(model.event_encoder_.learned_columns)
    tokens = torch.randint(0, 2, (len(order), n_columns))  # any valid tokens will do
    context = torch.zeros(
        (len(entity_keys), len(model.context_encoder_.learned_columns)), dtype=torch.long
    )
    loss = EntityLoss(model.network_)
    gradients = entity_gradients(loss)
    params = {name: p.detach() for name, p in loss.named_parameters()}
    with_events = torch.nonzero(lengths > 0).squeeze(1)
    a, b, c = with_events[:3]

    def gradient_of_first(entities: torch.Tensor) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)  # the same tile of the first entity in both batches
        inputs = entity_inputs(model, tokens, offsets, lengths, context, entities)
        return {name: g[0] for name, g in gradients(params, *inputs).items()}

    with_b, with_c = gradient_of_first(torch.stack([a, b])), gradient_of_first(torch.stack([a, c]))
    for name in params:
        torch.testing.assert_close(with_b[name], with_c[name], msg=name)
    assert any(g.abs().sum() > 0 for g in with_b.values())


def test_the_entity_loss_computes_what_the_network_computes() -> None:
    from synthkit.generators.sequential.network import SequenceNetwork

    torch.manual_seed(0)
    net = SequenceNetwork([3, 5, 4], [2, 6], state_dim=8, hidden_dim=8)
    loss = EntityLoss(net)
    context = torch.tensor([[1, 4], [0, 2]])
    torch.testing.assert_close(
        torch.stack([loss.context_vector(row) for row in context]), net.encode_context(context)
    )
    previous = torch.randint(0, 3, (6, 3))
    positions = torch.arange(6)
    torch.testing.assert_close(
        loss.step_inputs(previous, positions), net.step_inputs(previous, positions)
    )
    state, vectors = torch.randn(6, 8), torch.randn(6, 8)
    tokens = torch.cat([torch.randint(0, 2, (6, 1)), previous], dim=1)
    torch.testing.assert_close(
        loss.logits(state, vectors, tokens), net.heads_logits(state, vectors, tokens)
    )
    # One step of the GRU equations is the network's GRU.
    expected, _ = net.history(net.encode_context(context[:1]), previous[None], positions[None])
    initial = torch.tanh(net.initial(loss.context_vector(context[0])))
    torch.testing.assert_close(
        gru_states(net.gru, net.step_inputs(previous, positions), initial), expected[0]
    )


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(-100, 100, allow_nan=False), min_size=6, max_size=6),
    st.floats(0.01, 10),
)
def test_every_entity_adds_at_most_the_clip_norm(values: list[float], clip: float) -> None:
    gradients = [torch.tensor(values[:4]).reshape(2, 2), torch.tensor(values[4:]).reshape(2, 1)]
    summed, factor = clipped_sum(gradients, clip)
    for entity in range(2):
        contribution = torch.cat([(g[entity] * factor[entity]).reshape(-1) for g in gradients])
        assert float(contribution.norm()) <= clip * (1 + 1e-5)
    total = torch.cat([s.reshape(-1) for s in summed])
    assert float(total.norm()) <= 2 * clip * (1 + 1e-5)


PUBLIC = {
    "bounds": {"value": (0, 300), "days": (-7305, 7305), "age": (18, 100)},
    "categories": {"test": ["hdl", "chol", "sbp", "dbp", "smoke", "fib4", "alt"]},
}


@pytest.fixture(scope="module")
def public_model(cohort):
    patients, labs = cohort
    model = synthkit.SequenceSynthesizer("ar", epsilon=4.0, **{**QUICK, "epochs": 1}, **PUBLIC)
    return model.fit(labs, context=patients, sequence_key="id", sequence_index="days")


def test_public_domains_are_used_as_given_and_routed_where_they_apply(public_model) -> None:
    encoder = public_model.event_encoder_
    # A declared category the data never shows is kept: the list is public.
    assert encoder.transforms_["test"].categories == PUBLIC["categories"]["test"]
    assert (encoder.transforms_["value"].info["min"], encoder.transforms_["value"].info["max"]) == (
        0.0,
        300.0,
    )
    # The index's bounds become its first time's range and its gaps' range.
    start = encoder.transforms_["__sequence_start__"].info
    gap = encoder.transforms_["__sequence_gap__"].info
    assert (start["min"], start["max"]) == (-7305.0, 7305.0)
    assert (gap["min"], gap["max"]) == (0.0, 2 * 7305.0)
    # Entity-table bounds go to the context model, which trains under its own share.
    assert public_model.context_model_.bounds == {"age": (18, 100)}
    assert public_model.epsilon_spent_ <= 4.0


def test_bad_public_domains_are_refused(cohort) -> None:
    patients, labs = cohort
    keys = {"sequence_key": "id", "sequence_index": "days"}
    unknown = synthkit.SequenceSynthesizer("ar", epsilon=1.0, bounds={"ldl": (0, 9)}, **QUICK)
    with pytest.raises(ParameterError, match="'ldl' is not a column"):
        unknown.fit(labs, context=patients, **keys)
    backwards = synthkit.SequenceSynthesizer("ar", epsilon=1.0, bounds={"days": (5, 1)}, **QUICK)
    with pytest.raises(ParameterError, match="not a range"):
        backwards.fit(labs, context=patients, **keys)
    plain = synthkit.SequenceSynthesizer("ar", bounds={"value": (0, 300)}, **QUICK)
    with pytest.raises(ParameterError, match="set epsilon"):
        plain.fit(labs, context=patients, **keys)


def test_the_stop_rate_release_is_accounted_and_near_the_truth() -> None:
    from synthkit.generators.sequential.private import noisy_stop_rate

    torch.manual_seed(0)
    lengths = torch.tensor([0] * 1_000 + [4] * 9_000)
    # 9,000 histories of 4 events: one stop in every 4 later positions.
    assert noisy_stop_rate(lengths, noise_multiplier=2.0) == pytest.approx(0.25, abs=0.01)
    # Heavy noise still gives a rate, clipped to a usable range.
    assert 1 / 64 <= noisy_stop_rate(lengths[:20], noise_multiplier=1e4) <= 0.5


def test_a_private_fit_starts_from_the_released_shares(private_model) -> None:
    budget = private_model.privacy_budget_["events"]
    # The stop-rate release is composed with the histograms and the steps.
    assert budget["epsilon_marginals"] > 0
    assert budget["epsilon_spent"] <= budget["epsilon"] + 1e-9
    from synthkit.generators.sequential.private import start_from_encoder

    network = private_model.network_
    encoder = private_model.event_encoder_
    fresh = type(network)(encoder.vocab_sizes, [], state_dim=8, hidden_dim=8)
    start_from_encoder(fresh, encoder, stop_rate=0.1)
    head = 1 + encoder.learned_columns.index("test")
    counts = np.asarray(encoder.transforms_["test"].counts, float)
    width = len(counts)
    expected = np.log(np.maximum(counts, 1) / np.maximum(counts, 1).max())
    assert np.allclose(fresh.out_bias[head, 0, :width].detach().numpy(), expected, atol=1e-5)
    stop = fresh.out_bias[0, 0, :2].detach()
    assert float(torch.softmax(stop, 0)[1]) == pytest.approx(0.1, abs=1e-6)
