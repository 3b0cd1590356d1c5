"""Drawn history lengths are calibrated to the real ones, position by position, after a fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp

import synthkit
from synthkit.generators.sequential.length_calibration import (
    ROUNDS,
    hazards,
    moved_offsets,
    next_rates,
    offset_gaps,
)
from synthkit.generators.sequential.network import N_POSITION_BUCKETS

KEY, INDEX = "customer_id", "date"


@pytest.fixture(scope="module")
def purchases(cdnow: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """1,500 CDNOW customers (about half buy once) with their first month as context."""
    keys = cdnow[KEY].drop_duplicates().sample(1_500, random_state=0)
    events = cdnow[cdnow[KEY].isin(keys)].reset_index(drop=True)
    events[INDEX] = pd.to_datetime(events[INDEX].astype(str), format="%Y%m%d")
    first = events.groupby(KEY, as_index=False)[INDEX].min()
    context = pd.DataFrame({KEY: first[KEY], "cohort": first[INDEX].dt.strftime("%Y-%m")})
    return events, context


@pytest.fixture(scope="module")
def model(purchases) -> synthkit.SequenceSynthesizer:
    events, context = purchases
    model = synthkit.SequenceSynthesizer(
        "ar", epochs=3, random_state=0, device="cpu", verbose=False, validation_split=None
    )
    return model.fit(synthkit.SequenceDataset(events, KEY, INDEX), context=context)


def _lengths(events: pd.DataFrame, context: pd.DataFrame) -> np.ndarray:
    return events.groupby(KEY).size().reindex(context[KEY], fill_value=0).to_numpy()


def test_calibrated_lengths_match_the_real_ones_better(model, purchases) -> None:
    events, context = purchases
    real = _lengths(events, context)
    given = context.drop(columns=[KEY])
    out = model.sample(context=given, random_state=1)
    calibrated = _lengths(out.data, out.context)
    offsets = model.layout_["stop_offsets"]
    assert len(offsets) == N_POSITION_BUCKETS and any(offsets)
    model.layout_["stop_offsets"] = None
    try:
        raw = model.sample(context=given, random_state=1)
    finally:
        model.layout_["stop_offsets"] = offsets
    uncalibrated = _lengths(raw.data, raw.context)
    assert ks_2samp(calibrated, real).statistic < ks_2samp(uncalibrated, real).statistic
    assert 1 - ks_2samp(calibrated, real).statistic > 0.95
    assert abs((calibrated == 1).mean() - (real == 1).mean()) < 0.04


def test_offsets_travel_with_the_model_file(model, tmp_path) -> None:
    model.save(tmp_path / "cdnow.synthkit")
    reloaded = synthkit.load_model(tmp_path / "cdnow.synthkit")
    assert reloaded.layout_["stop_offsets"] == model.layout_["stop_offsets"]
    pd.testing.assert_frame_equal(
        model.sample(100, random_state=2).data, reloaded.sample(100, random_state=2).data
    )


@pytest.mark.filterwarnings("ignore::synthkit.privacy.preprocessing.NarrowRangeWarning")
def test_a_private_fit_reads_no_real_length_for_calibration(purchases) -> None:
    events, context = purchases
    model = synthkit.SequenceSynthesizer(
        "ar", epsilon=4.0, epochs=1, random_state=0, device="cpu", verbose=False
    )
    model.fit(synthkit.SequenceDataset(events, KEY, INDEX), context=context)
    assert model.layout_["stop_offsets"] is None


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=300))
def test_hazards_rebuild_the_length_distribution(lengths: list[int]) -> None:
    values = np.array(lengths)
    share, reached = hazards(values, N_POSITION_BUCKETS)
    assert reached[0] == len(values)
    assert np.all((share >= 0) & (share <= 1))
    # Positions below 8 have a bucket each: their hazards give the exact shares.
    survive = 1.0
    for position in range(min(8, int(values.max()) + 1)):
        expected = (values == position).mean()
        assert np.isclose(survive * share[position], expected)
        survive *= 1 - share[position]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=40, max_size=400))
def test_offsets_stay_where_drawn_lengths_already_match(lengths: list[int]) -> None:
    values = np.array(lengths)
    offsets = np.linspace(-1, 1, N_POSITION_BUCKETS)
    gaps = offset_gaps(values, values, N_POSITION_BUCKETS)
    assert np.allclose(moved_offsets(offsets, gaps, 1.0), offsets)


def test_a_bucket_that_stops_too_often_gets_a_lower_offset() -> None:
    real = np.repeat([1, 2, 3], 200)
    drawn = np.repeat([1, 2, 3], [400, 100, 100])
    gaps = offset_gaps(real, drawn, N_POSITION_BUCKETS)
    moved = moved_offsets(np.zeros(N_POSITION_BUCKETS), gaps, 1.0)
    assert moved[1] < 0 and moved[0] == 0


def test_a_gap_that_keeps_its_sign_keeps_being_closed() -> None:
    """A hazard that moves by 0.4 of its offset still reaches the real one in the rounds run."""
    target, base = np.array([-3.0, -3.0]), np.array([-3.6, -2.5])
    offsets, rates, previous = np.zeros(2), np.ones(2), np.zeros(2)
    for _ in range(ROUNDS):
        gaps = target - (base + 0.4 * offsets)
        rates = next_rates(rates, gaps, previous)
        offsets, previous = offsets + rates * gaps, gaps
    assert np.abs(target - (base + 0.4 * offsets)).max() < 0.05 * 0.6
