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
    one_distinct_per_entity,
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
    # No rate read off the real values outside the budget: no exact repeats, no recall.
    assert private_model.layout_["repeat_shares"] == {}
    assert private_model.layout_["recall"] is None
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


def test_category_histograms_read_one_of_each_entitys_distinct_values(cohort) -> None:
    _, labs = cohort
    labs = labs.sort_values(["id", "days"], kind="stable").reset_index(drop=True)
    lengths = labs.groupby("id", sort=False).size().to_numpy()
    rows = one_distinct_per_entity(labs["test"], lengths, seed=0)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    # One row per entity, of that entity.
    assert owner[rows].tolist() == list(range(len(lengths)))
    # Tests taken now and then beside routine ones (blood pressure, FIB-4) count
    # about once per patient over their distinct tests: well above the rows a random
    # event per patient would give them on average, so a noisy threshold keeps them,
    # while the routine tests keep most of theirs.
    seeds = range(4)
    picked = [one_distinct_per_entity(labs["test"], lengths, s) for s in seeds]
    drawn = labs["test"].iloc[np.concatenate(picked)].value_counts() / len(seeds)
    random = pd.crosstab(labs["id"], labs["test"], normalize="index").sum()
    rare = ["sbp", "dbp", "smoke", "fib4"]
    assert drawn[rare].sum() >= 1.5 * random[rare].sum(), (drawn, random)
    assert drawn[["hdl", "chol"]].min() >= 0.6 * random[["hdl", "chol"]].min()
    # Each of an entity's distinct values is equally likely, whatever its count.
    values = pd.Series(["a"] * 9 + ["b"])
    picked = [values[one_distinct_per_entity(values, np.array([10]), s)[0]] for s in range(400)]
    assert 0.4 < np.mean(np.array(picked) == "b") < 0.6
    # The encoder's frame takes its category columns so.
    frame = private_event_frame(labs[["test"]], lengths, 0, None, None, categorical=["test"])
    own = labs.groupby("id", sort=False)["test"].agg(set)
    assert all(t in tests for t, tests in zip(frame["test"], own, strict=True))


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


def test_the_length_release_bounds_histories_and_the_stop_head_follows_it(private_model) -> None:
    shapes = private_model._event_shapes
    budget = private_model.privacy_budget_["events"]
    # The lengths and shapes are one release, composed with the histograms and the steps.
    assert budget["epsilon_marginals"] > 0
    assert budget["marginals_noise_multiplier"] == pytest.approx(shapes.noise_multiplier)
    # One histogram per column, the lengths', and one per (key, column) pair.
    columns = private_model.event_encoder_.learned_columns
    assert list(shapes.pairs) == [("test", "value")]
    assert shapes.histograms == len(columns) + 1 + len(shapes.pairs)
    assert private_model.layout_["max_length"] == shapes.max_length()
    # The stop head was calibrated: histories drawn afresh have the released mean
    # log length, within what 400 draws and the calibration's tolerance allow.
    target = shapes.log_length_mean()
    assert len(budget["stop_calibration"]) >= 1
    lengths = private_model.sample(400, random_state=5).data.groupby("id").size()
    drawn = np.log1p(np.r_[lengths.to_numpy(), np.zeros(400 - len(lengths))]).mean()
    assert abs(drawn - target) < 0.2, (drawn, target)


def test_the_column_heads_are_held_to_the_released_shares(private_model) -> None:
    encoder = private_model.event_encoder_
    released = private_model._event_shapes.shares["test"]
    categories = encoder.transforms_["test"].categories
    # The pooled token decodes to no category of its own: compare the kept ones.
    kept = np.array([isinstance(c, str) and not c.startswith("\x00") for c in categories])
    drawn = private_model.sample(400, random_state=6).data["test"]
    counts = drawn.value_counts().reindex(np.array(categories)[kept], fill_value=0).to_numpy(float)
    target = released[kept] / released[kept].sum()
    assert 0.5 * np.abs(counts / counts.sum() - target).sum() < 0.1
    # The calibration's rounds are recorded with the spending.
    assert len(private_model.privacy_budget_["events"]["shares_calibration"]) >= 1


def test_released_lengths_and_shares_are_near_the_truth() -> None:
    from synthkit.generators.sequential.private_shapes import release_event_shapes
    from synthkit.processing.discretizer import Discretizer

    rng = np.random.default_rng(0)
    lengths = np.array([0] * 2_000 + [4] * 18_000)
    kinds = rng.choice(["a", "b"], size=int(lengths.sum()), p=[0.7, 0.3])
    frame = pd.DataFrame({"kind": kinds, "x": rng.lognormal(3.0, 1.0, len(kinds))})
    encoder = Discretizer(n_bins=8).fit(frame)
    shapes = release_event_shapes(encoder, frame, lengths, 2.0, 1e-6, seed=0)
    assert shapes.max_length() in range(4, 8)  # no cell above 4 stands out
    assert shapes.stop_rate() == pytest.approx(0.25, abs=0.02)
    head = encoder.transforms_["kind"].codes(pd.Series(["a", "b"]))
    assert shapes.shares["kind"][head].tolist() == pytest.approx([0.7, 0.3], abs=0.02)
    # The rebuilt quantile function of x follows the real one.
    tokens = encoder.tokens_["x"]
    released = np.interp([0.25, 0.5, 0.75], tokens.levels, tokens.knots)
    real = np.quantile(frame["x"], [0.25, 0.5, 0.75])
    assert np.allclose(np.log(released), np.log(real), atol=0.25)


def test_each_entity_gives_the_column_histograms_at_most_its_cap_of_events() -> None:
    from synthkit.generators.sequential.private_shapes import EVENTS_PER_ENTITY, _picked

    lengths = np.array([3, 0, 40, 16, 17])
    codes = np.repeat(np.arange(len(lengths)), lengths)
    picked = _picked(codes, np.ones(len(codes), bool), np.random.default_rng(1), EVENTS_PER_ENTITY)
    per_entity = np.bincount(codes[picked], minlength=len(lengths))
    assert per_entity.tolist() == [3, 0, 16, 16, 16]
    assert len(np.unique(picked)) == len(picked)


def test_a_private_fit_starts_from_the_released_shares(private_model) -> None:
    from synthkit.generators.sequential.private import start_heads

    network = private_model.network_
    encoder = private_model.event_encoder_
    shapes = private_model._event_shapes
    fresh = type(network)(encoder.vocab_sizes, [], state_dim=8, hidden_dim=8)
    shares = [np.array([0.9, 0.1])] + [shapes.shares[c] for c in encoder.learned_columns]
    start_heads(fresh, shares)
    for head, share in enumerate(shares):
        width = len(share)
        assert width == fresh.sizes[head]
        drawn = torch.softmax(fresh.out_bias[head, 0, :width].detach(), 0).numpy()
        assert np.allclose(drawn, share, atol=1e-5)


PLANTED = {"key": -987_654_321, "value": 271.828, "length": 421, "test": "one-off-test"}


@pytest.fixture(scope="module")
def planted(cohort, tmp_path_factory):
    """A private model of labs with one patient holding every unique extreme."""
    patients, labs = cohort
    n = PLANTED["length"]
    outlier = pd.DataFrame(
        {
            "id": PLANTED["key"],
            "days": np.arange(n) * 3 - 9_999,
            "test": ["hdl"] * (n - 1) + [PLANTED["test"]],
            "value": [50.0] * (n - 1) + [PLANTED["value"]],
        }
    )
    row = patients.iloc[:1].assign(id=PLANTED["key"])
    events = pd.concat([labs, outlier], ignore_index=True)
    context = pd.concat([patients, row], ignore_index=True)
    model = synthkit.SequenceSynthesizer("ar", epsilon=4.0, **{**QUICK, "epochs": 1})
    model.fit(events, context=context, sequence_key="id", sequence_index="days")
    path = model.save(tmp_path_factory.mktemp("planted") / "labs.synthkit")
    return model, events, path


def _manifest_leaves(tree: object) -> list[object]:
    if isinstance(tree, dict):
        return [leaf for key, value in tree.items() for leaf in [key, *_manifest_leaves(value)]]
    if isinstance(tree, list):
        return [leaf for value in tree for leaf in _manifest_leaves(value)]
    return [tree]


def test_a_private_model_file_holds_no_exact_real_extreme(planted) -> None:
    import json
    import zipfile

    _, events, path = planted
    manifest = json.loads(zipfile.ZipFile(path).read("model.json"))
    leaves = _manifest_leaves(manifest["state"])
    numbers = {float(v) for v in leaves if isinstance(v, (int, float)) and not isinstance(v, bool)}
    # The planted values and the real ranges' ends that no public grid holds.
    real_extremes = {
        PLANTED["key"],
        PLANTED["value"],
        PLANTED["length"],
        float(events["days"].min()),
        float(events["days"].max()),
    }
    assert not numbers & real_extremes, sorted(numbers & real_extremes)
    text = " ".join(str(v) for v in leaves if isinstance(v, str))
    assert PLANTED["test"] not in text and str(PLANTED["key"]) not in text
    # Detection's reasons count rows and categories: none are kept.
    assert "reasons" not in manifest["state"]["encoders"]["sequence"]["event_metadata"]
    # No exact statistic of the training steps is recorded either.
    assert set(manifest["state"]["fitted"]["loss_history"]) <= {"epoch", "entities"}


def test_samples_of_a_private_model_hold_no_planted_extreme(planted) -> None:
    model, _, path = planted
    for fitted in (model, synthkit.load_model(path)):
        synthetic = fitted.sample(300, random_state=2)
        events = synthetic.data
        assert PLANTED["key"] not in set(events["id"]) | set(synthetic.context["id"])
        assert PLANTED["test"] not in set(events["test"].dropna())
        assert not np.isclose(events["value"], PLANTED["value"]).any()
        assert events.groupby("id").size().max() <= fitted.layout_["max_length"]
    # The one long history stands alone far above the rest: the released longest is
    # below it (an entity cannot move a noisy cell above the noise on its own).
    assert model.layout_["max_length"] < PLANTED["length"]


def test_the_spent_epsilon_composes_every_release(planted) -> None:
    from synthkit.privacy.accounting import epsilon_spent

    model, _, _ = planted
    events = model.privacy_budget_["events"]
    accounted = events["delta"] - events["delta_category_threshold"]
    mechanisms = [
        (events["preprocessing_noise_multiplier"], 1.0, 1),
        (events["marginals_noise_multiplier"], 1.0, 1),
        (events["noise_multiplier"], events["sample_rate"], events["steps"]),
    ]
    assert epsilon_spent(mechanisms, accounted) == pytest.approx(events["epsilon_spent"])
    assert events["epsilon_spent"] <= events["epsilon"] + 1e-9
    assert model.epsilon_spent_ <= 4.0 + 1e-9


def test_values_follow_their_key_through_the_released_two_way_histograms(tmp_path) -> None:
    # A lab-like column whose values depend on the test's kind: DP-SGD's noisy steps
    # alone left them near the pooled values (medians 5.6 and 181 for 5 and 199).
    rng = np.random.default_rng(0)
    n, k = 1_500, 8
    kind = rng.choice(["a", "b", "c"], size=n * k, p=[0.45, 0.45, 0.1])
    centre = pd.Series(kind).map({"a": 5.0, "b": 200.0, "c": 40.0}).to_numpy()
    events = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), k),
            "day": np.tile(np.arange(k), n),
            "kind": kind,
            "value": np.round(centre * rng.lognormal(0.0, 0.2, n * k), 1),
        }
    )
    model = synthkit.SequenceSynthesizer("ar", epsilon=4.0, **QUICK)
    model.fit(events, sequence_key="id", sequence_index="day")
    columns = list(model.event_encoder_.learned_columns)
    assert model.layout_["conditional"] == [(columns.index("kind"), columns.index("value"))]
    calibration = model.privacy_budget_["events"]["pairs_calibration"]
    assert calibration[-1] < calibration[0]
    drawn = model.sample(500, random_state=1).data
    real = events.groupby("kind")["value"].median()
    synthetic = drawn.groupby("kind")["value"].median()
    assert np.abs(np.log(synthetic / real)).max() < 0.05, (real, synthetic)
    # The logit tables are saved with the weights.
    loaded = synthkit.load_model(model.save(tmp_path / "paired.synthkit"))
    again = loaded.sample(500, random_state=1).data
    pd.testing.assert_frame_equal(again, drawn)


def test_the_two_way_histogram_takes_one_event_per_entity_and_key() -> None:
    from synthkit.generators.sequential.private_shapes import _one_per_key

    codes = np.repeat(np.arange(4), [5, 1, 0, 30])
    keys = np.r_[[0, 0, 1, 1, 2], [1], np.arange(30) % 20]
    rows, weights = _one_per_key(codes, keys, np.random.default_rng(3), cap=16)
    owners = codes[rows]
    assert np.bincount(owners).tolist() == [3, 1, 0, 16]  # distinct keys, capped
    assert np.allclose(np.bincount(owners, weights), [1.0, 1.0, 0.0, 1.0])
    pairs = set(zip(owners.tolist(), keys[rows].tolist(), strict=True))
    assert len(pairs) == len(rows)  # never two events of one entity and key


def test_the_two_way_histogram_reads_empty_cells_as_empty() -> None:
    from synthkit.generators.sequential.private_shapes import release_event_shapes
    from synthkit.processing.discretizer import Discretizer

    rng = np.random.default_rng(0)
    lengths = np.full(3_000, 6)
    kinds = np.tile(["low", "high"], 9_000)
    values = np.where(kinds == "low", rng.uniform(1, 10, 18_000), rng.uniform(100, 200, 18_000))
    frame = pd.DataFrame({"kind": kinds, "x": values})
    encoder = Discretizer(n_bins=16).fit(frame)
    shapes = release_event_shapes(encoder, frame, lengths, 1.0, 1e-6, seed=0)
    table = shapes.pairs[("kind", "x")]
    low = encoder.transforms_["kind"].codes(pd.Series(["low"]))[0]
    tokens = encoder.tokens_["x"]
    centres = (np.arange(tokens.n_bins) + 0.5) / tokens.n_bins
    middle = tokens.quantiles.value(centres)
    # The low kind's row holds its patients' weight below 10 and nothing, not noise, above.
    assert table[low, middle < 10].sum() > 0.9 * table[low].sum()
    assert (table[low, middle > 100] == 0).all()
