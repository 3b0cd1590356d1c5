"""DP one-way marginals of the table 'ar' model, and the noisy ranges and bins under DP."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import synthkit
from synthkit.errors import ParameterError
from synthkit.generators.ar_network import ColumnHeads
from synthkit.generators.autoregressive import _calibrate, _draw
from synthkit.privacy import epsilon_spent, noise_for_epsilon
from synthkit.privacy.marginals import noisy_marginals
from synthkit.privacy.plan import DPSGDPlan
from synthkit.privacy.preprocessing import NarrowRangeWarning, _noisy_range, _noisy_tokens

pytest.importorskip("opacus")

FAST = {"epochs": 2, "batch_size": 256, "hidden_dim": 16, "verbose": False, "device": "cpu"}


@pytest.fixture(scope="module")
def skewed() -> pd.DataFrame:
    """3,000 rows: a skewed category, an integer column and a heavy-tailed amount."""
    rng = np.random.default_rng(1)
    n = 3000
    return pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue"], n, p=[0.75, 0.2, 0.05]),
            "years": rng.integers(20, 60, n),
            "amount": np.round(rng.lognormal(8.0, 1.0, n), 2),
        }
    )


def test_noisy_marginals_are_shares_near_the_truth_and_empty_beyond_the_span() -> None:
    torch.manual_seed(0)
    # Column 1 has three empty top tokens: noise must not give them mass.
    tokens = torch.tensor([[0, 0]] * 7000 + [[1, 1]] * 3000)
    shares = noisy_marginals(tokens, [2, 5], noise_multiplier=10.0)
    for share in shares:
        assert float(share.sum()) == pytest.approx(1.0)
        assert bool((share >= 0).all())
    assert float(shares[0][0]) == pytest.approx(0.7, abs=0.01)
    assert shares[1][2:].tolist() == [0.0, 0.0, 0.0]


def test_calibration_makes_the_network_draw_the_target_shares() -> None:
    torch.manual_seed(0)
    network = ColumnHeads([3, 4], hidden_dim=8).eval()
    targets = [torch.tensor([0.6, 0.3, 0.1]), torch.tensor([0.05, 0.15, 0.3, 0.5])]
    with torch.no_grad():
        _calibrate(network, targets, rows=20_000)
        tokens = torch.zeros((20_000, 2), dtype=torch.long)
        known = torch.zeros((20_000, 2), dtype=torch.bool)
        for column in range(2):
            tokens[:, column] = _draw(network.head(column, tokens, known))
            known[:, column] = True
    for column, target in enumerate(targets):
        drawn = torch.bincount(tokens[:, column], minlength=len(target)).float() / 20_000
        assert torch.allclose(drawn, target, atol=0.015)


def test_the_plan_composes_histograms_marginals_and_training_within_epsilon() -> None:
    spent = {
        "delta": 1e-5,
        "delta_accounted": 9e-6,
        "preprocessing_noise_multiplier": 20.0,
        "histograms": 3,
        "delta_threshold": 1e-6,
    }
    marginal = noise_for_epsilon(0.2, 9e-6, 1.0, 1)
    plan = DPSGDPlan.make(
        1.0,
        spent,
        sample_rate=0.1,
        epochs=5,
        preprocessing_share=0.25,
        marginals_noise_multiplier=marginal,
    )
    report = plan.report()
    mechanisms = [(20.0, 1.0, 1), (marginal, 1.0, 1), (plan.noise_multiplier, 0.1, plan.steps_run)]
    assert plan.spent == pytest.approx(epsilon_spent(mechanisms, 9e-6))
    assert 0.97 <= plan.spent <= 1.0
    assert report["epsilon_marginals"] == pytest.approx(0.2, rel=0.01)
    without = DPSGDPlan.make(1.0, spent, sample_rate=0.1, epochs=5, preprocessing_share=0.25)
    assert "epsilon_marginals" not in without.report()
    assert without.noise_multiplier < plan.noise_multiplier  # the marginals cost training


def test_released_marginals_hold_the_sampled_shapes(skewed: pd.DataFrame) -> None:
    errors = {}
    for share in (0.2, 0.0):
        model = synthkit.Synthesizer(
            "ar", **{**FAST, "epsilon": 2.0, "marginals_share": share, "random_state": 0}
        ).fit(skewed)
        rows = model.sample(len(skewed), random_state=0)
        real = skewed["color"].value_counts(normalize=True)
        drawn = rows["color"].value_counts(normalize=True).reindex(real.index, fill_value=0.0)
        errors[share] = float((real - drawn).abs().sum())
        if share:
            budget = model.privacy_budget_
            assert budget["epsilon_spent"] <= 2.0
            assert 0 < budget["epsilon_marginals"] < budget["epsilon_spent"]
    assert errors[0.2] < 0.05
    assert errors[0.2] < errors[0.0]


def test_integer_columns_get_every_integer_of_the_noisy_range(skewed: pd.DataFrame) -> None:
    model = synthkit.Synthesizer("ar", **{**FAST, "epsilon": 1.0, "random_state": 0}).fit(skewed)
    points = model.encoder_.tokens_["years"].points
    assert np.array_equal(points, np.arange(points[0], points[-1] + 1))
    assert points[0] <= 20 and points[-1] >= 59
    rows = model.sample(3000, random_state=0)
    # No real year is moved to a neighbour: every one of them is drawn.
    assert set(range(20, 60)) <= set(rows["years"])


def test_values_beyond_the_range_do_not_draw_bins_to_its_end() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(0, 1000, 20_000), np.full(3000, 50_000.0)])
    tokens, low, high = _noisy_tokens(values, 0.0, 1000.0, False, 16, 128, 5.0, rng)
    # Clipped in, the 3,000 values above the range would pile up in the last cell.
    assert (low, high) == (0.0, 1000.0)
    assert np.diff(np.quantile(tokens.knots, [0.8, 1.0]))[0] > 100


def test_noisy_range_keeps_a_thin_tail_next_to_the_bulk_but_no_far_cell() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(100, 400, 30_000), rng.uniform(500, 900, 200)])
    values = np.append(values, 1e9)  # one far outlier
    # 200 rows stand below the busy floor (5 sigma) but above the neighbour floor.
    low, high = _noisy_range(values, sigma=50.0, rng=rng)
    assert low == 100.0 and high == 1000.0


def test_shares_leaving_nothing_for_training_are_refused(skewed: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="keep their sum below 1"):
        synthkit.Synthesizer(
            "ar", **{**FAST, "epsilon": 1.0, "preprocessing_share": 0.5, "marginals_share": 0.5}
        ).fit(skewed)


def test_a_tail_below_the_noise_is_continued_but_a_hard_end_is_not() -> None:
    torch.manual_seed(0)
    # Column 0 halves toward its top, far below the noise after a few cells; column 1
    # stops dead after ten busy tokens.
    decaying = [round(6000 * 0.5**k) for k in range(16)] + [0] * 4
    tokens = torch.tensor(
        [[k, min(k, 19)] for k, n in enumerate(decaying) for _ in range(n)]
        + [[0, k] for k in range(10) for _ in range(1000)]
    )
    shares = noisy_marginals(tokens, [20, 20], noise_multiplier=30.0)
    assert float(shares[0][9]) > 0  # about 12 rows, well under the noise (sigma ~42)
    assert float(shares[0][19]) == 0.0
    assert shares[1][10:].tolist() == [0.0] * 10


def test_noisy_range_takes_in_a_narrower_neighbour_with_a_positive_count() -> None:
    rng = np.random.default_rng(0)
    # 51 ones next to a busy [2, 5), like Adult's years of education.
    values = np.concatenate([np.ones(51), rng.integers(2, 17, 30_000)]).astype(float)
    low, high = _noisy_range(values, sigma=20.0, rng=rng)
    assert (low, high) == (1.0, 20.0)


def _small_table(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({f"c{i}": rng.choice(["a", "b", "c"], n) for i in range(6)})
    table["days"] = rng.integers(0, 3000, n)
    table["amount"] = np.round(rng.lognormal(7.0, 1.0, n), 2)
    return table


def test_a_small_fit_warns_that_its_noisy_range_is_too_narrow() -> None:
    params = {**FAST, "epsilon": 1.0, "random_state": 0}
    with pytest.warns(NarrowRangeWarning, match=r"'amount'.*bounds=\{'amount'"):
        synthkit.Synthesizer("ar", **params).fit(_small_table())


def test_public_bounds_silence_the_range_warning(skewed: pd.DataFrame) -> None:
    bounds = {"days": (0, 3000), "amount": (0.0, 50_000.0)}
    params = {**FAST, "epsilon": 1.0, "random_state": 0, "bounds": bounds}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        synthkit.Synthesizer("ar", **params).fit(_small_table())
    assert not [w for w in caught if "noisy range" in str(w.message)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", NarrowRangeWarning)  # enough rows: no warning
        synthkit.Synthesizer("ar", **{**FAST, "epsilon": 1.0, "random_state": 0}).fit(skewed)
