"""Tests of the neural spline flow generator and its copula encoder, on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import synthkit
from synthkit.errors import DataError, NotFittedError, ParameterError
from synthkit.generators.flow import FlowSynthesizer
from synthkit.processing.discretizer import CopulaEncoder

DATA = Path(__file__).resolve().parent / "data"


def _tiny(**params) -> FlowSynthesizer:
    settings = {"epochs": 3, "device": "cpu", "verbose": False, "random_state": 0, **params}
    return FlowSynthesizer(**settings)


@pytest.fixture(scope="module")
def model(adult: pd.DataFrame) -> FlowSynthesizer:
    torch.set_num_threads(1)
    return _tiny(epochs=10, transforms=3, learning_rate=3e-3).fit(adult)


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    """ACTG 175 records (gaps in cd496) with a follow-up date derived from ``days``."""
    frame = pd.read_csv(DATA / "actg175.csv.gz")
    frame = frame[["pidnum", "age", "wtkg", "gender", "treat", "cd40", "cd496", "days", "arms"]]
    frame["end_date"] = pd.Timestamp("1991-01-01") + pd.to_timedelta(frame["days"], unit="D")
    frame.loc[frame.index % 17 == 0, "end_date"] = pd.NaT
    frame["arms"] = frame["arms"].map({0: "zdv", 1: "zdv+ddi", 2: "zdv+zal", 3: "ddi"})
    frame.loc[frame.index % 23 == 0, "arms"] = None
    return frame.head(1200)


# --------------------------------------------------------------------- encoder
def test_copula_encoder_round_trip_and_normal_scores(adult: pd.DataFrame) -> None:
    encoder = CopulaEncoder().fit(adult)
    z = encoder.encode(adult, random_state=0)
    assert z.shape == (len(adult), len(adult.columns))
    assert torch.allclose(z.mean(0), torch.zeros(z.shape[1]), atol=0.08)
    assert torch.allclose(z.std(0), torch.ones(z.shape[1]), atol=0.08)
    decoded = encoder.decode(z, random_state=0)
    assert list(decoded.dtypes) == list(adult.dtypes)
    exact = [c for c in adult.columns if c != "fnlwgt"]  # fnlwgt: interpolated quantiles
    pd.testing.assert_frame_equal(decoded[exact], adult[exact])
    assert (decoded["fnlwgt"] / adult["fnlwgt"] - 1).abs().median() < 0.01


# Each example fits an encoder; shrinking such examples takes minutes, so it is skipped.
@settings(max_examples=20, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(st.lists(st.integers(-(10**6), 10**6), min_size=30, max_size=80), st.integers(0, 2**31))
def test_copula_scores_decode_inside_the_data_range(values: list[int], seed: int) -> None:
    frame = pd.DataFrame({"x": np.asarray(values) / 10, "c": [v % 3 == 0 for v in values]})
    metadata = synthkit.Metadata.detect(frame).update_column("x", kind="numerical")
    if frame["x"].nunique() < 2:
        return
    encoder = CopulaEncoder().fit(frame, metadata)
    z = torch.randn(500, 2, generator=torch.Generator().manual_seed(seed)) * 3
    decoded = encoder.decode(z, random_state=seed)
    assert decoded["x"].between(frame["x"].min(), frame["x"].max()).all()
    assert decoded["c"].isin([True, False]).all()
    again = encoder.decode(encoder.encode(frame, random_state=seed), random_state=seed)
    assert again["c"].equals(frame["c"])


# ---------------------------------------------------------------- fit and sample
def test_fit_and_sample_adult_with_missing(model: FlowSynthesizer, adult: pd.DataFrame) -> None:
    synthetic = model.sample(3000, random_state=0)
    assert list(synthetic.columns) == list(adult.columns)
    assert list(synthetic.dtypes) == list(adult.dtypes)
    assert synthetic["occupation"].isna().any()
    for column in ("sex", "income", "relationship"):
        real = adult[column].value_counts(normalize=True)
        fake = synthetic[column].value_counts(normalize=True).reindex(real.index, fill_value=0)
        assert (real - fake).abs().max() < 0.05, column
    # Dependence is learned, not only marginals: sex follows relationship.
    husbands = synthetic["relationship"] == "Husband"
    assert (synthetic.loc[husbands, "sex"] == "Male").mean() > 0.8


def test_fit_and_sample_datetimes_and_gaps(trial: pd.DataFrame) -> None:
    model = _tiny().fit(trial)
    synthetic = model.sample(500, random_state=0)
    assert list(synthetic.dtypes) == list(trial.dtypes)
    assert synthetic["cd496"].isna().any() and synthetic["cd496"].notna().any()
    dates = synthetic["end_date"].dropna()
    assert dates.min() >= trial["end_date"].min() and dates.max() <= trial["end_date"].max()
    assert synthetic["pidnum"].is_unique
    rows = model.sample(50, conditions={"arms": "ddi", "age": (30, 40)}, random_state=1)
    assert (rows["arms"] == "ddi").all() and rows["age"].between(30, 40).all()


def test_single_column_tables_keep_their_spread(adult: pd.DataFrame) -> None:
    # One column gives element-wise splines instead of coupling layers.
    real = adult[["age"]]
    model = _tiny(epochs=2).fit(real)
    synthetic = model.sample(2000, random_state=1)
    assert synthetic["age"].std() > 0.5 * real["age"].std()
    assert synthetic["age"].between(real["age"].min(), real["age"].max()).all()
    assert np.isfinite(model.log_prob(real.head(50))).all()


def test_registry_name() -> None:
    assert isinstance(synthkit.Synthesizer("flow", epochs=1), FlowSynthesizer)


# ----------------------------------------------------------------------- log_prob
def test_log_prob_finite_and_higher_on_real_rows(model: FlowSynthesizer, real_and_shuffled) -> None:
    held_out, shuffled = real_and_shuffled
    real_scores, shuffled_scores = model.log_prob(held_out), model.log_prob(shuffled)
    assert real_scores.shape == (2000,) and np.isfinite(real_scores).all()
    assert np.isfinite(shuffled_scores).all()
    assert real_scores.mean() > shuffled_scores.mean() + 1.0
    assert (real_scores > shuffled_scores).mean() > 0.65


def test_log_prob_input_errors(model: FlowSynthesizer, adult: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="age"):
        model.log_prob(adult.drop(columns=["age"]))
    with pytest.raises(DataError):
        model.log_prob(adult.head(0))


# -------------------------------------------------- persistence, reproducibility
def test_save_load_gives_identical_samples(model: FlowSynthesizer, tmp_path: Path) -> None:
    loaded = synthkit.load_model(model.save(tmp_path / "flow.synthkit"))
    assert isinstance(loaded, FlowSynthesizer)
    pd.testing.assert_frame_equal(
        loaded.sample(500, random_state=4), model.sample(500, random_state=4)
    )
    np.testing.assert_allclose(
        loaded.log_prob(model.sample(50, random_state=1)),
        model.log_prob(model.sample(50, random_state=1)),
    )


def test_reproducible_with_random_state(adult: pd.DataFrame) -> None:
    small = adult.head(800)
    a = _tiny(epochs=1).fit(small).sample(300, random_state=7)
    b = _tiny(epochs=1).fit(small).sample(300, random_state=7)
    pd.testing.assert_frame_equal(a, b)


def test_bad_parameters(adult: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="bins"):
        _tiny(bins=0).fit(adult)
    with pytest.raises(NotFittedError):
        _tiny().sample(5)


@given(seed=st.integers(0, 2**31 - 1), bins=st.integers(1, 12))
@settings(max_examples=30, deadline=None)
def test_spline_matches_zukos_transform(seed: int, bins: int) -> None:
    from zuko.transforms import MonotonicRQSTransform

    from synthkit.generators.flow import _RationalQuadraticSpline

    # float64, so the comparison checks the formulas rather than float32 rounding.
    generator = torch.Generator().manual_seed(seed)
    widths, heights = (torch.randn(256, bins, generator=generator).double() * 4 for _ in "wh")
    derivatives = torch.randn(256, bins - 1, generator=generator).double() * 4
    x = torch.randn(256, generator=generator).double() * 4  # some lie outside the bound
    ours = _RationalQuadraticSpline(widths, heights, derivatives)
    zukos = MonotonicRQSTransform(widths, heights, derivatives)
    y, ladj = ours.call_and_ladj(x)
    expected_y, expected_ladj = zukos.call_and_ladj(x)
    torch.testing.assert_close(y, expected_y, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(ladj, expected_ladj, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(ours.inv(y), zukos.inv(y), rtol=1e-6, atol=1e-6)
