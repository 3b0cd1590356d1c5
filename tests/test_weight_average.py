"""The moving average of a model's weights: its arithmetic, its swap and its use in fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import synthkit
from synthkit.errors import SynthkitError
from synthkit.generators.optimizer import DecayingAdamW
from synthkit.generators.weight_average import WeightAverage


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(-100, 100), min_size=1, max_size=30),
    decay=st.floats(0.0, 0.999),
)
def test_the_average_follows_its_rate_schedule(values: list[float], decay: float) -> None:
    weight = torch.nn.Parameter(torch.tensor([0.5], dtype=torch.float64))
    average = WeightAverage({"net": torch.nn.ParameterList([weight])}, decay)
    expected = 0.5
    for step, value in enumerate(values, start=1):
        with torch.no_grad():
            weight.fill_(value)
        average.update()
        rate = min(decay, (1 + step) / (10 + step))
        expected = rate * expected + (1 - rate) * value
    assert float(average.averages[0]) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_applied_swaps_the_average_in_and_the_trained_weights_back() -> None:
    layer = torch.nn.Linear(3, 2)
    average = WeightAverage({"layer": layer}, 0.9)
    trained = [p.detach().clone() for p in layer.parameters()]
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.add_(1.0)
    average.update()
    moved = [p.detach().clone() for p in layer.parameters()]
    with average.applied():
        for parameter, value, last in zip(layer.parameters(), average.averages, moved, strict=True):
            assert torch.equal(parameter, value)
            assert not torch.equal(parameter, last)  # one step in, the average lags the move
    for parameter, value in zip(layer.parameters(), moved, strict=True):
        assert torch.equal(parameter, value)
    assert not all(torch.equal(a, b) for a, b in zip(average.averages, trained, strict=True))


def test_the_average_sits_nearer_the_optimum_than_noisy_last_steps() -> None:
    # Minimizing (w - 1)^2 from gradients with noise: Adam's last iterate keeps
    # jumping around the optimum, the average of the last steps much less.
    generator = torch.Generator().manual_seed(0)
    weight = torch.nn.Parameter(torch.zeros(64))
    optimizer = DecayingAdamW([weight], lr=0.05, weight_decay=0.0)
    average = WeightAverage({"net": torch.nn.ParameterList([weight])}, 0.99)
    for _ in range(1500):
        noise = torch.randn(64, generator=generator)
        weight.grad = 2 * (weight.detach() - 1) + noise
        optimizer.step()
        average.update()
    last = float((weight.detach() - 1).abs().mean())
    averaged = float((average.averages[0] - 1).abs().mean())
    assert averaged < last / 2


def _histories(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 6, n)
    keys = np.repeat(np.arange(n), lengths)
    events = pd.DataFrame(
        {
            "id": keys,
            "t": np.concatenate([np.arange(k) for k in lengths]),
            "amount": rng.gamma(2.0, 10.0, len(keys)).round(2),
        }
    )
    context = pd.DataFrame({"id": np.arange(n), "tier": rng.choice(["a", "b"], n)})
    return events, context


def test_a_fit_with_the_average_keeps_weights_unlike_its_last_steps() -> None:
    events, context = _histories(300, 0)
    networks = {}
    for decay in (None, 0.9):
        model = synthkit.SequenceSynthesizer(
            "ar", epochs=2, weight_average=decay, random_state=0, verbose=False
        )
        model.fit(events, sequence_key="id", sequence_index="t", context=context)
        networks[decay] = [p.detach().clone() for p in model.network_.parameters()]
        assert len(model.sample(n_entities=20, random_state=1).context) == 20
    # Same seed and steps: only the kept weights differ.
    assert any(not torch.equal(a, b) for a, b in zip(networks[None], networks[0.9], strict=True))


def test_a_weight_average_outside_its_range_is_refused() -> None:
    with pytest.raises(SynthkitError, match="weight_average"):
        synthkit.SequenceSynthesizer("ar", weight_average=1.5).fit(
            *_histories(50, 1)[:1], sequence_key="id", sequence_index="t"
        )
