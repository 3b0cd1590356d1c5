"""Chunked Gower-like nearest neighbours agree with a brute-force reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from synthkit.errors import ParameterError
from synthkit.evaluation import neighbors
from synthkit.evaluation.neighbors import MixedEncoder, nearest_l1, nearest_l2


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


_rows = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.5, 1.0, 2.0, np.nan]),
        st.sampled_from("abc"),
        st.sampled_from("xy"),
        st.sampled_from("pq"),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(
    query=_rows,
    reference=_rows,
    k=st.integers(1, 4),
    budget=st.integers(1, 4000),
    method=st.sampled_from(["brute", "grouped"]),
)
def test_chunked_search_is_exact_against_brute_force_with_ties(query, reference, k, budget, method):
    # Few distinct values make many ties; tiny budgets cut both sides into many chunks;
    # three category columns make the grouped search go past its levels to the fallback.
    columns = ["x", "c", "d", "e"]
    query = pd.DataFrame(query, columns=columns)
    reference = pd.DataFrame(reference, columns=columns)
    encoder = MixedEncoder(["x"], ["c", "d", "e"]).fit(reference, [reference, query])
    q, r = encoder.transform(query), encoder.transform(reference)
    distances, indices = nearest_l1(q, r, k=k, memory_budget=budget, device="cpu", method=method)
    full = (
        torch.cdist(q.numbers.double(), r.numbers.double(), p=1)
        + (q.codes[:, None, :] != r.codes[None, :, :]).sum(axis=2)
    ).numpy()
    kk = min(k, len(reference))
    assert distances.shape == indices.shape == (len(query), kk)
    assert np.allclose(distances, np.sort(full, axis=1)[:, :kk], atol=1e-5)
    # Each returned row is at the returned distance, with no row twice.
    assert np.allclose(np.take_along_axis(full, indices, axis=1), distances, atol=1e-5)
    assert all(len(set(row)) == kk for row in indices.tolist())
    # Among equal distances the lower index comes first.
    ties = np.isclose(distances[:, 1:], distances[:, :-1])
    assert (indices[:, 1:][ties] > indices[:, :-1][ties]).all()


@settings(max_examples=20, deadline=None)
@given(
    n_query=st.integers(1, 30),
    n_reference=st.integers(1, 30),
    budget=st.integers(1, 3000),
    seed=st.integers(0, 100),
)
def test_euclidean_search_is_exact_against_brute_force(n_query, n_reference, budget, seed):
    generator = torch.Generator().manual_seed(seed)
    query = torch.randn(n_query, 3, generator=generator)
    reference = torch.randn(n_reference, 3, generator=generator)
    distances, indices = nearest_l2(query, reference, k=2, memory_budget=budget)
    full = torch.cdist(query.double(), reference.double()).numpy()
    assert np.allclose(distances, np.sort(full, axis=1)[:, :2], atol=1e-5)
    assert np.allclose(np.take_along_axis(full, indices, axis=1), distances, atol=1e-5)


def test_blocks_stay_within_the_memory_budget_and_bad_budgets_are_refused():
    for n_query, n_reference, budget in [(10**6, 10**6, 2**28), (5, 10**6, 2**20), (10**6, 7, 64)]:
        query_rows, reference_rows = neighbors.chunk_sizes(n_query, n_reference, budget)
        assert query_rows <= n_query and reference_rows <= n_reference
        assert 3 * 4 * query_rows * reference_rows <= max(budget, 3 * 4 * reference_rows)
    frame = pd.DataFrame({"x": [0.0, 1.0]})
    encoded = MixedEncoder(["x"], []).fit(frame, [frame]).transform(frame)
    with pytest.raises(ParameterError, match="memory_budget=0 must be a positive number"):
        nearest_l1(encoded, encoded, memory_budget=0)


@pytest.mark.parametrize("dense_pairs", [1, 10**12])
def test_grouped_search_matches_brute_force_on_adult(small_split, monkeypatch, dense_pairs):
    # Every group as a dense block, then every group laid out flat: the same result.
    from synthkit.evaluation import grouped_search

    monkeypatch.setattr(grouped_search, "_DENSE_PAIRS", dense_pairs)
    train = small_split["train"].dropna().iloc[:800]
    query = small_split["fresh"].dropna().iloc[:300]
    numeric = ["age", "fnlwgt", "capital_gain", "hours_per_week"]
    discrete = ["workclass", "education", "sex", "race", "income"]
    encoder = MixedEncoder(numeric, discrete).fit(train, [train, query])
    q, r = encoder.transform(query), encoder.transform(train)
    expected, _ = nearest_l1(q, r, k=2, method="brute")
    distances, indices = nearest_l1(q, r, k=2, method="grouped", memory_budget=50_000)
    # float32 sums in another order may differ in the last rounded digit.
    assert np.allclose(distances, expected, atol=2e-5, rtol=0)
    again, _ = nearest_l1(q, r, k=2, method="grouped")
    assert np.array_equal(again, distances)  # and the same on every run
    full = _gower(query, train, numeric, discrete, train)
    assert np.allclose(np.take_along_axis(full, indices, axis=1), distances, atol=1e-4)
