"""DP one-way marginals of the table 'ar' model, and the noisy ranges and bins under DP."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import synthkit
from synthkit.datasets import load_adult, load_nafld_labs
from synthkit.errors import ParameterError
from synthkit.generators.ar_network import ColumnHeads
from synthkit.generators.autoregressive import _calibrate, _draw
from synthkit.privacy import epsilon_spent, noise_for_epsilon
from synthkit.privacy.marginals import _shares, noisy_marginals
from synthkit.privacy.plan import DPSGDPlan
from synthkit.privacy.preprocessing import (
    NarrowRangeWarning,
    _noisy_cells,
    _noisy_range,
    _noisy_tokens,
    _pooled_cells,
)

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
    # At epsilon 4 each integer of the range holds rows well above the noise.
    model = synthkit.Synthesizer("ar", **{**FAST, "epsilon": 4.0, "random_state": 0}).fit(skewed)
    points = model.encoder_.tokens_["years"].points
    assert np.array_equal(points, np.arange(points[0], points[-1] + 1))
    # One released count per integer, for the marginals to pool with theirs.
    assert len(model.encoder_.privacy_["token_counts"]["years"]) == len(points)
    assert set(model.encoder_.privacy_["token_counts"]) == {"years"}
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


def test_noisy_range_takes_in_narrower_neighbours_unless_clearly_empty() -> None:
    rng = np.random.default_rng(0)
    # 51 ones next to a busy [2, 5), like Adult's years of education.
    values = np.concatenate([np.ones(51), rng.integers(2, 17, 30_000)]).astype(float)
    low, high = _noisy_range(values, sigma=20.0, rng=rng)
    # [1, 2) is taken in; so may be the empty narrower cells below it (no integer
    # lies there, and the marginals keep them empty).
    assert high == 20.0 and 0.0 < low <= 1.0
    # A narrower neighbour whose noisy count is clearly below zero is left out.
    empty = rng.integers(2, 17, 30_000).astype(float)
    lows = [_noisy_range(empty, sigma=20.0, rng=np.random.default_rng(s))[0] for s in range(20)]
    assert sum(low == 2.0 for low in lows) >= 3


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


# Adult at epsilon 1 with the bench's shares: the preprocessing histograms' noise
# deviation (21 histograms at a quarter of epsilon) and the marginals' (15 columns).
ADULT_SIGMA = 67.0
MARGINAL_SIGMA = 70.0
# Integer columns pool the marginals' counts with their fine histogram's.
POOLED_SIGMA = ADULT_SIGMA * MARGINAL_SIGMA / (ADULT_SIGMA**2 + MARGINAL_SIGMA**2) ** 0.5


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return load_adult("train")


def test_a_thin_tail_is_continued_past_the_grid_edge_but_a_hard_end_is_not(adult) -> None:
    fnlwgt = adult["fnlwgt"].to_numpy(float)
    hours = adult["hours_per_week"].to_numpy(float)
    ends = []
    for seed in range(10):
        ends.append(_noisy_range(fnlwgt, sigma=ADULT_SIGMA, rng=np.random.default_rng(seed))[1])
        # 85 rows at 99 hours, none at 100 or above: [50, 100) ends the range.
        assert _noisy_range(hours, sigma=ADULT_SIGMA, rng=np.random.default_rng(seed))[1] == 100
    # 372 rows from 500,000 to 1,000,000, a dozen beyond (real maximum 1,484,705):
    # the range goes on past the grid edge, about as far as the real tail.
    assert sum(1_050_000 < end < 1_700_000 for end in ends) >= 8
    assert max(ends) < 2_000_000


def test_dp_knots_follow_the_real_quantiles_into_the_tail(adult) -> None:
    fnlwgt = adult["fnlwgt"].to_numpy(float)
    rng = np.random.default_rng(0)
    cells = _noisy_cells(fnlwgt, ADULT_SIGMA, rng)
    tokens, _, _ = _noisy_tokens(
        fnlwgt, cells.low, cells.high, True, 64, 128, ADULT_SIGMA, rng, cells
    )
    levels = np.array([0.1, 0.5, 0.9, 0.99, 0.999])
    drawn = tokens.quantiles.value(levels)
    real = np.quantile(fnlwgt, levels)
    # Spread half evenly over the range, the 90th percentile sat at 802,000 (real 329,054).
    assert np.all(np.abs(drawn / real - 1) < [0.1, 0.05, 0.05, 0.1, 0.2])
    assert tokens.n_bins >= 50


def test_bins_hold_rows_well_above_the_noise(adult) -> None:
    losses = adult["capital_loss"].to_numpy(float)
    rng = np.random.default_rng(0)
    cells = _noisy_cells(losses, ADULT_SIGMA, rng)
    tokens, _, _ = _noisy_tokens(
        losses, cells.low, cells.high, True, 64, 128, ADULT_SIGMA, rng, cells
    )
    # 1,519 non-zero losses: 64 bins would hold 24 rows each under a noise of 70.
    assert tokens.points.tolist() == [0.0]
    assert 1 <= tokens.n_bins <= 1519 // (8 * ADULT_SIGMA)


def test_integer_tokens_stop_below_the_open_end_of_a_noisy_range(adult) -> None:
    hours = adult["hours_per_week"].to_numpy(float)
    rng = np.random.default_rng(0)
    cells = _noisy_cells(hours, ADULT_SIGMA, rng)
    noisy, _, top = _noisy_tokens(hours, cells.low, 100.0, True, 64, 128, ADULT_SIGMA, rng, cells)
    assert top == 99.0 and noisy.points[-1] == 99.0  # [50, 100) holds no 100
    public, _, top = _noisy_tokens(hours, 1.0, 100.0, True, 64, 128, ADULT_SIGMA, rng)
    assert top == 100.0 and public.points[-1] == 100.0  # public bounds are closed


def _token_counts(values: pd.Series, low: int, high: int) -> torch.Tensor:
    return torch.tensor([(values == v).sum() for v in range(low, high + 1)], dtype=torch.float64)


def test_released_integer_tails_reach_the_real_ends_and_stop_at_hard_ones(adult) -> None:
    # Hours a week: thin ends (20 rows at 1; 208 rows from 81 to 99, 85 of them at 99)
    # under the noise; years of education: 51 rows at 1 below a steep rise, and a hard
    # end at 16 under a range to 19. sdmetrics bins each table on its own range, so a
    # column cut short or stretched moves every bin (50 hours or 10 years change bins).
    hours = _token_counts(adult["hours_per_week"], 1, 99)
    education = _token_counts(adult["education_num"], 1, 19)
    ends: dict[str, list[tuple[int, int]]] = {"hours": [], "education": []}
    for seed in range(40):
        generator = torch.Generator().manual_seed(seed)
        for name, counts in (("hours", hours), ("education", education)):
            noise = torch.randn(len(counts), generator=generator, dtype=torch.float64)
            share = _shares(counts + noise * POOLED_SIGMA, POOLED_SIGMA)
            ends[name].append((int(share.nonzero().min()) + 1, int(share.nonzero().max()) + 1))
    assert sum(low == 1 for low, _ in ends["education"]) >= 24  # 5 of 40 before
    assert sum(high == 16 for _, high in ends["education"]) >= 37
    assert sum(low == 1 for low, _ in ends["hours"]) >= 28  # 24 of 40 before
    assert sum(high >= 93 for _, high in ends["hours"]) >= 30


def test_integer_columns_pool_their_released_fine_histogram_with_the_marginals() -> None:
    torch.manual_seed(0)
    tokens = torch.tensor([[k] for k, n in enumerate([5000, 3000, 1500, 500]) for _ in range(n)])
    before = np.array([5000.0, 3000.0, 1500.0, 500.0])  # an earlier release, exact here
    spread = {}
    for weight, released in (("alone", None), ("pooled", [(before, 1.0)])):
        draws = [noisy_marginals(tokens, [4], 40.0, released=released)[0] for _ in range(200)]
        spread[weight] = float(torch.stack(draws).std(0).max())
    # A deviation of 40 rows alone; pooled with counts of deviation 1, nearly none.
    assert spread["pooled"] < spread["alone"] / 10
    # Released counts of another size (another encoding) are left out.
    torch.manual_seed(1)
    alone = noisy_marginals(tokens, [4], 40.0)[0]
    torch.manual_seed(1)
    mismatched = noisy_marginals(tokens, [4], 40.0, released=[(before[:2], 1.0)])[0]
    assert torch.equal(alone, mismatched)


def test_an_integer_alone_in_its_range_cell_pools_both_released_counts(adult) -> None:
    # Years of education: value 1 (51 rows) is alone in the range cell [1, 2). At
    # epsilon 4 (a deviation of 19 rows each) its fine count alone once fell under two
    # deviations of the pooled marginals and the low end was cut: the generated column
    # started at 2, and sdmetrics, binning each table on its own range, moved every bin
    # (14 pairs with years of education fell from 0.97 to 0.55 in the trend score).
    education = adult["education_num"].to_numpy(float)
    sigma = 19.0
    errors: dict[str, list[float]] = {"one": [], "wide": []}
    for seed in range(200):
        rng = np.random.default_rng(seed)
        cells = _noisy_cells(education, sigma, rng)
        released: dict[str, np.ndarray] = {}
        tokens, _, _ = _noisy_tokens(
            education, cells.low, cells.high, True, 64, 128, sigma, rng, cells, released
        )
        at = {float(v): k for k, v in enumerate(tokens.points)}
        if 1.0 not in at:  # the noisy range started at 2 (1 seed in 200)
            continue
        errors["one"].append(float(released["counts"][at[1.0]]) - 51.0)
        errors["wide"].append(float(released["counts"][at[3.0]]) - float((education == 3).sum()))
    spread = {name: float(np.sqrt(np.mean(np.square(e)))) / sigma for name, e in errors.items()}
    # Two releases of the same count: a deviation of 1 / sqrt(2); one alone would be 1.
    assert spread["one"] < 0.8
    # Value 3 shares [2, 5) with 2 and 4: its count gains less (sqrt(3 / 4)), but no bias.
    assert 0.8 < spread["wide"] < 0.95
    assert len(errors["one"]) > 190
    assert abs(float(np.mean(errors["one"]))) < 0.15 * sigma


@pytest.mark.parametrize(("public", "largest_mean_error"), [(True, 0.15), (False, 0.07)])
def test_small_noisy_columns_keep_their_quantiles(public: bool, largest_mean_error: float) -> None:
    # 1,500 patients under a noise of 63 rows per cell (a context table's share of
    # epsilon 4). With 256 fine cells every cell fell under the noise floor: inside
    # public bounds the rows were spread evenly (median weights near 140 kg), and in
    # noisy ranges the deciles of height were off by 14 % on average. Inside the
    # bounds the 1,075 weights get four cells of 55 kg: coarse, but centred.
    _, patients = load_nafld_labs()
    levels = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    errors = []
    for column, bounds in (("weight", (30.0, 250.0)), ("height", (120.0, 220.0))):
        values = patients[column].to_numpy(float)
        real = np.nanquantile(values, levels)
        for seed in range(3):
            rng = np.random.default_rng(seed)
            cells = None if public else _noisy_cells(values[~np.isnan(values)], 63.0, rng)
            low, high = bounds if cells is None else (cells.low, cells.high)
            tokens, _, _ = _noisy_tokens(values, low, high, False, 8, 8, 63.0, rng, cells)
            errors.append(np.abs(tokens.quantiles.value(levels) / real - 1))
    assert np.mean(errors) < largest_mean_error


def test_pooled_cells_follow_the_counts_above_the_noise() -> None:
    edges = np.linspace(0.0, 256.0, 257)
    rng = np.random.default_rng(0)
    counts = np.histogram(rng.normal(100.0, 10.0, 5000), bins=edges)[0]
    cells = _pooled_cells(edges, counts + rng.normal(0.0, 20.0, 256), 20.0)
    held = cells.counts > 0
    # The bulk (80 to 120) is cut finely, the empty ends are a few wide blocks.
    assert cells.edges[:-1][held].min() >= 60 and cells.edges[1:][held].max() <= 140
    assert np.diff(cells.edges)[held].min() <= 4
    assert len(cells.counts) < 40


def test_noise_cells_beyond_a_hard_end_are_dropped_even_in_a_row() -> None:
    # Adult's ages at epsilon 1 (one fit's pooled counts): ages 1 to 16 are empty, but
    # the noise put 2.1 deviations on age 9 and 2.3 on age 14. Tested from the outside
    # in, age 14 softened the end that age 9 was tested against, and 300 drawn rows fell
    # under 17, moving every bin sdmetrics puts on age.
    sigma = 48.6
    below = [22, 63, 12, -28, -67, -3, 8, 39, 101, -30, 5, -8, -20, 111, 73, 2]
    bulk = [322, 596, 665, 755, 716, 786, 802, 787, 745, 730, 820, 832, 799, 855]
    shares = _shares(torch.tensor(below + bulk, dtype=torch.float64), sigma)
    assert shares[: len(below)].tolist() == [0.0] * len(below)
    # A weak cell right past the bulk (one quiet cell between) is the bulk's own end.
    near = [0.0] * 13 + [120.0, 0.0]
    shares = _shares(torch.tensor(near + bulk, dtype=torch.float64), sigma)
    assert float(shares[13]) > 0


def test_a_wide_integer_column_under_heavy_noise_gets_quantile_bins() -> None:
    # 2,000 heights in public bounds of 120 to 220 cm: at epsilon 1 the noise is about
    # 40 rows per count, twice the rows of an average integer, and a token per integer
    # drew heights with twice the real spread.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"height": np.round(rng.normal(170.0, 10.0, 2_000)), "male": rng.integers(0, 2, 2_000)}
    )
    params = {**FAST, "epsilon": 1.0, "random_state": 0, "bounds": {"height": (120, 220)}}
    model = synthkit.Synthesizer("ar", **params).fit(frame)
    tokens = model.encoder_.tokens_["height"]
    assert len(tokens.points) == 0 and tokens.n_bins > 0
    drawn = model.sample(2_000, random_state=0)["height"]
    assert drawn.std() == pytest.approx(frame["height"].std(), rel=0.25)
    assert (drawn == drawn.round()).all()  # still whole centimetres


def test_a_rare_boolean_value_is_kept_whatever_its_noisy_count() -> None:
    # 40 deaths in 2,000 rows sit under the noisy threshold a category must pass at
    # epsilon 1 (about 70 rows); a boolean column's two values are known without
    # reading the data.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"dead": (rng.random(2_000) < 0.02).astype(int), "group": rng.choice(["a", "b"], 2_000)}
    )
    model = synthkit.Synthesizer("ar", **{**FAST, "epsilon": 1.0, "random_state": 0}).fit(frame)
    assert model.encoder_.transforms_["dead"].categories[:2] == [0, 1]
    drawn = model.sample(4_000, random_state=0)["dead"]
    assert 0.004 < drawn.mean() < 0.06
