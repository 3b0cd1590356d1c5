"""TableEncoder: exact round trips on real and random frames, state, spans and mixtures."""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthkit.metadata import Metadata
from synthkit.processing import TableEncoder
from synthkit.processing.gmm import fit_mixtures

# Floats compare exactly (pandas' default is a relative 1e-5).
assert_frame_equal = functools.partial(pd.testing.assert_frame_equal, check_exact=True)
assert_series_equal = functools.partial(pd.testing.assert_series_equal, check_exact=True)


def round_trip(
    data: pd.DataFrame, metadata: Metadata | None = None, dtype: torch.dtype = torch.float64
) -> tuple[TableEncoder, pd.DataFrame]:
    encoder = TableEncoder().fit(data, metadata)
    encoded = encoder.encode(data, random_state=0, dtype=dtype)
    assert encoded.shape == (len(data), encoder.output_dim_)
    assert encoded.dtype == dtype
    return encoder, encoder.decode(encoded, random_state=0)


def assert_learned_columns_equal(
    real: pd.DataFrame, decoded: pd.DataFrame, encoder: TableEncoder
) -> None:
    learned = list(encoder.transforms_)
    assert list(decoded.columns) == list(real.columns)
    assert_frame_equal(decoded[learned], real[learned])


def assert_ids_regenerated(real: pd.DataFrame, decoded: pd.DataFrame, columns: list[str]) -> None:
    """Id columns are never learned: decoding makes new unique keys, none equal to a real one."""
    for column in columns:
        assert decoded[column].is_unique, column
        assert not decoded[column].isin(real[column]).any(), column


# ----------------------------------------------------------------- real data
def test_adult_round_trip_is_exact(adult: pd.DataFrame) -> None:
    encoder, decoded = round_trip(adult)
    assert not encoder.regenerated_  # every Adult column is learned
    assert_frame_equal(decoded, adult)


@pytest.mark.slow
def test_full_adult_round_trip_is_exact(adult_full: pd.DataFrame) -> None:
    _, decoded = round_trip(adult_full)
    assert_frame_equal(decoded, adult_full)


def test_cdnow_integer_dates_round_trip(cdnow: pd.DataFrame) -> None:
    data = cdnow.sample(5000, random_state=0).reset_index(drop=True)
    encoder, decoded = round_trip(data)
    assert encoder.metadata_.kind("date") == "datetime"
    assert decoded["date"].dtype == np.int64
    assert_learned_columns_equal(data, decoded, encoder)


def test_lending_club_round_trip(lending_club: pd.DataFrame) -> None:
    data = lending_club.sample(3000, random_state=0).reset_index(drop=True)
    encoder, decoded = round_trip(data)
    assert encoder.metadata_.kind("rownames") == "id"
    assert set(encoder.transforms_) == set(data.columns) - {"rownames"}
    assert_learned_columns_equal(data, decoded, encoder)
    assert_ids_regenerated(data, decoded, ["rownames"])


def test_actg175_round_trip(actg175: pd.DataFrame) -> None:
    encoder, decoded = round_trip(actg175)
    ids = list(encoder.regenerated_)
    assert {"pidnum"} <= set(ids)
    assert decoded["cd496"].isna().sum() == actg175["cd496"].isna().sum() > 0
    assert_learned_columns_equal(actg175, decoded, encoder)
    assert_ids_regenerated(actg175, decoded, ids)


def test_lending_club_round_trip_with_ids_learned(lending_club: pd.DataFrame) -> None:
    """Overriding the id's kind makes it a learned number: then the whole frame comes back."""
    data = lending_club.sample(3000, random_state=1).reset_index(drop=True)
    metadata = Metadata.detect(data, overrides={"rownames": "numerical"})
    _, decoded = round_trip(data, metadata)
    assert_frame_equal(decoded, data)


# ------------------------------------------------------------ float32 (default)
def test_float32_encoding_keeps_adult_exact(adult: pd.DataFrame) -> None:
    """The default float32 encoding still gives back integers and categories exactly."""
    _, decoded = round_trip(adult, dtype=torch.float32)
    assert_frame_equal(decoded, adult)


def test_float32_encoding_keeps_day_dates_exact(cdnow: pd.DataFrame) -> None:
    data = cdnow.sample(5000, random_state=1).reset_index(drop=True)
    encoder, decoded = round_trip(data, dtype=torch.float32)
    assert_learned_columns_equal(data, decoded, encoder)


def test_float32_encoding_keeps_integers_and_categories(lending_club: pd.DataFrame) -> None:
    encoder, decoded = round_trip(lending_club, dtype=torch.float32)
    exact = [
        column
        for column in encoder.transforms_
        if not pd.api.types.is_float_dtype(lending_club[column])
    ]
    assert len(exact) > 15
    assert_frame_equal(decoded[exact], lending_club[exact])


# ------------------------------------------------------- property-based frames
@st.composite
def mixed_frames(draw: st.DrawFn) -> tuple[pd.DataFrame, Metadata]:
    """Random frames of every supported dtype, with missing values and constant columns."""
    n = draw(st.integers(2, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)

    def holes(share: float) -> np.ndarray:
        mask = rng.random(n) < share
        mask[0] = False  # no column is all-null
        return mask

    p = draw(st.sampled_from([0.0, 0.2]))
    low = draw(st.integers(-(10**9), 10**9))
    ints = rng.integers(low, low + draw(st.integers(1, 10**6)), n)
    nullable = pd.array(rng.integers(-50, 50, n), dtype="Int64")
    nullable[holes(p)] = pd.NA
    decimals = draw(st.integers(0, 4))
    scale = draw(st.sampled_from([1.0, 1e3, 1e6]))
    floats = np.round(rng.normal(0, scale, n), decimals)
    floats[holes(p)] = np.nan
    words = np.array(["red", "green", "blue", "", "naïve", "a b"], dtype=object)
    strings = pd.Series(rng.choice(words, n), dtype=object)
    strings[holes(p)] = np.nan
    booleans = pd.array(rng.random(n) < 0.5, dtype="boolean")
    booleans[holes(p)] = pd.NA
    stamps = pd.Series(pd.to_datetime(rng.integers(0, 2_000_000_000, n), unit="s"))
    stamps = stamps.where(~holes(p))
    zone = draw(st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]))
    aware = pd.Series(pd.to_datetime(rng.integers(10**9, 2 * 10**9, n), unit="s", utc=True))
    aware = aware.dt.tz_convert(zone).where(~holes(p))
    frame = pd.DataFrame(
        {
            "int": ints,
            "nullable_int": nullable,
            "float": floats,
            "bool": rng.random(n) < 0.5,
            "nullable_bool": booleans,
            "text": strings,
            "naive": stamps,
            "aware": aware,
            "constant_int": np.full(n, draw(st.integers(-5, 5))),
            "constant_text": pd.Series(["same"] * n, dtype=object),
        }
    )
    kinds = {
        "int": "numerical",
        "nullable_int": "numerical",
        "float": "numerical",
        "bool": "boolean",
        "nullable_bool": "boolean",
        "text": "categorical",
        "naive": "datetime",
        "aware": "datetime",
        "constant_int": "numerical",
        "constant_text": "categorical",
    }
    # Explicit kinds keep the test about the encoder: detection is tested elsewhere and
    # may, on a tiny random frame, call unique integers an id.
    metadata = Metadata({c: {"kind": k} for c, k in kinds.items()})
    metadata.update_column("aware", timezone=zone)
    return frame, metadata


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_frames())
def test_round_trip_of_random_mixed_frames_is_exact(case: tuple[pd.DataFrame, Metadata]) -> None:
    """Ints, nullable ints, floats of up to 4 decimals, booleans, strings, naive and
    time-zoned datetimes of second resolution and constant columns all come back equal,
    dtypes included, missing values where they were."""
    frame, metadata = case
    _, decoded = round_trip(frame, metadata)
    assert_frame_equal(decoded, frame)


# Magnitudes from 1e-6 up: columns whose every value is below 1e-12 hit a separate bug
# (see test_tiny_floats_are_not_rounded_to_zero).
_FLOATS = st.one_of(st.just(0.0), st.floats(1e-6, 1e9), st.floats(-1e9, -1e-6))


@settings(max_examples=25, deadline=None)
@given(st.lists(_FLOATS, min_size=3, max_size=60).filter(lambda values: len(set(values)) > 1))
def test_arbitrary_floats_round_trip_to_float_precision(values: list[float]) -> None:
    """Floats without a decimal pattern pass through x -> (x - mean) / (4 std) and back.

    That affine map is exact only up to float64 rounding, so equality holds to a
    relative 1e-12 (absolute 1e-12 of the column's range for values near zero).
    """
    frame = pd.DataFrame({"x": np.asarray(values, dtype=np.float64)})
    metadata = Metadata({"x": {"kind": "numerical"}})
    _, decoded = round_trip(frame, metadata)
    assert decoded["x"].dtype == np.float64
    span = float(np.ptp(frame["x"]))
    np.testing.assert_allclose(decoded["x"], frame["x"], rtol=1e-12, atol=1e-12 * span)


def test_tiny_floats_are_not_rounded_to_zero() -> None:
    frame = pd.DataFrame({"x": [0.0, 2.5e-13, 7.5e-13, 1.0e-12] * 10})
    _, decoded = round_trip(frame, Metadata({"x": {"kind": "numerical"}}))
    np.testing.assert_allclose(decoded["x"], frame["x"], rtol=1e-9)


def test_pandas_category_dtype_values_round_trip() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"size": pd.Categorical(rng.choice(["S", "M", "L"], 200, p=[0.6, 0.3, 0.1]))}
    )
    _, decoded = round_trip(frame, Metadata({"size": {"kind": "categorical"}}))
    assert isinstance(decoded["size"].dtype, pd.CategoricalDtype)
    assert decoded["size"].astype(object).equals(frame["size"].astype(object))
    assert set(decoded["size"].cat.categories) == set(frame["size"].cat.categories)


def test_pandas_category_dtype_with_missing_values_round_trips() -> None:
    rng = np.random.default_rng(0)
    sizes = pd.Series(pd.Categorical(rng.choice(["S", "M", "L"], 200, p=[0.6, 0.3, 0.1])))
    frame = pd.DataFrame({"size": sizes.where(np.arange(200) % 17 != 0)})
    _, decoded = round_trip(frame, Metadata({"size": {"kind": "categorical"}}))
    assert_frame_equal(decoded, frame)


def test_pandas_category_dtype_keeps_declared_order() -> None:
    rng = np.random.default_rng(0)
    values = rng.choice(["S", "M", "L"], 200, p=[0.1, 0.3, 0.6])
    sizes = pd.Categorical(values, categories=["S", "M", "L"], ordered=True)
    frame = pd.DataFrame({"size": sizes})
    _, decoded = round_trip(frame)
    assert_frame_equal(decoded, frame)


def test_clip_false_lets_values_leave_the_real_range() -> None:
    frame = pd.DataFrame({"x": np.linspace(-1.0, 1.0, 201)})
    encoder = TableEncoder(clip=False).fit(frame, Metadata({"x": {"kind": "numerical"}}))
    encoded = encoder.encode(frame, random_state=0, dtype=torch.float64)
    value = encoder.span_of("x", "value").start
    encoded[:, value] = encoded[:, value] * 3  # far outside what the data had
    assert encoder.decode(encoded)["x"].abs().max() > 1.5


def test_clip_true_keeps_values_in_the_real_range() -> None:
    frame = pd.DataFrame({"x": np.linspace(-1.0, 1.0, 201)})
    encoder = TableEncoder().fit(frame, Metadata({"x": {"kind": "numerical"}}))
    encoded = encoder.encode(frame, random_state=0, dtype=torch.float64)
    value = encoder.span_of("x", "value").start
    encoded[:, value] = encoded[:, value] * 3
    decoded = encoder.decode(encoded)["x"]
    assert decoded.min() == -1.0 and decoded.max() == 1.0


# ------------------------------------------------------------- state and spans
def test_state_survives_json_and_decodes_identically(actg175: pd.DataFrame) -> None:
    encoder = TableEncoder().fit(actg175)
    state = json.loads(json.dumps(encoder.to_state()))
    rebuilt = TableEncoder.from_state(state)
    assert rebuilt.spans_ == encoder.spans_
    assert rebuilt.output_dim_ == encoder.output_dim_
    encoded = encoder.encode(actg175, random_state=3)
    assert torch.equal(rebuilt.encode(actg175, random_state=3), encoded)
    noisy = encoded + 0.05 * torch.randn(encoded.shape, generator=torch.Generator().manual_seed(0))
    assert_frame_equal(rebuilt.decode(noisy, random_state=5), encoder.decode(noisy, random_state=5))


@given(mixed_frames())
@settings(max_examples=10, deadline=None)
def test_state_of_random_frames_survives_json(case: tuple[pd.DataFrame, Metadata]) -> None:
    frame, metadata = case
    encoder = TableEncoder().fit(frame, metadata)
    rebuilt = TableEncoder.from_state(json.loads(json.dumps(encoder.to_state())))
    encoded = encoder.encode(frame, random_state=0, dtype=torch.float64)
    assert_frame_equal(rebuilt.decode(encoded), frame)


def test_spans_tile_the_output_without_gaps(adult: pd.DataFrame, actg175: pd.DataFrame) -> None:
    for data in (adult, actg175):
        encoder = TableEncoder().fit(data)
        starts = [span.start for span in encoder.spans_]
        stops = [span.stop for span in encoder.spans_]
        assert starts[0] == 0
        assert starts[1:] == stops[:-1]
        assert stops[-1] == encoder.output_dim_
        assert all(span.width > 0 for span in encoder.spans_)
        assert {span.column for span in encoder.spans_} == {
            c for c, t in encoder.transforms_.items() if t.layout()
        }
        encoded = encoder.encode(data, random_state=0)
        for span in encoder.spans_:
            block = encoded[:, span.start : span.stop]
            if span.activation == "softmax":  # every softmax block is one-hot
                assert torch.equal(block.sum(1), torch.ones(len(data)))
                assert set(block.unique().tolist()) <= {0.0, 1.0}


def test_encoded_values_are_reproducible_per_random_state(adult: pd.DataFrame) -> None:
    encoder = TableEncoder().fit(adult)
    first = encoder.encode(adult, random_state=1)
    assert torch.equal(first, encoder.encode(adult, random_state=1))
    assert not torch.equal(first, encoder.encode(adult, random_state=2))


# -------------------------------------------------------------------- mixtures
def two_modes(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.randn(600, generator=g) * 0.5 - 10, torch.randn(400, generator=g) + 20])


def test_fit_mixtures_recovers_two_separated_modes() -> None:
    """Two modes found, with the weights and means of the data and the widths
    scikit-learn's BayesianGaussianMixture (CTGAN's reference) gives on the same data.

    Both report the variational posterior, whose widths include the prior's pull
    (the data's overall variance), hence wider than the modes' own spreads.
    """
    from sklearn.mixture import BayesianGaussianMixture

    x = two_modes()
    params = fit_mixtures(x[None], torch.ones(1, len(x), dtype=torch.bool))
    big = params.weights[0] > 0.05
    assert int(big.sum()) == 2
    order = params.means[0][big].argsort()
    means = params.means[0][big][order].double()
    stds = params.stds[0][big][order].double()
    weights = params.weights[0][big][order].double()
    torch.testing.assert_close(means, torch.tensor([-10.0, 20.0]).double(), atol=0.15, rtol=0)
    torch.testing.assert_close(weights, torch.tensor([0.6, 0.4]).double(), atol=0.02, rtol=0)
    torch.testing.assert_close(params.weights.sum(1), torch.ones(1))

    reference = BayesianGaussianMixture(
        n_components=10,
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=1e-3,
        max_iter=100,
        random_state=0,
    ).fit(x.double().numpy()[:, None])
    keep = reference.weights_ > 0.05
    ref_order = reference.means_[keep].ravel().argsort()
    ref_stds = np.sqrt(reference.covariances_[keep].ravel())[ref_order]
    np.testing.assert_allclose(stds.numpy(), ref_stds, rtol=0.02)
    np.testing.assert_allclose(weights.numpy(), reference.weights_[keep][ref_order], atol=0.01)


def test_fit_mixtures_merges_duplicate_components_of_one_mode() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(500, generator=g) - 5, torch.randn(500, generator=g) + 5])
    params = fit_mixtures(x[None], torch.ones(1, 1000, dtype=torch.bool))
    assert int((params.weights[0] > 0.1).sum()) == 2


def test_fit_mixtures_fits_columns_independently_with_missing_values() -> None:
    x = two_modes()
    g = torch.Generator().manual_seed(1)
    other = torch.randn(len(x), generator=g) * 3 + 7
    observed = torch.ones(2, len(x), dtype=torch.bool)
    observed[1, ::3] = False  # a third of the second column is missing: must be ignored
    values = torch.stack([x, torch.where(observed[1], other, torch.tensor(1e6))])
    params = fit_mixtures(values, observed)
    alone = fit_mixtures(x[None], observed[:1])
    torch.testing.assert_close(params.means[0], alone.means[0])
    # The mixture's overall mean is the observed values' mean; the 1e6 fillers never count.
    mixture_mean = float((params.weights[1] * params.means[1]).sum())
    assert abs(mixture_mean - float(other[observed[1]].mean())) < 0.05
    assert float(params.means[1].abs().max()) < 100


def test_fit_mixtures_is_deterministic() -> None:
    x = two_modes(3)[None]
    mask = torch.ones_like(x, dtype=torch.bool)
    first, second = fit_mixtures(x, mask), fit_mixtures(x, mask)
    for name in ("weights", "means", "stds"):
        assert torch.equal(getattr(first, name), getattr(second, name))
