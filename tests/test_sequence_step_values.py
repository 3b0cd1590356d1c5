"""The index's time steps: exact in training, drawn in sampling as decoding draws them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import synthkit
from synthkit.datasets import load_nafld_labs
from synthkit.generators.sequential.ar import SequenceARSynthesizer, _event_times
from synthkit.generators.sequential.step_values import TokenValues
from synthkit.processing.discretizer import NumericTokens

FAST = {"epochs": 1, "random_state": 0, "verbose": False, "device": "cpu"}


@st.composite
def _tokens_and_draws(draw: st.DrawFn) -> tuple[NumericTokens, np.ndarray, np.ndarray]:
    numbers = st.floats(-1e6, 1e6, allow_nan=False)
    points = sorted(set(draw(st.lists(numbers, max_size=5))))
    knots = sorted(draw(st.lists(numbers, min_size=2, max_size=40)))
    n_bins = draw(st.integers(1, 8))
    has_missing = draw(st.booleans())
    tokens = NumericTokens(points, knots, n_bins, has_missing)
    n = draw(st.integers(1, 30))
    token = np.asarray(draw(st.lists(st.integers(0, tokens.n_tokens - 1), min_size=n, max_size=n)))
    level = np.asarray(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    return tokens, token, level


@settings(max_examples=150, deadline=None)
@given(_tokens_and_draws())
def test_token_values_are_the_values_decoding_gives(
    case: tuple[NumericTokens, np.ndarray, np.ndarray],
) -> None:
    tokens, token, level = case
    drawn = TokenValues(tokens, "cpu").draw(torch.as_tensor(token), torch.as_tensor(level))
    n_points = len(tokens.points)
    expected = np.zeros(len(token))
    is_point = token < n_points
    expected[is_point] = tokens.points[token[is_point]]
    in_bin = (token >= n_points) & (token < n_points + tokens.n_bins)
    expected[in_bin] = tokens.quantiles.value(
        (token[in_bin] - n_points + level[in_bin]) / tokens.n_bins
    )
    np.testing.assert_allclose(drawn.numpy(), expected, rtol=1e-9, atol=1e-6)


@pytest.fixture(scope="module")
def nafld() -> tuple[pd.DataFrame, pd.DataFrame]:
    labs, patients = load_nafld_labs()
    chosen = patients.sample(300, random_state=2).drop(columns=["case.id"])
    return labs[labs["id"].isin(chosen["id"])].sort_values(["id", "days"]), chosen


def test_the_time_inputs_of_training_are_the_real_event_times(
    nafld: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    labs, patients = nafld
    seen = {}
    fit_events = SequenceARSynthesizer._fit_events

    def spy(self, tokens, offsets, lengths, context, bounds=None, steps=None):
        seen.update(offsets=offsets, lengths=lengths, steps=steps)
        return fit_events(self, tokens, offsets, lengths, context, bounds, steps)

    monkeypatch.setattr(SequenceARSynthesizer, "_fit_events", spy)
    synthkit.SequenceSynthesizer("ar", **FAST).fit(
        synthkit.SequenceDataset(labs, "id", "days"), context=patients
    )
    times, elapsed = _event_times(seen["steps"], seen["offsets"], seen["lengths"])
    # Entities in the context's row order (rows without events hold none), events in order.
    row = pd.Series(np.arange(len(patients)), index=patients["id"].to_numpy())
    real = labs.assign(row=row.reindex(labs["id"]).to_numpy()).sort_values(
        ["row", "days"], kind="stable"
    )
    np.testing.assert_allclose(times.numpy(), real["days"].to_numpy(dtype=float))
    first = real.groupby("id")["days"].transform("min").to_numpy(dtype=float)
    np.testing.assert_allclose(elapsed.numpy(), real["days"].to_numpy(dtype=float) - first)


def test_decoded_times_are_the_times_the_sampler_read(
    nafld: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    labs, patients = nafld
    model = synthkit.SequenceSynthesizer("ar", **FAST).fit(
        synthkit.SequenceDataset(labs, "id", "days"), context=patients
    )
    drawn_steps = []
    sample_events = SequenceARSynthesizer._sample_events

    def spy(self, *args, **kwargs):
        found = sample_events(self, *args, **kwargs)
        drawn_steps.append(found)
        return found

    monkeypatch.setattr(SequenceARSynthesizer, "_sample_events", spy)
    given = patients.head(50).reset_index(drop=True)
    lengths = np.full(len(given), 6)
    out = model.sample(context=given, lengths=lengths, random_state=4)
    entity, _, _, steps = drawn_steps[-1]
    sampled = pd.Series(steps.numpy()).groupby(entity.numpy()).cumsum().to_numpy()
    # Given lengths keep every event; days are whole numbers, decoded by rounding.
    decoded = out.data["days"].to_numpy(dtype=float)
    assert len(decoded) == len(sampled) == 6 * len(given)
    bound = np.repeat(given["futime"].to_numpy(dtype=float), 6)
    np.testing.assert_allclose(decoded, np.minimum(sampled, bound), atol=0.5 + 1e-9)


def test_histories_of_one_event_learn_no_gaps(nafld: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    labs, patients = nafld
    first = labs.groupby("id").head(1)  # each patient's first lab test alone
    model = synthkit.SequenceSynthesizer("ar", **FAST).fit(
        synthkit.SequenceDataset(first, "id", "days"), context=patients
    )
    assert "__sequence_gap__" not in model.event_encoder_.learned_columns
    drawn = model.sample(n_entities=200, random_state=1)
    assert drawn.data.groupby("id").size().max() == 1
    assert drawn.data["days"].between(first["days"].min(), first["days"].max()).all()
