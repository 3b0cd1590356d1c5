"""Chunked Gower-like nearest neighbours agree with a brute-force reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from synthkit.evaluation import neighbors
from synthkit.evaluation.neighbors import MixedEncoder, nearest_l1


def _gower(a: pd.DataFrame, b: pd.DataFrame, numeric, discrete, train) -> np.ndarray:
    span = (train[numeric].max() - train[numeric].min()).replace(0, 1.0)
    out = np.zeros((len(a), len(b)))
    for column in numeric:
        out += np.abs(a[column].to_numpy()[:, None] - b[column].to_numpy()[None, :]) / span[column]
    for column in discrete:
        out += a[column].to_numpy()[:, None] != b[column].to_numpy()[None, :]
    return out


def test_matches_brute_force_on_adult(small_split, monkeypatch):
    # Small blocks force several chunks.
    monkeypatch.setattr(neighbors, "_BLOCK_ENTRIES", 50_000)
    train = small_split["train"].dropna().iloc[:600]
    query = small_split["fresh"].dropna().iloc[:300]
    numeric = ["age", "fnlwgt", "capital_gain", "hours_per_week"]
    discrete = ["workclass", "education", "sex", "native_country"]
    encoder = MixedEncoder(numeric, discrete).fit(train, [train, query])
    distances, indices = nearest_l1(encoder.transform(query), encoder.transform(train), k=3)
    expected = np.sort(_gower(query, train, numeric, discrete, train), axis=1)[:, :3]
    assert np.allclose(distances, expected, atol=1e-4)
    full = _gower(query, train, numeric, discrete, train)
    assert np.allclose(full[np.arange(len(query)), indices[:, 0]], expected[:, 0], atol=1e-4)


def test_missing_numbers_are_one_apart_from_present_ones():
    train = pd.DataFrame({"x": [0.0, 10.0, np.nan], "c": ["a", "b", "a"]})
    encoder = MixedEncoder(["x"], ["c"]).fit(train, [train])
    query = encoder.transform(pd.DataFrame({"x": [np.nan], "c": ["a"]}))
    distances, indices = nearest_l1(query, encoder.transform(train), k=3)
    assert indices[0, 0] == 2 and distances[0, 0] == 0.0
    assert distances[0, 1] >= 1.0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.sampled_from("abc")), min_size=2, max_size=30))
def test_every_row_is_its_own_nearest_neighbour(rows):
    frame = pd.DataFrame(rows, columns=["x", "c"])
    encoded = MixedEncoder(["x"], ["c"]).fit(frame, [frame]).transform(frame)
    distances, _ = nearest_l1(encoded, encoded, k=1)
    assert np.all(distances[:, 0] == 0.0)


def test_high_cardinality_columns_keep_a_bounded_width():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "merchant": [f"m{i}" for i in rng.integers(0, 5000, 3000)] + ["top"] * 500,
            "x": rng.random(3500),
        }
    )
    encoder = MixedEncoder(["x"], ["merchant"]).fit(frame, [frame])
    encoded = encoder.transform(frame)
    assert encoded.onehot.shape[1] == neighbors.MAX_LEVELS
    assert "top" in encoder.levels_["merchant"]
    distances, _ = nearest_l1(encoded.take(np.arange(10)), encoded, k=1)
    assert np.all(distances[:, 0] == 0.0)
