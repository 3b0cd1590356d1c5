"""Tests of the any-order autoregressive generator and its discretizer, on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import synthkit
from synthkit.errors import ConditionError, DataError, NotFittedError, ParameterError
from synthkit.generators.ar_network import ColumnHeads, training_visibility
from synthkit.generators.autoregressive import ARSynthesizer
from synthkit.processing.discretizer import Discretizer

DATA = Path(__file__).resolve().parent / "data"


def _tiny(**params) -> ARSynthesizer:
    settings = {"epochs": 3, "device": "cpu", "verbose": False, "random_state": 0, **params}
    return ARSynthesizer(**settings)


@pytest.fixture(scope="module")
def model(adult: pd.DataFrame) -> ARSynthesizer:
    torch.set_num_threads(1)
    # Every category kept: these tests condition on and impute rare categories
    # (pooling them by default has its own tests in test_rare_categories.py), and
    # every real range kept (value protection has its own tests in test_dp.py).
    return _tiny(epochs=8, rare_category_threshold=0, value_protection=False).fit(adult)


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    """ACTG 175 records (gaps in cd496) with a follow-up date derived from ``days``."""
    frame = pd.read_csv(DATA / "actg175.csv.gz").drop(columns=["Unnamed: 0"])
    frame = frame[["pidnum", "age", "wtkg", "gender", "treat", "cd40", "cd496", "days", "arms"]]
    frame["end_date"] = pd.Timestamp("1991-01-01") + pd.to_timedelta(frame["days"], unit="D")
    frame.loc[frame.index % 17 == 0, "end_date"] = pd.NaT
    frame["arms"] = frame["arms"].map({0: "zdv", 1: "zdv+ddi", 2: "zdv+zal", 3: "ddi"})
    frame.loc[frame.index % 23 == 0, "arms"] = None
    return frame.head(1200)


# ------------------------------------------------------------------ discretizer
def test_discretizer_round_trip_keeps_exact_values_and_dtypes(adult: pd.DataFrame) -> None:
    discretizer = Discretizer().fit(adult)
    decoded = discretizer.decode(discretizer.encode(adult, random_state=0), random_state=0)
    assert list(decoded.dtypes) == list(adult.dtypes)
    exact = [c for c in adult.columns if c not in ("fnlwgt",)]  # fnlwgt: quantile bins
    pd.testing.assert_frame_equal(decoded[exact], adult[exact])
    # Binned values come back inside their bin: close in rank, same marginal.
    assert abs(decoded["fnlwgt"].median() / adult["fnlwgt"].median() - 1) < 0.05


# Each example fits a discretizer; shrinking such examples takes minutes, so it is skipped.
@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(
    st.lists(st.integers(-(10**8), 10**8), min_size=40, max_size=60, unique=True),
    st.integers(0, 200),
    st.integers(0, 2**31),
)
def test_numeric_tokens_decode_inside_their_bin(values: list[int], spike: int, seed: int) -> None:
    # Distinct values plus a spike that gets an exact token of its own.
    cents = np.asarray(values) / 100  # two decimals, as amounts of money have
    x = np.concatenate([np.repeat(cents, 5), np.full(spike, cents[0])])
    frame = pd.DataFrame({"x": x})
    metadata = synthkit.Metadata.detect(frame).update_column("x", kind="numerical")
    discretizer = Discretizer(n_bins=8, max_points=4).fit(frame, metadata)
    tokens = discretizer.encode(frame, random_state=seed)
    decoded = discretizer.decode(tokens, random_state=seed)["x"].to_numpy()
    again = discretizer.encode(pd.DataFrame({"x": decoded}), random_state=seed)
    assert decoded.min() >= x.min() and decoded.max() <= x.max()
    points = discretizer.tokens_["x"].points
    token = tokens[:, 0].numpy()
    exact = token < len(points)
    np.testing.assert_array_equal(decoded[exact], points[token[exact]])
    # A value drawn in a bin lies in that bin (ties at bin edges may move one bin).
    binned = ~np.isin(decoded, points)
    assert (again[binned, 0] - tokens[binned, 0]).abs().max() <= 1


def test_discretizer_state_round_trip(trial: pd.DataFrame) -> None:
    discretizer = Discretizer().fit(trial)
    copy = Discretizer.from_state(discretizer.to_state())
    tokens = discretizer.encode(trial, random_state=1)
    assert torch.equal(copy.encode(trial, random_state=1), tokens)
    pd.testing.assert_frame_equal(
        copy.decode(tokens, random_state=2), discretizer.decode(tokens, random_state=2)
    )


# ----------------------------------------------------------------------- network
def test_heads_see_only_visible_columns() -> None:
    torch.manual_seed(0)
    net = ColumnHeads([4, 3, 5], hidden_dim=16).eval()
    tokens = torch.tensor([[1, 2, 3]])
    changed = torch.tensor([[1, 0, 4]])  # column 1 and 2 differ
    visible = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    a, b = net(tokens, visible), net(changed, visible)
    assert torch.equal(a[:, :2], b[:, :2])  # heads 0 and 1 never see columns 1 and 2
    assert not torch.equal(a[:, 2], b[:, 2])
    known = torch.tensor([[True, True, False]])
    assert torch.allclose(net.head(2, tokens, known), a[:, 2], atol=1e-6)
    assert torch.isinf(a[0, 1, 3:]).all()  # tokens beyond a column's vocabulary
    one = net.head(1, tokens, torch.tensor([[True, False, False]]))
    assert one.shape == (1, 3) and torch.allclose(one, a[:, 1, :3], atol=1e-6)


def test_training_orders_are_permutations() -> None:
    mask = training_visibility(500, 6, torch.device("cpu"))
    # A strict total order: i sees j xor j sees i, for every pair.
    pairs = mask + mask.transpose(1, 2)
    assert torch.equal(pairs, 1 - torch.eye(6).expand(500, -1, -1))
    canonical = torch.ones(6, 6).tril(-1)
    share = (mask == canonical).all(dim=(1, 2)).float().mean()
    assert 0.4 < share < 0.7  # half canonical, plus random prefixes that keep it


# ---------------------------------------------------------------- fit and sample
def test_fit_and_sample_adult_with_missing(model: ARSynthesizer, adult: pd.DataFrame) -> None:
    synthetic = model.sample(2000, random_state=0)
    assert list(synthetic.columns) == list(adult.columns)
    assert list(synthetic.dtypes) == list(adult.dtypes)
    assert synthetic["workclass"].isna().any()  # missing values are generated too
    for column in ("sex", "income", "relationship"):
        real = adult[column].value_counts(normalize=True)
        fake = synthetic[column].value_counts(normalize=True).reindex(real.index, fill_value=0)
        assert (real - fake).abs().max() < 0.06, column
    # The pair that matters most for utility is learned.
    married = synthetic["relationship"].isin(["Husband", "Wife"])
    assert (synthetic.loc[married, "income"] == ">50K").mean() > 2 * (
        synthetic.loc[~married, "income"] == ">50K"
    ).mean()


def test_fit_and_sample_datetimes_and_gaps(trial: pd.DataFrame) -> None:
    model = _tiny().fit(trial)
    synthetic = model.sample(500, random_state=0)
    assert list(synthetic.dtypes) == list(trial.dtypes)
    assert synthetic["cd496"].isna().any() and synthetic["cd496"].notna().any()
    assert synthetic["end_date"].isna().any()
    dates = synthetic["end_date"].dropna()
    assert dates.min() >= trial["end_date"].min() and dates.max() <= trial["end_date"].max()
    assert (dates == dates.dt.normalize()).all()  # whole days, like the real column
    assert synthetic["pidnum"].is_unique  # ids are regenerated, not learned
    within = model.sample(100, conditions={"end_date": ("1992-01-01", "1992-06-30")})
    assert within["end_date"].between("1992-01-01", "1992-06-30").all()


def test_registry_names() -> None:
    assert isinstance(synthkit.Synthesizer("ar", epochs=1), ARSynthesizer)
    assert isinstance(synthkit.Synthesizer("autoregressive"), ARSynthesizer)


# --------------------------------------------------------------------- conditions
def test_conditions_are_exact_without_rejection(model: ARSynthesizer) -> None:
    conditions = {
        "sex": "Female",
        "education": ["Masters", "Doctorate"],
        "age": (30, 45),
        "fnlwgt": (100_000.5, 150_000),
        "hours_per_week": (None, 35),
    }
    rows = model.sample(1000, conditions=conditions, random_state=3)
    assert len(rows) == 1000
    assert (rows["sex"] == "Female").all()
    assert rows["education"].isin(["Masters", "Doctorate"]).all()
    assert rows["age"].between(30, 45).all()
    assert rows["fnlwgt"].between(100_001, 150_000).all()
    assert (rows["hours_per_week"] <= 35).all()
    assert rows["age"].nunique() > 5  # the range is covered, not one value


def test_rare_condition_and_missing_category(model: ARSynthesizer, adult: pd.DataFrame) -> None:
    rows = model.sample(300, conditions={"workclass": None, "capital_gain": (5000, None)})
    assert rows["workclass"].isna().all()
    assert (rows["capital_gain"] >= 5000).all()
    # Conditioning changes the other columns the way the data does.
    rich = model.sample(1000, conditions={"income": ">50K"}, random_state=0)
    poor = model.sample(1000, conditions={"income": "<=50K"}, random_state=0)
    assert rich["age"].mean() > poor["age"].mean() + 2


def test_condition_errors(model: ARSynthesizer) -> None:
    with pytest.raises(ConditionError, match="age"):
        model.sample(10, conditions={"age": (200, 300)})
    with pytest.raises(ConditionError, match="education_num"):
        model.sample(10, conditions={"education_num": (3.2, 3.8)})
    with pytest.raises(ConditionError, match="Martian"):
        model.sample(10, conditions={"race": "Martian"})
    with pytest.raises(ConditionError, match=r"(?i)unknown"):
        model.sample(10, conditions={"nope": 1})


# ------------------------------------------------------------- impute, log_prob
def test_impute_fills_only_missing_cells(model: ARSynthesizer, adult: pd.DataFrame) -> None:
    gappy = adult.head(400).copy()
    rng = np.random.default_rng(0)
    for column in ("age", "education", "capital_gain", "income", "fnlwgt"):
        gappy.loc[rng.random(len(gappy)) < 0.3, column] = None
    filled = model.impute(gappy, random_state=0)
    observed = gappy.notna()
    for column in gappy.columns:
        kept = observed[column]
        pd.testing.assert_series_equal(
            filled.loc[kept, column].astype(object), gappy.loc[kept, column].astype(object)
        )
    for column in ("age", "education", "capital_gain", "income", "fnlwgt"):
        assert filled[column].notna().all(), column
    assert filled["workclass"].notna().all()  # the real gaps are filled too
    assert model.impute(adult.head(50).dropna()).equals(adult.head(50).dropna())
    again = model.impute(gappy, random_state=0)
    pd.testing.assert_frame_equal(filled, again)


def test_impute_uses_the_known_cells(model: ARSynthesizer, adult: pd.DataFrame) -> None:
    rows = adult[adult["relationship"].isin(["Husband", "Wife"])].head(300).copy()
    rows["sex"] = None
    filled = model.impute(rows, random_state=0)
    husbands = filled["relationship"] == "Husband"
    assert (filled.loc[husbands, "sex"] == "Male").mean() > 0.8
    assert (filled.loc[~husbands, "sex"] == "Female").mean() > 0.7  # vs 33 % overall


def test_log_prob_finite_and_higher_on_real_rows(model: ARSynthesizer, real_and_shuffled) -> None:
    held_out, shuffled = real_and_shuffled
    real_scores, shuffled_scores = model.log_prob(held_out), model.log_prob(shuffled)
    assert real_scores.shape == (2000,) and np.isfinite(real_scores).all()
    assert np.isfinite(shuffled_scores).all()
    assert real_scores.mean() > shuffled_scores.mean() + 1.0
    assert (real_scores > shuffled_scores).mean() > 0.7


def test_impute_and_log_prob_need_the_columns(model: ARSynthesizer, adult: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="age"):
        model.log_prob(adult.drop(columns=["age"]))
    with pytest.raises(NotFittedError):
        _tiny().impute(adult)


# -------------------------------------------------- persistence, reproducibility
def test_save_load_gives_identical_samples(model: ARSynthesizer, tmp_path: Path) -> None:
    path = model.save(tmp_path / "ar.synthkit")
    loaded = synthkit.load_model(path)
    assert isinstance(loaded, ARSynthesizer)
    pd.testing.assert_frame_equal(
        loaded.sample(500, random_state=4), model.sample(500, random_state=4)
    )
    conditions = {"sex": "Male", "age": (20, 30)}
    pd.testing.assert_frame_equal(
        loaded.sample(200, conditions, random_state=5),
        model.sample(200, conditions, random_state=5),
    )


def test_reproducible_with_random_state(adult: pd.DataFrame) -> None:
    small = adult.head(800)
    a = _tiny(epochs=1).fit(small).sample(300, random_state=7)
    b = _tiny(epochs=1).fit(small).sample(300, random_state=7)
    pd.testing.assert_frame_equal(a, b)
    model = _tiny(epochs=1).fit(small)
    assert not model.sample(300, random_state=1).equals(model.sample(300, random_state=2))


def test_bad_parameters(adult: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="n_bins"):
        _tiny(n_bins=0).fit(adult)
    with pytest.raises(ParameterError, match="dropout"):
        _tiny(dropout=1.5).fit(adult)
    with pytest.raises(NotFittedError):
        _tiny().sample(5)
