"""Exact repeats: a value drawn in its previous event's bin repeats it at the real rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

import synthkit
from synthkit.generators.sequential.repeats import apply_repeats, repeat_shares
from synthkit.processing.discretizer import Discretizer


def _encoded(values: np.ndarray) -> tuple[pd.DataFrame, Discretizer, torch.Tensor]:
    frame = pd.DataFrame({"v": values})
    encoder = Discretizer(n_bins=4, max_points=2).fit(frame)
    return frame, encoder, encoder.encode(frame, random_state=0)


def test_runs_carry_their_first_value_within_an_entity_and_a_bin() -> None:
    values = np.r_[np.linspace(0, 100, 40), np.linspace(0, 100, 40)]
    frame, encoder, tokens = _encoded(values)
    entity = np.repeat([0, 1], 40)
    decoded = frame.copy()
    apply_repeats(decoded, tokens, entity, encoder, {"v": 1.0}, np.random.default_rng(0))
    codes = tokens[:, 0].numpy()
    for row in range(1, 80):
        same = entity[row] == entity[row - 1] and codes[row] == codes[row - 1]
        expected = decoded["v"][row - 1] if same else values[row]
        assert decoded["v"][row] == expected
    # A share of 0 repeats nothing.
    untouched = frame.copy()
    apply_repeats(untouched, tokens, entity, encoder, {"v": 0.0}, np.random.default_rng(0))
    assert untouched["v"].tolist() == values.tolist()


def test_shares_count_exact_repeats_among_same_bin_neighbours() -> None:
    values = np.repeat(np.linspace(0, 100, 40), 2)  # every value twice in a row
    frame, encoder, tokens = _encoded(values)
    entity = np.zeros(80, dtype=int)
    share = repeat_shares(frame, tokens, entity, encoder, set())["v"]
    codes = tokens[:, 0].numpy()
    same_bin = int((codes[1:] == codes[:-1]).sum())
    assert share == 40 / same_bin  # the 40 second readings, among the same-bin pairs
    assert repeat_shares(frame, tokens, entity, encoder, {"v"}) == {}


def _paired_readings(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Readings taken in pairs on one day, both tests of a pair sharing one value."""
    rows = []
    for entity in range(n):
        for day in range(6):
            value = round(float(rng.normal(100, 20)), 1)
            rows += [{"id": entity, "day": day, "test": t, "value": value} for t in "ab"]
    return pd.DataFrame(rows)


def _exact_repeats(events: pd.DataFrame) -> float:
    previous = events.groupby("id")["value"].shift()
    return float((events["value"] == previous)[previous.notna()].mean())


def test_paired_readings_repeat_their_value() -> None:
    real = _paired_readings(300, np.random.default_rng(0))
    model = synthkit.SequenceSynthesizer(
        "ar", random_state=0, epochs=10, state_dim=32, hidden_dim=32, verbose=False
    ).fit(real, sequence_key="id", sequence_index="day")
    assert model.layout_["repeat_shares"]["value"] > 0.5
    synthetic = model.sample(n_entities=300, random_state=1).data
    # Real: 6 of 11 neighbours repeat (0.55). Values drawn inside bins never would.
    assert _exact_repeats(synthetic) > 0.25
    model.layout_["repeat_shares"] = {}
    assert _exact_repeats(model.sample(n_entities=300, random_state=1).data) < 0.05
