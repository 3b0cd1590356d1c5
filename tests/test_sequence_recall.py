"""Recall slots: each head reads its column's earlier tokens, in training and sampling alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import synthkit
from synthkit.generators.sequential.recall import (
    RecallTable,
    recall_layout,
    recall_tokens,
)

SIZES = [3, 5, 4]  # key (categorical), a value column, a time column


@st.composite
def histories(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = draw(st.lists(st.integers(0, 7), min_size=1, max_size=6))
    rows = [[draw(st.integers(0, n - 1)) for n in SIZES] for _ in range(sum(lengths))]
    tokens = torch.tensor(rows, dtype=torch.long).reshape(-1, len(SIZES))
    return tokens, torch.tensor(lengths, dtype=torch.long)


def _expected(tokens: torch.Tensor, lengths: torch.Tensor, slots: list) -> list[list[int]]:
    """The slots by a plain walk over each history."""
    out, start = [], 0
    for length in lengths.tolist():
        events = tokens[start : start + length].tolist()
        for i, event in enumerate(events):
            row = []
            for source, column in slots:
                earlier = [e for e in events[:i] if source == "previous" or e[0] == event[0]]
                row.append(earlier[-1][column] if earlier else SIZES[column])
            out.append(row)
        start += length
    return out


@settings(max_examples=60, deadline=None)
@given(histories())
def test_recall_tokens_match_a_walk_over_each_history(data) -> None:
    tokens, lengths = data
    layout = {"key": 0, "slots": [["previous", 0], ["previous", 1], ["same_key", 1]]}
    assert recall_tokens(tokens, lengths, layout, SIZES).tolist() == _expected(
        tokens, lengths, layout["slots"]
    )


@settings(max_examples=60, deadline=None)
@given(histories())
def test_sampling_table_reads_what_training_reads(data) -> None:
    """Replaying histories event by event, the table gives the training slots."""
    tokens, lengths = data
    layout = {"key": 0, "slots": [["previous", 0], ["previous", 1], ["same_key", 1]]}
    expected = recall_tokens(tokens, lengths, layout, SIZES)
    offsets = torch.cumsum(lengths, 0) - lengths
    table = RecallTable(layout, SIZES, len(lengths), torch.device("cpu"))
    alive = torch.arange(len(lengths))
    for position in range(int(lengths.max()) + 1):
        going = (lengths[alive] > position).nonzero().squeeze(1)
        alive = alive[going]
        table.keep(going)
        if not len(alive):
            break
        rows = offsets[alive] + position
        assert table.slots(tokens[rows, 0]).tolist() == expected[rows].tolist()
        table.record(tokens[rows])


def test_key_is_a_categorical_column_that_changes_within_histories() -> None:
    constant = torch.tensor([[0, 1, 2], [0, 3, 1], [1, 2, 0], [1, 4, 3]])
    lengths = torch.tensor([2, 2])
    # Column 0 never changes within a history: no key, nothing recalled.
    assert recall_layout(constant, lengths, SIZES, [0], [2]) == {"key": None, "slots": []}
    varying = constant.clone()
    varying[1, 0] = 2
    layout = recall_layout(varying, lengths, SIZES, [0], [2])
    assert layout["key"] == 0 and ["same_key", 1] in layout["slots"]
    # A key with more categories than a table may hold is not one.
    assert recall_layout(varying, lengths, [65, 5, 4], [0], [2])["key"] is None


def _interleaved(n_entities: int, rng: np.random.Generator) -> pd.DataFrame:
    """Histories of three interleaved tests, each keeping one level per entity."""
    rows = []
    for entity in range(n_entities):
        level = {t: rng.choice(["low", "mid", "high", "very high"]) for t in "abc"}
        for day in range(12):
            test = "abc"[rng.integers(3)]
            rows.append({"id": entity, "day": day, "test": test, "level": level[test]})
    return pd.DataFrame(rows)


def _same_as_last_of_its_test(events: pd.DataFrame) -> float:
    last = events.groupby(["id", "test"])["level"].shift()
    return float((events["level"] == last)[last.notna()].mean())


def test_a_value_follows_the_last_value_of_its_own_kind() -> None:
    """Each test keeps its level within an entity; sampled histories keep it too."""
    real = _interleaved(400, np.random.default_rng(0))
    model = synthkit.SequenceSynthesizer(
        "ar", random_state=0, epochs=25, state_dim=32, hidden_dim=32, verbose=False
    )
    model.fit(real, sequence_key="id", sequence_index="day")
    assert model.layout_["recall"]["key"] == 0  # the test column
    synthetic = model.sample(n_entities=400, random_state=1).data
    # By chance (levels drawn afresh) a test would keep its level a quarter of the time.
    assert _same_as_last_of_its_test(synthetic) > 0.8
    # Without recall the GRU state alone carries the levels, and loses most of them.
    model.set_params(recall=False)
    model.fit(real, sequence_key="id", sequence_index="day")
    assert model.layout_["recall"] is None and model.network_.n_recall == 0
    assert _same_as_last_of_its_test(model.sample(n_entities=400, random_state=1).data) < 0.8


def test_histories_of_times_alone_recall_nothing() -> None:
    """With no column but the index, a model has no slots and still samples."""
    real = _interleaved(60, np.random.default_rng(2))[["id", "day"]]
    model = synthkit.SequenceSynthesizer(
        "ar", random_state=0, epochs=2, state_dim=16, hidden_dim=16, verbose=False
    )
    model.fit(real, sequence_key="id", sequence_index="day")
    assert model.layout_["recall"] is None
    assert model.network_.n_recall == 0
    assert len(model.sample(n_entities=20, random_state=0).data) > 0


def test_training_forgets_slots_at_the_dropout_rate_and_sampling_never() -> None:
    from synthkit.generators.sequential.network import SequenceNetwork

    torch.manual_seed(0)
    # Hidden width = the widest head, so the heads' first layer can be read as logits.
    net = SequenceNetwork([3, 5], [], 8, 5, dropout=1.0, recall=[(0, 3), (1, 5)])
    net._rest = lambda hidden, index: hidden  # the first layer alone: no dropout there
    state, context = torch.randn(4, 8), torch.randn(4, 8)
    tokens = torch.tensor([[0, 1, 2]] * 4)
    recall = torch.tensor([[1, 4]] * 4)
    for training, same in ((False, False), (True, True)):
        net.train(training)
        recalled = net.heads_logits(state, context, tokens, recall)
        assert torch.equal(recalled, net.heads_logits(state, context, tokens, None)) == same


def test_networks_without_slots_hold_the_weights_older_model_files_hold() -> None:
    """No recall and no count: the state has no new entries, so older files load."""
    from synthkit.generators.sequential.network import SequenceNetwork

    plain = SequenceNetwork([3, 5], [2], 8, 8).state_dict()
    assert not [k for k in plain if "recall" in k or "remaining" in k]
    torch.manual_seed(0)
    first = SequenceNetwork([3, 5], [2], 8, 8).state_dict()
    torch.manual_seed(0)
    again = SequenceNetwork([3, 5], [2], 8, 8, recall=[]).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    recalling = SequenceNetwork([3, 5], [2], 8, 8, recall=[(1, 5)], counted=True).state_dict()
    assert {"recall_inputs", "remaining.weight"} <= set(recalling)
