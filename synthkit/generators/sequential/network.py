"""The sequence network: a GRU over earlier events and the context, and per-event column heads."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional

__all__ = ["SequenceNetwork", "position_buckets"]

#: Positions below this get a bucket each; later ones share log-spaced buckets.
_EXACT_POSITIONS = 8
_N_POSITIONS = 48


def position_buckets(positions: torch.Tensor) -> torch.Tensor:
    """Bucket of each event position: exact for the first few, then four per doubling.

    Example:
        >>> position_buckets(torch.tensor([0, 7, 8, 16, 10_000])).tolist()
        [0, 7, 8, 12, 47]
    """
    p = positions.clamp_min(0).float()
    late = _EXACT_POSITIONS + torch.floor(
        torch.log2(p.clamp_min(_EXACT_POSITIONS) / _EXACT_POSITIONS) * 4
    )
    bucket = torch.where(p < _EXACT_POSITIONS, p, late)
    return bucket.long().clamp_max(_N_POSITIONS - 1)


class SequenceNetwork(nn.Module):
    """History encoder plus column heads that draw one event's columns in order.

    The history encoder is a GRU: its input at event position ``t`` is the sum
    of learned embeddings of the previous event's tokens (a learned start
    vector at ``t = 0``) and of ``t``'s position bucket; its initial state comes
    from the entity's context tokens. The event's "columns" are a stop flag
    (the entity has no further event) followed by the event columns. Head ``i``
    sees the history state, the context and the tokens of the columns before it
    in this order: its first layer is a projection of the state plus, for each
    earlier column, a learned vector for that column's token (one
    ``embedding_bag`` with the causal mask as weights); a residual layer and an
    output layer follow, stacked over heads so all heads run as batched
    matrix products in training.

    Args:
        event_vocab: Number of tokens of each event column.
        context_vocab: Number of tokens of each context column (may be empty).
        state_dim: Width of the GRU state and of the embeddings.
        hidden_dim: Width of each head's hidden layers.
        dropout: Dropout on hidden layers while training.

    Example:
        >>> net = SequenceNetwork([3, 4], [2], state_dim=8, hidden_dim=8)
        >>> context = net.encode_context(torch.tensor([[1], [0]]))
        >>> previous = torch.zeros(2, 5, 2, dtype=torch.long)
        >>> state, _ = net.history(context, previous, torch.arange(5).expand(2, 5))
        >>> net.heads_logits(state.reshape(10, -1), context.repeat_interleave(5, 0),
        ...                  torch.zeros(10, 3, dtype=torch.long)).shape
        torch.Size([10, 3, 4])
    """

    def __init__(
        self,
        event_vocab: Sequence[int],
        context_vocab: Sequence[int],
        state_dim: int = 64,
        hidden_dim: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        event_sizes = [int(v) for v in event_vocab]
        context_sizes = [int(v) for v in context_vocab]
        self.dropout = dropout
        self.n_event_columns = len(event_sizes)
        # Inputs: the previous event's tokens, one embedding table for all columns.
        self.register_buffer(
            "event_offsets", torch.tensor([0, *event_sizes[:-1]], dtype=torch.long).cumsum(0)
        )
        self.event_embedding = nn.Parameter(
            torch.randn(max(sum(event_sizes), 1), state_dim) / math.sqrt(max(len(event_sizes), 1))
        )
        self.start = nn.Parameter(torch.zeros(state_dim))
        self.position = nn.Embedding(_N_POSITIONS, state_dim)
        self.register_buffer(
            "context_offsets",
            torch.tensor([0, *context_sizes[:-1]], dtype=torch.long).cumsum(0),
        )
        self.context_embedding = nn.Parameter(
            torch.randn(max(sum(context_sizes), 1), state_dim)
            / math.sqrt(max(len(context_sizes), 1))
        )
        self.context_bias = nn.Parameter(torch.zeros(state_dim))
        self.initial = nn.Linear(state_dim, state_dim)
        self.gru = nn.GRU(state_dim, state_dim, batch_first=True)
        # Heads: the stop flag, then every event column.
        sizes = [2, *event_sizes]
        n_heads, width, total = len(sizes), max(sizes), sum(sizes)
        self.n_heads = n_heads
        self.sizes = sizes
        self.register_buffer("head_offsets", torch.tensor([0, *sizes[:-1]]).cumsum(0))
        self.register_buffer("head_tables", torch.arange(n_heads) * total)
        self.register_buffer("causal", torch.ones(n_heads, n_heads).tril(-1))
        valid = torch.arange(width)[None, :] < torch.tensor(sizes)[:, None]
        self.register_buffer("invalid", ~valid)
        self.state_proj = nn.Linear(2 * state_dim, n_heads * hidden_dim)
        self.inputs = nn.Parameter(torch.randn(n_heads * total, hidden_dim) / math.sqrt(n_heads))
        self.second = nn.Parameter(
            torch.randn(n_heads, hidden_dim, hidden_dim) / math.sqrt(hidden_dim)
        )
        self.second_bias = nn.Parameter(torch.zeros(n_heads, 1, hidden_dim))
        self.out = nn.Parameter(torch.randn(n_heads, hidden_dim, width) / math.sqrt(hidden_dim))
        self.out_bias = nn.Parameter(torch.zeros(n_heads, 1, width))

    # ------------------------------------------------------------- history
    def encode_context(self, tokens: torch.Tensor) -> torch.Tensor:
        """Context vectors ``[entities, state_dim]`` from ``[entities, columns]`` tokens."""
        if tokens.shape[1] == 0:
            return self.context_bias.expand(tokens.shape[0], -1)
        summed = functional.embedding_bag(
            tokens + self.context_offsets, self.context_embedding, mode="sum"
        )
        return summed + self.context_bias

    def step_inputs(self, previous: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """GRU inputs from the previous events' tokens ``[..., columns]`` and positions."""
        shape = previous.shape[:-1]
        if self.n_event_columns:
            flat = (previous + self.event_offsets).reshape(-1, self.n_event_columns)
            embedded = functional.embedding_bag(flat, self.event_embedding, mode="sum")
            embedded = embedded.reshape(*shape, -1)
        else:
            embedded = torch.zeros(*shape, self.start.shape[0], device=previous.device)
        first = (positions == 0)[..., None]
        embedded = torch.where(first, self.start.expand_as(embedded), embedded)
        return embedded + self.position(position_buckets(positions))

    def initial_state(self, context: torch.Tensor) -> torch.Tensor:
        """The GRU's initial state ``[1, entities, state_dim]`` from context vectors."""
        return torch.tanh(self.initial(context))[None]

    def history(
        self,
        context: torch.Tensor,
        previous: torch.Tensor,
        positions: torch.Tensor,
        state: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the GRU over ``[entities, steps, columns]`` previous events.

        Returns:
            The per-step states ``[entities, steps, state_dim]`` and the last state.
        """
        if state is None:
            state = self.initial_state(context)
        return self.gru(self.step_inputs(previous, positions), state)

    # --------------------------------------------------------------- heads
    def _projected(self, state: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        projected = self.state_proj(torch.cat([state, context], dim=-1))
        return projected.reshape(state.shape[0], self.n_heads, -1)

    def _rest(self, hidden: torch.Tensor, index: torch.Tensor | slice) -> torch.Tensor:
        """Residual and output layers of heads ``index``; ``hidden`` is ``[heads, rows, h]``."""
        hidden = functional.dropout(functional.gelu(hidden), self.dropout, self.training)
        inner = functional.gelu(torch.baddbmm(self.second_bias[index], hidden, self.second[index]))
        hidden = hidden + functional.dropout(inner, self.dropout, self.training)
        return torch.baddbmm(self.out_bias[index], hidden, self.out[index])

    def heads_logits(
        self, state: torch.Tensor, context: torch.Tensor, tokens: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``[rows, heads, max_vocab]`` of every head given the tokens before it.

        Args:
            state: ``[rows, state_dim]`` history states.
            context: ``[rows, state_dim]`` context vectors.
            tokens: ``[rows, heads]`` tokens: the stop flag then the event columns.
        """
        rows = tokens.shape[0]
        index = (tokens + self.head_offsets)[:, None, :] + self.head_tables[None, :, None]
        summed = functional.embedding_bag(
            index.reshape(-1, self.n_heads),
            self.inputs,
            per_sample_weights=self.causal.expand(rows, -1, -1).reshape(-1, self.n_heads),
            mode="sum",
        ).reshape(rows, self.n_heads, -1)
        hidden = (summed + self._projected(state, context)).transpose(0, 1)
        logits = self._rest(hidden, slice(None)).transpose(0, 1)
        return logits.masked_fill(self.invalid[None], float("-inf"))

    def head(
        self,
        position: int,
        projected: torch.Tensor,
        tokens: torch.Tensor,
    ) -> torch.Tensor:
        """Logits ``[rows, vocab]`` of one head from its projected state and earlier tokens.

        Args:
            position: The head (0 is the stop flag).
            projected: ``[rows, heads, hidden]`` from :meth:`project`.
            tokens: ``[rows, heads]`` tokens; only those before ``position`` are read.
        """
        hidden = projected[:, position]
        if position:
            index = tokens[:, :position] + self.head_offsets[:position]
            index = index + self.head_tables[position]
            hidden = hidden + functional.embedding_bag(index, self.inputs, mode="sum")
        logits = self._rest(hidden[None], slice(position, position + 1))[0]
        return logits[:, : self.sizes[position]]

    def project(self, state: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Every head's projection of the history state and context: ``[rows, heads, hidden]``."""
        return self._projected(state, context)
