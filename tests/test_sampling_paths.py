"""The fast sampling paths compute the same function and distribution as the plain ones."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from synthkit.generators._spans import SpanLayout
from synthkit.generators.ctgan import _SamplingGenerator
from synthkit.processing.columns import Span


def test_sampling_generator_matches_the_generator_in_eval_mode(fitted) -> None:
    model = fitted("ctgan")
    model._eval_mode()
    conditions = model._conditions
    noise = torch.randn(500, model.embedding_dim, generator=torch.Generator().manual_seed(0))
    category = conditions.draw_unconditional(500)
    with torch.no_grad():
        expected = model.generator_(torch.cat([noise, conditions.one_hot(category)], dim=1))
        got = _SamplingGenerator(model.generator_, model.embedding_dim)(noise, category)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_unconditional_categories_follow_column_then_frequency(fitted) -> None:
    conditions = fitted("ctgan")._conditions
    n = 400_000
    torch.manual_seed(0)
    drawn = torch.bincount(conditions.draw_unconditional(n), minlength=conditions.dim) / n
    expected = torch.cat(
        [
            conditions.probs[i, : span.width] / conditions.n_columns
            for i, span in enumerate(conditions.spans)
        ]
    )
    assert drawn.sum() == pytest.approx(1.0)
    torch.testing.assert_close(drawn, expected, rtol=0, atol=4e-3)


def test_hard_draws_follow_each_blocks_softmax() -> None:
    spans = [
        Span("x", 0, 1, "tanh", "value"),
        Span("x", 1, 3, "softmax", "mode"),
        Span("c", 4, 5, "softmax", "category"),
    ]
    layout = SpanLayout(spans, torch.device("cpu"))
    logits = torch.tensor([0.3, 2.0, -1.0, 0.5, 1.0, 0.0, -3.0, 4.0, 0.2])
    raw = logits.repeat(200_000, 1)
    torch.manual_seed(0)
    rows = layout.sample_hard(raw)
    assert torch.equal(rows[:, 0], torch.tanh(raw[:, 0]))
    for start, stop in ((1, 4), (4, 9)):
        block = rows[:, start:stop]
        assert torch.equal(block.sum(dim=1), torch.ones(len(rows)))
        expected = torch.softmax(logits[start:stop], dim=0)
        torch.testing.assert_close(block.mean(dim=0), expected, rtol=0, atol=5e-3)
    assert not pd.isna(rows.numpy()).any()
