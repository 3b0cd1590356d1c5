"""Differentially private training of the table 'ar' model, and value protection."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional

import synthkit
from synthkit.errors import ParameterError
from synthkit.generators.ar_network import ColumnHeads, per_example_sq_norms, training_visibility
from synthkit.privacy import NarrowRangeWarning, epsilon_spent, noise_for_epsilon, protected_range

pytest.importorskip("opacus")

FAST = {"epochs": 2, "batch_size": 64, "hidden_dim": 16, "verbose": False, "device": "cpu"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """600 rows with a singleton category and outliers in a float column."""
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame(
        {
            "amount": np.round(rng.normal(100.0, 15.0, n), 2),
            "age": rng.integers(20, 70, n),
            "color": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
            "flag": rng.random(n) < 0.3,
        }
    )
    df.loc[0, "amount"] = 98765.43  # an outlier: its exact value must never be kept
    df.loc[1, "amount"] = -5432.1
    df.loc[2, "color"] = "violet"  # seen once
    return df


def _dp(frame: pd.DataFrame, **params: object) -> synthkit.Synthesizer:
    return synthkit.Synthesizer("ar", **{**FAST, "random_state": 0, **params}).fit(frame)


def test_per_example_norms_match_one_row_backward_passes() -> None:
    torch.manual_seed(0)
    sizes = [3, 5, 4, 2]
    net = ColumnHeads(sizes, hidden_dim=6)
    tokens = torch.stack([torch.randint(0, v, (5,)) for v in sizes], 1)
    visible = training_visibility(5, 4, torch.device("cpu"))
    record: dict[str, torch.Tensor] = {}
    logits = net(tokens, visible, record)
    per_row = functional.cross_entropy(logits.transpose(1, 2), tokens, reduction="none").sum(1)
    keys = ["first", "inner", "logits"]
    grads = torch.autograd.grad(per_row.sum(), [record[k] for k in keys])
    grads = dict(zip(keys, grads, strict=True))
    fast = per_example_sq_norms(record, grads, visible)
    for b in range(5):
        net.zero_grad()
        one = net(tokens[b : b + 1], visible[b : b + 1])
        functional.cross_entropy(one.transpose(1, 2), tokens[b : b + 1], reduction="sum").backward()
        exact = sum(float(p.grad.pow(2).sum()) for p in net.parameters())
        assert fast[b].item() == pytest.approx(exact, rel=1e-4)


def test_epsilon_spent_reaches_the_target_without_exceeding_it(frame: pd.DataFrame) -> None:
    model = _dp(frame, epsilon=2.0)
    assert 0.97 * 2.0 <= model.epsilon_spent_ <= 2.0
    assert model.delta_ == pytest.approx(1 / len(frame) ** 1.1)
    budget = model.privacy_budget_
    assert budget["unit"] == "row" and budget["steps"] == budget["steps_planned"]
    assert 0 < budget["epsilon_preprocessing"] < budget["epsilon_spent"]
    assert len(model.loss_history_) == FAST["epochs"]


def test_training_stops_before_a_small_budget_runs_out(frame: pd.DataFrame) -> None:
    model = _dp(frame, epsilon=0.5, noise_multiplier=0.6, epochs=20)
    budget = model.privacy_budget_
    assert model.epsilon_spent_ <= 0.5
    assert budget["steps"] < budget["steps_planned"]
    assert len(model.loss_history_) < 20


def test_smaller_epsilon_means_more_noise(frame: pd.DataFrame) -> None:
    noise = [_dp(frame, epsilon=e).privacy_budget_["noise_multiplier"] for e in (1.0, 8.0)]
    assert noise[0] > noise[1] > 0
    z = noise_for_epsilon(1.0, 1e-5, 0.01, 500)
    assert (
        epsilon_spent([(z, 0.01, 500)], 1e-5) <= 1.0 < epsilon_spent([(0.95 * z, 0.01, 500)], 1e-5)
    )


def test_dp_preprocessing_keeps_no_real_extreme_and_no_singleton(frame: pd.DataFrame) -> None:
    model = _dp(frame, epsilon=4.0)
    state = model.encoder_.to_state()
    text = str(state)
    for exact in (
        98765.43,
        -5432.1,
        frame["amount"].iloc[2:].max(),
        frame["amount"].iloc[2:].min(),
    ):
        assert repr(float(exact)) not in text
    assert "violet" not in text
    amount = model.encoder_.transforms_["amount"].info
    assert amount["min"] > -5432.1 and amount["max"] < 98765.43
    rows = model.sample(2000, random_state=0)
    assert "violet" not in set(rows["color"])
    assert not rows["amount"].isin([98765.43, -5432.1]).any()


def test_public_bounds_and_categories_are_used_as_given(frame: pd.DataFrame) -> None:
    model = _dp(
        frame,
        epsilon=4.0,
        bounds={"amount": (0.0, 200.0)},
        categories={"color": ["red", "green", "blue", "black"]},
    )
    info = model.encoder_.transforms_["amount"].info
    assert (info["min"], info["max"]) == (0.0, 200.0)
    assert model.encoder_.transforms_["color"].categories == ["red", "green", "blue", "black"]
    rows = model.sample(500, random_state=0)
    assert rows["amount"].between(0.0, 200.0).all()
    with pytest.raises(ParameterError, match="not a column"):
        _dp(frame, epsilon=4.0, bounds={"nope": (0, 1)})


def test_privacy_report_survives_save_and_load(frame: pd.DataFrame, tmp_path) -> None:
    model = _dp(frame, epsilon=3.0)
    loaded = synthkit.load_model(model.save(tmp_path / "dp.synthkit"))
    assert loaded.epsilon_spent_ == model.epsilon_spent_
    assert loaded.delta_ == model.delta_
    assert loaded.privacy_budget_ == model.privacy_budget_
    pd.testing.assert_frame_equal(
        loaded.sample(50, random_state=3), model.sample(50, random_state=3)
    )


def test_dp_model_samples_realistic_rows(frame: pd.DataFrame) -> None:
    model = _dp(frame, epsilon=8.0, epochs=4)
    rows = model.sample(400, random_state=0)
    assert list(rows.columns) == list(frame.columns)
    assert rows.dtypes.equals(frame.dtypes)
    assert set(rows["color"]) <= {"red", "green", "blue"}
    assert rows["age"].between(0, 200).all()
    assert abs(rows["amount"].median() - 100.0) < 30.0


@pytest.mark.parametrize("name", ["ctgan", "tvae", "flow"])
def test_other_models_refuse_epsilon(name: str) -> None:
    with pytest.raises(ParameterError, match="differentially private"):
        synthkit.Synthesizer(name, epsilon=1.0)


def test_dp_only_parameters_need_epsilon(frame: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="set epsilon"):
        _dp(frame, bounds={"amount": (0, 1)})
    with pytest.raises(ParameterError, match="epsilon"):
        _dp(frame, epsilon=0.0)


def test_protected_range_drops_outliers() -> None:
    low, high = protected_range(np.array([-1e6, *np.arange(1000.0), 1e6]))
    assert (low, high) == (3.0, 996.0)  # the 5th smallest and largest


def test_value_protection_hides_real_outliers_without_dp(frame: pd.DataFrame) -> None:
    model = _dp(frame, epochs=1)
    rows = model.sample(20_000, random_state=0)
    real = frame["amount"]
    assert not rows["amount"].isin([real.min(), real.max()]).any()
    assert rows["amount"].max() < 1000 and rows["amount"].min() > -1000
    assert repr(98765.43) not in str(model.encoder_.to_state())
    unprotected = _dp(frame, epochs=1, value_protection=False)
    assert unprotected.encoder_.transforms_["amount"].info["max"] == real.max()


def test_a_private_fit_takes_the_private_schedule_unless_told_otherwise(
    frame: pd.DataFrame, tmp_path
) -> None:
    quick = {"device": "cpu", "verbose": False, "random_state": 0}
    private = synthkit.Synthesizer("ar", epsilon=2.0, **quick).fit(frame)
    # A tenth of the 600 rows is under the floor of 64 rows a batch.
    assert private.schedule_ == {
        "epochs": 12,
        "batch_size": 64,
        "hidden_dim": 64,
        "learning_rate": 0.02,
    }
    budget = private.privacy_budget_
    assert budget["sample_rate"] == pytest.approx(64 / 600)
    assert budget["steps"] == 12 * round(600 / 64) and private.epsilon_spent_ <= 2.0
    assert private.network_.inputs.shape[1] == 64
    # The parameters stay as given: a clone of the model plans the same again.
    assert private.get_params()["epochs"] is None and private.get_params()["hidden_dim"] is None
    loaded = synthkit.load_model(private.save(tmp_path / "private.synthkit"))
    assert loaded.schedule_ == private.schedule_
    pd.testing.assert_frame_equal(
        loaded.sample(20, random_state=1), private.sample(20, random_state=1)
    )
    # Given values win, one by one.
    mixed = synthkit.Synthesizer("ar", epsilon=2.0, epochs=2, hidden_dim=16, **quick).fit(frame)
    assert mixed.schedule_ == {
        "epochs": 2,
        "batch_size": 64,
        "hidden_dim": 16,
        "learning_rate": 0.02,
    }
    assert len(mixed.loss_history_) == 2


def test_a_large_private_fit_batches_a_tenth_of_its_rows() -> None:
    model = synthkit.Synthesizer("ar", epsilon=1.0, device="cpu", verbose=False, random_state=0)
    assert model._schedule(32_561)["batch_size"] == 3_256
    assert model.set_params(batch_size=1_000)._schedule(32_561)["batch_size"] == 1_000


def test_an_ordinary_fit_batches_a_32nd_of_its_rows_up_to_512() -> None:
    model = synthkit.Synthesizer("ar", device="cpu", verbose=False)
    sizes = [model._schedule(n)["batch_size"] for n in (200, 2_000, 10_000, 32_561, None)]
    assert sizes == [32, 62, 312, 512, 512]
    assert model.set_params(batch_size=1_000)._schedule(2_000)["batch_size"] == 1_000


def test_an_ordinary_fit_keeps_the_ordinary_schedule(frame: pd.DataFrame) -> None:
    model = synthkit.Synthesizer("ar", epochs=1, device="cpu", verbose=False).fit(frame)
    assert model.schedule_ == {
        "epochs": 1,
        "batch_size": 32,  # 600 rows: the smallest batch, about 19 steps an epoch
        "hidden_dim": 128,
        "learning_rate": 0.002,
    }
    assert model.network_.inputs.shape[1] == 128 and model.privacy_budget_ is None


@pytest.mark.slow
def test_private_adult_keeps_the_real_ranges_without_an_exact_extreme() -> None:
    """All of Adult at epsilon 1 with the private defaults (one epoch, for time)."""
    from synthkit.datasets import load_adult

    train = load_adult("train")
    model = synthkit.Synthesizer(
        "ar", epsilon=1.0, delta=1e-5, epochs=1, device="cpu", verbose=False, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", NarrowRangeWarning)  # 32,561 rows: no narrow range
        model.fit(train)
    assert model.epsilon_spent_ <= 1.0 and model.schedule_["batch_size"] == 3_256
    stored = set(re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", str(model.encoder_.to_state())))
    for column in ("fnlwgt", "capital_gain", "capital_loss"):
        for exact in (train[column].max(), train[column][train[column] > 0].min()):
            assert repr(float(exact)) not in stored
    rows = model.sample(len(train), random_state=0)
    # fnlwgt's dozen rows above 1,000,000 (max 1,484,705) sit under the noise; its tail
    # is continued past the grid edge instead of stopping at 500,000 or 1,000,000.
    assert 1_050_000 < rows["fnlwgt"].max() < 2_000_000
    for level, tolerance in ((0.5, 0.05), (0.9, 0.1), (0.99, 0.15)):
        real = train["fnlwgt"].quantile(level)
        assert abs(rows["fnlwgt"].quantile(level) / real - 1) < tolerance
    assert rows["hours_per_week"].max() <= 99 and rows["age"].max() <= 99
    assert rows["education_num"].between(1, 17).all()
    # 1,519 non-zero capital losses, none above 4,356: bins above the noise keep them.
    losses = rows["capital_loss"][rows["capital_loss"] > 0]
    assert 0.5 < len(losses) / (train["capital_loss"] > 0).sum() < 2.0
    assert losses.quantile(0.5) == pytest.approx(1887, rel=0.15)
