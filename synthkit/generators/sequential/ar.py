"""The default sequence model: a GRU history encoder with autoregressive event columns."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch.nn import functional

from synthkit._params import BOOLEAN, Constraint, Interval, parameters_set
from synthkit.generators.base import RARE_CATEGORY_THRESHOLD
from synthkit.generators.sequential.base import SequenceSynthesizer
from synthkit.generators.sequential.index import _GAP, _START
from synthkit.generators.sequential.network import SequenceNetwork, position_buckets
from synthkit.generators.sequential.private import fit_events_private
from synthkit.generators.sequential.recall import (
    RecallTable,
    recall_layout,
    recall_sizes,
    recall_tokens,
)
from synthkit.generators.sequential.start_head import refine_start_head
from synthkit.generators.sequential.step_values import TokenValues
from synthkit.generators.sequential.threads import one_cpu_thread
from synthkit.generators.sequential.validation import (
    DEFAULT_PATIENCE,
    ValidationLoss,
    held_out_entities,
)

__all__ = ["SequenceARSynthesizer", "sequence_schedule"]

_LOG = logging.getLogger(__name__)
_CHUNK = 20_000  # entities per sampling pass: bounds memory, keeps matrix products large
# The default schedule (sequence_schedule): positions (events plus one stop per
# entity) trained in all, the range of epochs, positions per optimizer step, the
# range of batch sizes, the fewest optimizer steps of a whole fit (and how they grow
# with the entities), and the rate.
_SCHEDULE_POSITIONS = 480_000
_SCHEDULE_EPOCHS = (1, 12)
_STEP_POSITIONS = 4_096
_SCHEDULE_BATCH = (16, 512)
_SCHEDULE_MIN_STEPS = 250
_SCHEDULE_STEPS_PER_ROOT = 6.4
_SCHEDULE_LEARNING_RATE = 3e-3
# A private fit given no epochs keeps a fixed schedule: its privacy accounting
# reads epochs and batch size, which must not depend on the data's size.
_PRIVATE_SCHEDULE = {"epochs": 20, "batch_size": 64, "learning_rate": 3e-3}
# Quantile buckets of the time inputs (the previous event's time, the time since the first).
_CLOCK_BUCKETS = 32
#: Dropout of an ordinary fit when none is given (private fits have none).
_PUBLIC_DROPOUT = 0.1


class _Domains(Constraint):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping) and all(isinstance(k, str) for k in value)

    def __str__(self) -> str:
        return "a dict keyed by column name"


class SequenceARSynthesizer(SequenceSynthesizer):
    """Autoregressive model of event histories conditioned on each entity's context.

    A GRU summarizes an entity's context (its initial state) and its earlier
    events; given that summary, column heads draw the next event one column
    after another, as the table autoregressive model does over discretized
    columns (categories, numbers as exact values or quantile bins, missing
    values as tokens): first a stop flag, which ends the history and so learns
    how many events an entity has given its context (none included), then the
    time since the previous event (the first event's time at the start) and the
    event columns. Besides the previous event's tokens, the GRU reads the time
    of the previous event and the time since the first one (sums of the start
    and gap tokens' values, cut at quantiles), so histories end and space their
    events by where in time they stand, not by a count of gaps alone. Training
    is teacher-forced over windows of at most
    ``max_window`` event positions per entity, all entities of a batch at once
    on the device. A long history is cut into window-sized tiles at a random
    offset and one tile is trained, weighted by the number of tiles, so every
    position (the final stop included) counts once per epoch on average; a tile
    inside a history starts from the GRU state of the events before it, read
    without gradients. Whether an entity has any event is learned from batches
    mixing all entities. Generation runs one GRU step per event position for all
    entities at once, carrying the state on past the window length; entities
    that stopped leave the batch.

    An ordinary fit holds out ``validation_split`` of the entities and keeps the
    weights of the epoch with the lowest loss on them (``best_epoch_``; each
    epoch's ``loss`` and ``val_loss`` in ``loss_history_``), stopping after
    ``patience`` epochs without improvement, so it stops before it memorizes
    the training histories.

    Args:
        epochs: Passes over the entities; ``None`` (the default) picks epochs,
            batch size and learning rate together from the data's size with
            :func:`sequence_schedule` (recorded as ``schedule_``). Given values
            always win over the picked ones.
        batch_size: Entities per step; ``None`` picks it by the data's size.
        max_window: Event positions per entity and step (bounds memory).
        state_dim: Width of the GRU state and embeddings.
        hidden_dim: Width of each column head's hidden layers.
        n_bins: Quantile bins per numerical event or context column.
        max_points: Numerical columns with at most this many distinct values
            keep each value as its own token.
        dropout: Dropout on the column heads' hidden layers while training;
            ``None`` takes 0.1 for an ordinary fit (it keeps the model from
            learning single histories: on CDNOW, entity DCR share 0.5205 instead
            of 0.530 at like fidelity) and 0 for a private one, which has no
            dropout.
        learning_rate: Initial Adam learning rate, decayed linearly to a tenth;
            ``None`` picks it with the schedule.
        weight_decay: AdamW weight decay.
        context_model: Registered table model of the entity table (context
            columns and event columns constant within entities).
        context_params: Parameters of the context model (its ``random_state``,
            ``device`` and ``verbose`` follow this model's unless given).
        rare_category_threshold: Categories seen in fewer rows than this are
            pooled and never generated (privacy); 0 keeps every category.
        value_protection: Clip each numeric event and context column (and the
            first event's time and the gaps between events) to the range between
            its ``m``-th smallest and ``m``-th largest values, ``m`` the
            rare-category threshold (at least 5), so that no real outlier's exact
            value is learned or generated (on by default, as for tables; a private
            fit's ranges come from noisy histograms instead).
        epsilon: Privacy budget of a differentially private fit, or None (the
            default) for an ordinary fit. The privacy unit is the entity: the model,
            and everything sampled from it, changes in distribution by at most a
            factor ``e**epsilon`` (plus ``delta``) whether or not any one entity, with
            all its events, was in the data. ``context_share`` of it trains the entity
            table's model (``context_model="ar"``, private by rows, one per entity);
            the rest describes the event columns from noisy histograms of one event
            per entity (``preprocessing_share`` of it) and trains the history model
            by DP-SGD with one clipped gradient per entity. Needs
            ``pip install "synthkit[dp]"`` (Opacus).
        delta: The DP delta; None means ``1 / n**1.1`` for ``n`` entities.
        max_grad_norm: Each entity's gradient is clipped to this L2 norm (DP only).
        noise_multiplier: Fixed DP-SGD noise; None calibrates it to the budget.
        preprocessing_share: Share of the events' budget their histograms spend
            alone (DP only).
        context_share: Share of ``epsilon`` given to the entity table (DP only).
        bounds: Public ``{column: (low, high)}`` ranges of numerical or datetime
            columns (DP only), used as given with no budget spent finding them:
            event columns, the sequence index (its first time and its gaps then
            span that range) and entity-table columns (passed to the context model).
            Give only ranges known without the data (documented clinical ranges,
            a study's calendar), never ones read off it.
        categories: Public ``{column: [categories]}`` of categorical event or
            entity-table columns (DP only): all kept, none dropped by the noisy
            threshold.
        validation_split: Share of the entities an ordinary fit holds out (0 or
            None: none): their loss is computed after every epoch, the weights of
            the epoch where it was lowest are kept (``best_epoch_``) and training
            stops after ``patience`` epochs without a lower one, so the epochs of
            the schedule are a ceiling. The held-out entities are still read for
            the encoders, the context model and the time inputs; only the
            history network does not train on them. A fit that would hold out
            fewer than 50 entities trains on all of them instead. Never used
            with ``epsilon``: choosing an epoch by real entities' loss reads the
            data outside the privacy budget, so a private fit ignores it.
        patience: Stop early when the loss has not improved for this many
            epochs: the held-out loss with a validation split (``None``: 3
            epochs), else the training loss (``None``: never).
        weight_average: The decay of a moving average of the weights over the
            optimizer steps (:mod:`~synthkit.generators.weight_average`; 0.99
            averages over about the last 100 steps): the held-out loss, the
            kept weights and the fitted model are the average's. ``None`` or 0
            keeps the last step's weights. Ordinary fits only. On CDNOW (three
            seeds) it took coherence from 0.927-0.962 to 0.961-0.967.
        recall: Whether, where a categorical event column keys the histories,
            each event column's head also reads that column's token in the
            entity's previous event and in its last event of the same key
            category (:mod:`~synthkit.generators.sequential.recall`; ordinary
            fits only): on NAFLD labs, coherence 0.900 → 0.949 and entity DCR
            share 0.514 → 0.519.
        given_lengths: Whether every sample will give each history's length
            (``sample(lengths=...)``, as a record model does for its child
            tables): the GRU then reads how many events remain at each step, so
            a history spaces its events to end where real ones do (ordinary
            fits only; a sample without ``lengths`` is refused).
        index_bound: The context column no event's index passes (a patient's
            end of follow-up for their tests' days): ``"auto"`` finds one in an
            ordinary fit (a numeric or datetime column that every real event
            lies at or before) and none in a private one; a column name declares
            it (a private fit keeps it too, reading nothing off the data for it;
            an ordinary fit checks every real event); ``None`` keeps none.
            Drawn histories never pass their entity's bound.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        random_state: Seed for reproducible fits.
        verbose: Show a progress bar while fitting.

    Example:
        >>> import numpy as np, pandas as pd
        >>> events = pd.DataFrame({"card": np.repeat(np.arange(30), 3),
        ...                        "day": np.tile([1, 2, 2], 30),
        ...                        "amount": np.tile([9.5, 3.0, 1.0], 30)})
        >>> model = SequenceARSynthesizer(epochs=1, verbose=False, random_state=0)
        >>> synthetic = model.fit(events, sequence_key="card", sequence_index="day").sample(4)
        >>> bool(synthetic.data.groupby("card")["day"].is_monotonic_increasing.all())
        True
    """

    name = "ar"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "epochs": [Interval(int, 1, None), None],
        "batch_size": [Interval(int, 1, None), None],
        "learning_rate": [Interval(float, 0, None, closed="neither"), None],
        "max_window": [Interval(int, 2, None)],
        "state_dim": [Interval(int, 1, None)],
        "hidden_dim": [Interval(int, 1, None)],
        "dropout": [Interval(float, 0, 1, closed="left"), None],
        "weight_decay": [Interval(float, 0, None)],
        "epsilon": [Interval(float, 0, None, closed="neither"), None],
        "delta": [Interval(float, 0, 1, closed="neither"), None],
        "max_grad_norm": [Interval(float, 0, None, closed="neither")],
        "noise_multiplier": [Interval(float, 0, None, closed="neither"), None],
        "preprocessing_share": [Interval(float, 0, 1, closed="neither")],
        "context_share": [Interval(float, 0, 1, closed="neither")],
        "bounds": [_Domains(), None],
        "categories": [_Domains(), None],
        "validation_split": [Interval(float, 0, 1, closed="left"), None],
        "weight_average": [Interval(float, 0, 1, closed="left"), None],
        "recall": [BOOLEAN],
        "given_lengths": [BOOLEAN],
        "value_protection": [BOOLEAN],
    }

    def __init__(
        self,
        epochs: int | None = None,
        batch_size: int | None = None,
        max_window: int = 64,
        state_dim: int = 64,
        hidden_dim: int = 64,
        n_bins: int = 32,
        max_points: int = 64,
        dropout: float | None = None,
        learning_rate: float | None = None,
        weight_decay: float = 1e-5,
        context_model: str = "ar",
        context_params: dict[str, Any] | None = None,
        rare_category_threshold: int = RARE_CATEGORY_THRESHOLD,
        value_protection: bool = True,
        epsilon: float | None = None,
        delta: float | None = None,
        max_grad_norm: float = 1.0,
        noise_multiplier: float | None = None,
        preprocessing_share: float = 0.1,
        context_share: float = 0.25,
        bounds: Mapping[str, tuple[Any, Any]] | None = None,
        categories: Mapping[str, list[Any]] | None = None,
        validation_split: float | None = 0.1,
        patience: int | None = None,
        weight_average: float | None = 0.99,
        recall: bool = True,
        given_lengths: bool = False,
        index_bound: str | None = "auto",
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = True,
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_window = max_window
        self.state_dim = state_dim
        self.hidden_dim = hidden_dim
        self.n_bins = n_bins
        self.max_points = max_points
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.context_model = context_model
        self.context_params = context_params
        self.rare_category_threshold = rare_category_threshold
        self.value_protection = value_protection
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm
        self.noise_multiplier = noise_multiplier
        self.preprocessing_share = preprocessing_share
        self.context_share = context_share
        self.bounds = bounds
        self.categories = categories
        self.validation_split = validation_split
        self.patience = patience
        self.weight_average = weight_average
        self.recall = recall
        self.given_lengths = given_lengths
        self.index_bound = index_bound
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------- networks
    def _build_modules(self) -> None:
        events = self.event_encoder_.vocab_sizes if self.event_encoder_ is not None else []
        context = self.context_encoder_.vocab_sizes if self.context_encoder_ is not None else []
        self.network_ = SequenceNetwork(
            events,
            context,
            self.state_dim,
            self.hidden_dim,
            self._dropout(),
            clock_buckets=self.layout_.get("clock_buckets", 0),
            start_bound=self.layout_.get("start_bound", False),
            start_columns=self.layout_.get("start_columns", ()),
            recall=recall_sizes(self.layout_.get("recall"), events),
            counted=bool(self.layout_.get("counted")),
            conditional=self.layout_.get("conditional", ()),
        ).to(self.device_)

    def _dropout(self) -> float:
        """The dropout a fit trains with: the given one, else by the kind of fit."""
        if self.dropout is not None:
            return float(self.dropout)
        return 0.0 if getattr(self, "_entity_budget", None) is not None else _PUBLIC_DROPOUT

    def _modules(self) -> dict[str, torch.nn.Module]:
        return {"network": self.network_}

    # ---------------------------------------------------------------- fit
    def _fit_events(
        self,
        tokens: torch.Tensor,
        offsets: torch.Tensor,
        lengths: torch.Tensor,
        context: torch.Tensor,
        bounds: torch.Tensor | None = None,
        steps: torch.Tensor | None = None,
    ) -> None:
        # Time inputs need the index's start and gap tokens; the private fit has none.
        timed = self._entity_budget is None and self._has_clock_columns()
        self.layout_["clock_buckets"] = _CLOCK_BUCKETS if timed else 0
        self.layout_["start_bound"] = timed and bounds is not None
        self.layout_["start_columns"] = (
            self._numeric_context() if self.layout_["start_bound"] else []
        )
        private = self._entity_budget is not None
        # Recall slots feed each head its column's earlier tokens; the private fit
        # trains without them (its per-entity gradients cover the network's inputs).
        wanted = self.recall and not private
        self.layout_["recall"] = self._recall_layout(tokens, lengths) if wanted else None
        self.layout_["counted"] = self.given_lengths and not private
        if private:  # the released two-way histograms' pairs, by event column
            columns = list(self.event_encoder_.learned_columns)
            self.layout_["conditional"] = [
                (columns.index(key), columns.index(column))
                for key, column in self._event_shapes.pairs
            ]
        self._build_modules()
        if private:
            picked = dict(_PRIVATE_SCHEDULE)
        else:
            picked = sequence_schedule(len(tokens), len(lengths), int(lengths.max()) + 1)
        given = {name: getattr(self, name) for name in picked}
        self.schedule_ = {n: v if given[n] is None else given[n] for n, v in picked.items()}
        self.layout_["schedule"] = dict(self.schedule_)
        _LOG.info(
            "Sequence model schedule for %d events of %d entities: %s",
            len(tokens),
            len(lengths),
            self.schedule_,
        )
        self.best_epoch_ = None
        self.layout_["validation"] = None
        with parameters_set(self, self.schedule_):
            if private:
                fit_events_private(self, tokens, offsets, lengths, context, self._entity_budget)
            else:
                self._fit_public(tokens, offsets, lengths, context, timed, bounds, steps)
                if self.network_.start_bound is not None:  # timed, with a bound
                    self._refine_start(tokens, offsets, lengths, context, bounds)

    def _recall_layout(self, tokens: torch.Tensor, lengths: torch.Tensor) -> dict[str, Any] | None:
        """The recall slots of this fit's event columns (``recall.recall_layout``)."""
        encoder = self.event_encoder_
        if encoder is None or not encoder.learned_columns:
            return None
        columns = encoder.learned_columns
        categorical = set(encoder.categorical_columns)
        layout = recall_layout(
            tokens,
            lengths,
            encoder.vocab_sizes,
            [i for i, c in enumerate(columns) if c in categorical],
            [i for i, c in enumerate(columns) if c in (_START, _GAP)],
        )
        return layout if layout["slots"] else None

    def _refine_start(
        self,
        tokens: torch.Tensor,
        offsets: torch.Tensor,
        lengths: torch.Tensor,
        context: torch.Tensor,
        bounds: torch.Tensor,
    ) -> None:
        """Learn how the first time depends on the bound, on first events (``start_head``)."""
        with_events = torch.nonzero(lengths > 0).squeeze(1)
        head = 1 + self.event_encoder_.learned_columns.index(_START)
        with one_cpu_thread(self.device_):
            epoch = refine_start_head(
                self.network_,
                head,
                tokens[offsets[with_events]],
                context[with_events],
                bounds[with_events],
                lengths[with_events],
            )
        self.layout_["start_refinement"] = {"best_epoch": epoch}

    def _fit_public(
        self,
        tokens: torch.Tensor,
        offsets: torch.Tensor,
        lengths: torch.Tensor,
        context: torch.Tensor,
        timed: bool,
        bounds: torch.Tensor | None = None,
        steps: torch.Tensor | None = None,
    ) -> None:
        """Teacher-forced training on windows of every training entity's history.

        With a validation split, the held-out entities' loss picks the epoch
        whose weights are kept (see :mod:`~synthkit.generators.sequential.validation`).
        The time inputs are sums of the events' exact time ``steps``
        (:func:`~synthkit.generators.sequential.step_values.exact_steps`). With
        ``bounds`` (each entity's bound on the index), the first time input is
        the time left before the bound instead of the time itself. A counted
        network (sampled with given lengths only) never draws its stop flag,
        so it trains no stop: no empty-history batches, no position after a
        history's last event.
        """
        network = self.network_
        counted = network.counted
        stop_positions = 0 if counted else 1  # after each history's last event
        sizes = self.event_encoder_.vocab_sizes if self.event_encoder_ is not None else []
        recall = recall_tokens(tokens, lengths, self.layout_.get("recall"), sizes)
        times = elapsed = None
        if timed and steps is not None:
            times, elapsed = _event_times(steps, offsets, lengths)
            if bounds is not None:
                entity = torch.repeat_interleave(
                    torch.arange(len(lengths), device=tokens.device), lengths
                )
                times = bounds[entity] - times
            _set_clock_edges(network, times, elapsed)
        network.train()
        n_events, n_columns = tokens.shape
        device = self.device_
        steps = torch.arange(self.max_window, device=device)
        split = held_out_entities(len(lengths), self.validation_split, device)
        train = torch.arange(len(lengths), device=device) if split is None else split[0]
        # Windows cover entities with events; whether an entity has any is learned
        # from batches of all entities mixed, so it is never fitted from batches that
        # hold only empty histories (the length buckets would make such batches).
        with_events = train[lengths[train] > 0]
        n_steps, batches = self._length_batches(lengths[with_events])
        first_size = -(-len(train) // n_steps)
        firsts = (train[b] for b in _shuffled_batches(len(train), first_size, device))
        optimizer, schedule = self._optimizer(network.parameters(), n_steps * self.epochs)

        def first_loss() -> torch.Tensor:
            """Stop-flag loss at position 0 (an empty history) of a mixed batch."""
            entities = next(firsts)
            vectors = network.encode_context(context[entities])
            targets = (lengths[entities] == 0).long()
            first = network.first_state(vectors, lengths[entities])
            logits = network.stop_logits(first, vectors)
            return functional.cross_entropy(logits, targets, reduction="sum")

        def window_loss() -> torch.Tensor:
            entities = with_events[next(batches)]
            length = lengths[entities]
            # Batches hold entities of similar lengths, so short windows waste no work.
            window = min(self.max_window, int(length.max()) + stop_positions)
            start, end, weight = _tiles(length - 1 + stop_positions, window)
            position = start[:, None] + steps[:window]
            valid = position < end[:, None]
            is_event = position < length[:, None]
            row = offsets[entities][:, None] + position
            previous = tokens[(row - 1).clamp(0, n_events - 1)]
            current = tokens[row.clamp(0, n_events - 1)]
            clock = None
            if times is not None:
                before = (row - 1).clamp(0, n_events - 1)
                clock = network.clock_tokens(times[before], elapsed[before], position)
            context_vectors = network.encode_context(context[entities])
            state = self._carried_state(
                context_vectors,
                tokens,
                offsets[entities],
                start,
                window,
                n_events,
                None if times is None else (times, elapsed),
                length,
            )
            remaining = length[:, None] - position
            states, _ = network.history(
                context_vectors, previous, position, state, clock, remaining
            )
            keep = valid.reshape(-1)
            flat_state = states.reshape(-1, states.shape[-1])[keep]
            flat_context = context_vectors[:, None].expand(-1, window, -1)
            flat_context = flat_context.reshape(-1, flat_context.shape[-1])[keep]
            event = is_event.reshape(-1)[keep]
            current_rows = current.reshape(-1, n_columns)[keep]
            recalled = None
            if recall is not None:
                recalled = recall[row.clamp(0, n_events - 1)].reshape(-1, recall.shape[1])[keep]
            losses = network.position_losses(
                flat_state, flat_context, current_rows, event, recalled
            )
            # The flag at position 0 is learned by first_loss.
            losses[:, 0] = losses[:, 0] * (position.reshape(-1)[keep] > 0)
            # A window is one of its history's tiles, drawn uniformly: weighting it by
            # the number of tiles makes every position count once per epoch on average.
            return (losses.sum(dim=1) * weight[:, None].expand(-1, window).reshape(-1)[keep]).sum()

        def step() -> dict[str, torch.Tensor]:
            loss = torch.zeros((), device=device) if counted else first_loss()
            if len(with_events):
                loss = loss + window_loss()
            loss = loss / self.batch_size
            optimizer.zero_grad(set_to_none=True)
            if loss.requires_grad:  # a counted fit of empty histories learns nothing
                loss.backward()
                optimizer.step()
            schedule.step()
            return {"loss": loss}

        with one_cpu_thread(self.device_):
            if split is None:
                self._run_epochs(
                    n_steps, step, monitor=lambda row: row["loss"], average=self.weight_average
                )
            else:
                clock = None if times is None else (times, elapsed)
                validate = ValidationLoss(
                    network, tokens, offsets, lengths, context, split[1], clock, recall
                )
                patience = DEFAULT_PATIENCE if self.patience is None else self.patience
                self.best_epoch_ = self._run_epochs(
                    n_steps,
                    step,
                    monitor=lambda row: row["val_loss"],
                    validate=validate,
                    patience=patience,
                    average=self.weight_average,
                )
                self.layout_["validation"] = {
                    "entities": len(split[1]),
                    "best_epoch": self.best_epoch_,
                }
        network.eval()

    def _carried_state(
        self,
        context_vectors: torch.Tensor,
        tokens: torch.Tensor,
        offsets: torch.Tensor,
        start: torch.Tensor,
        window: int,
        n_events: int,
        clock_inputs: tuple[torch.Tensor, torch.Tensor] | None = None,
        lengths: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The GRU state at each window's start: the history before it, read without gradients.

        The earlier events are read ``window`` positions at a time, so memory stays
        bounded by the window whatever the history's length. ``clock_inputs``
        holds each event's first and second time input (networks with time inputs),
        ``lengths`` the histories' lengths (read by counted networks).
        """
        network = self.network_
        initial = network.initial_state(context_vectors)
        later = torch.nonzero(start > 0).squeeze(1)
        if len(later) == 0:
            return initial
        with torch.no_grad():
            begin = start[later]
            state = initial[:, later]
            carried = torch.zeros_like(state[0])
            steps = torch.arange(window, device=start.device)
            for first in range(0, int(begin.max()), window):
                position = first + steps[: min(window, int(begin.max()) - first)]
                position = position.expand(len(later), -1)
                row = (offsets[later][:, None] + position - 1).clamp(0, n_events - 1)
                clock = None
                if clock_inputs is not None:
                    time, elapsed = clock_inputs
                    clock = network.clock_tokens(time[row], elapsed[row], position)
                remaining = None if lengths is None else lengths[later][:, None] - position
                out, state = network.history(None, tokens[row], position, state, clock, remaining)
                last = begin - 1 - first
                inside = torch.nonzero((last >= 0) & (last < position.shape[1])).squeeze(1)
                carried[inside] = out[inside, last[inside]]
        return initial.index_put((torch.zeros_like(later), later), carried)

    def _time_floors(self) -> dict[int, torch.Tensor]:
        """The smallest value each start or gap token carries, by its head (the stop flag is 0).

        A point carries its value, a bin its lower edge; the missing token
        carries no time (-inf: always allowed).
        """
        encoder = self.event_encoder_
        floors = {}
        for column in (_START, _GAP):
            tokens = encoder.tokens_[column]
            lows = list(tokens.points)
            if tokens.n_bins:
                lows += list(tokens.quantiles.value(np.arange(tokens.n_bins) / tokens.n_bins))
            lows += [-np.inf] * int(tokens.has_missing)
            head = encoder.learned_columns.index(column) + 1
            floors[head] = torch.as_tensor(np.asarray(lows, dtype=np.float64), device=self.device_)
        return floors

    def _numeric_context(self) -> list[tuple[int, int]]:
        """``(position, tokens)`` of the context's numeric columns among its token columns."""
        encoder = self.context_encoder_
        if encoder is None:
            return []
        sizes = encoder.vocab_sizes
        return [
            (i, sizes[i]) for i, c in enumerate(encoder.learned_columns) if c in encoder.tokens_
        ]

    def _has_clock_columns(self) -> bool:
        """Whether the index is learned as start and gap columns (an index, an encoder)."""
        encoder = self.event_encoder_
        if encoder is None or self.layout_["sequence_index"] is None:
            return False
        return {_START, _GAP} <= set(encoder.learned_columns)

    def _clock_tables(self) -> tuple[int, TokenValues, int, TokenValues] | None:
        """The start and gap columns' positions among the event columns and their values.

        None if the index has no start and gap columns (no index, no encoder).
        """
        if not self._has_clock_columns():
            return None
        encoder = self.event_encoder_
        columns = encoder.learned_columns
        found: list[Any] = []
        for column in (_START, _GAP):
            found += [columns.index(column), TokenValues(encoder.tokens_[column], self.device_)]
        return (found[0], found[1], found[2], found[3])

    def _length_batches(self, lengths: torch.Tensor) -> tuple[int, Iterator[torch.Tensor]]:
        """Steps per epoch, and entity batches of similar lengths in a random batch order.

        Every epoch shuffles the entities, sorts them stably by the doubling bucket
        of their length, cuts batches and shuffles the batches: each batch's
        window is as long as its longest history, not the longest of all.
        """
        n = len(lengths)
        size = self.batch_size
        bucket = torch.log2(lengths.float() + 1).floor()

        def batches() -> Iterator[torch.Tensor]:
            while True:
                shuffled = torch.randperm(n, device=self.device_)
                order = shuffled[torch.sort(bucket[shuffled], stable=True).indices]
                chunks = list(torch.split(order, size))
                for position in torch.randperm(len(chunks)).tolist():
                    yield chunks[position]

        return max(-(-n // size), 1), batches()

    # -------------------------------------------------------------- sample
    def _sample_events(
        self,
        context: torch.Tensor,
        masks: tuple[dict[int, torch.Tensor], ...],
        prefix: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        lengths: torch.Tensor | None = None,
        bounds: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        entities, positions, drawn, values = [], [], [], []
        with one_cpu_thread(self.device_):
            for start in range(0, len(context), _CHUNK):
                chunk = slice(start, start + _CHUNK)
                part = None if prefix is None else tuple(given[chunk] for given in prefix)
                wanted = None if lengths is None else lengths[chunk]
                limits = None if bounds is None else bounds[chunk]
                e, p, t, v = self._sample_chunk(context[chunk], masks, part, wanted, limits)
                entities.append(e + start)
                positions.append(p)
                drawn.append(t)
                values.append(v)
            entity = torch.cat(entities)
            # Events were drawn position by position; group them by entity, in order.
            order = torch.sort(entity, stable=True).indices
            steps = None if values[0] is None else torch.cat(values)[order]
            return entity[order], torch.cat(positions)[order], torch.cat(drawn)[order], steps

    def _sample_chunk(
        self,
        context: torch.Tensor,
        masks: tuple[dict[int, torch.Tensor], ...],
        prefix: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        lengths: torch.Tensor | None = None,
        bounds: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Draw one chunk of entities' histories, one GRU step per event position.

        Entities with ``prefix`` events read them as their own first events: at
        those positions the drawn columns are replaced by the given ones (which
        the next step reads) and the stop flag is ignored, so a history never
        ends before its prefix; only the events after it are returned. With
        ``lengths`` the stop flag is not drawn at all: an entity goes on (its
        flag set to "go on", which the columns after it read, as in training)
        until it has its given number of events, and stops there. With
        ``bounds`` (each entity's bound on the index), the start and gap tokens
        that would carry a time past it are not drawn.
        """
        network = self.network_
        device = self.device_
        n_columns = network.n_event_columns
        n_heads = network.n_heads
        min_length, max_length = self.layout_["min_length"], self.layout_["max_length"]
        seeded_tokens, seeded_lengths, seeded_steps = prefix if prefix is not None else (None,) * 3
        longest = 0 if prefix is None or not len(seeded_lengths) else int(seeded_lengths.max())
        last = max(max_length, longest)
        if lengths is not None:
            last = int(lengths.max()) if len(lengths) else 0
        sampler = network.sampler(masks, last + 1)
        # Each position's calibration offset, read once (length_calibration).
        stop_offsets = np.zeros(last + 1)
        if self.layout_.get("stop_offsets"):
            buckets = position_buckets(torch.arange(last + 1)).numpy()
            stop_offsets = np.asarray(self.layout_["stop_offsets"])[buckets]
        vectors = network.encode_context(context)
        state = network.initial_state(vectors)[0]
        context_part = sampler.context_part(vectors)
        alive = torch.arange(len(context), device=device)
        previous = torch.zeros((len(context), n_columns), dtype=torch.long, device=device)
        recall_table = None
        if network.n_recall:
            layout = self.layout_["recall"]
            sizes = self.event_encoder_.vocab_sizes
            recall_table = RecallTable(layout, sizes, len(context), device)
            key_head = None if layout["key"] is None else 1 + layout["key"]
        # Each drawn start and gap gets its value here, for every model with them: the
        # time inputs read it, the bound limits it and the decoder keeps it.
        timed = network.clock_buckets > 0
        tables = self._clock_tables()
        floors = None if tables is None or bounds is None else self._time_floors()
        index_range = self.layout_.get("index_range")
        # The previous event's time and the first event's time, as training computes them.
        time = torch.zeros(len(context), dtype=torch.float64, device=device)
        origin = torch.zeros_like(time)
        entities, positions, drawn, values = [], [], [], []
        for position in range(last + 1):
            clock = None
            if timed and position:
                where = torch.full_like(alive, position)
                left = time if bounds is None else bounds[alive] - time
                clock = network.clock_tokens(left, time - origin, where)
            remaining = None if lengths is None else lengths[alive] - position
            state = sampler.step(previous, position, state, clock, remaining)
            projected = sampler.projected(state, context_part)
            # One uniform per head and entity, drawn before the stopped ones leave.
            uniform = torch.rand(len(alive), n_heads, device=device)
            tokens = torch.zeros((len(alive), n_heads), dtype=torch.long, device=device)
            first = position == 0
            seeded = None if position >= longest else seeded_lengths[alive] > position
            # Every real entity had at least min_length events; given lengths decide alone.
            if lengths is not None or position >= min_length:
                if lengths is not None:  # the flag stays "go on" (token 0) for those going
                    going = lengths[alive] > position
                elif position >= max_length:  # no real history was longer
                    going = torch.zeros(len(alive), dtype=torch.bool, device=device)
                else:
                    shift = float(stop_offsets[position])
                    going = sampler.draw(0, projected, tokens, uniform[:, 0], first, shift) == 0
                if seeded is not None:
                    going = going | seeded
                if not bool(going.all()):
                    # Stopped entities leave the batch: later positions compute only the rest.
                    keep = going.nonzero().squeeze(1)
                    if len(keep) == 0:
                        break
                    alive, state, context_part = alive[keep], state[keep], context_part[keep]
                    projected, tokens, uniform = projected[keep], tokens[keep], uniform[keep]
                    seeded = None if seeded is None else seeded[keep]
                    time, origin = time[keep], origin[keep]
                    if recall_table is not None:
                        recall_table.keep(keep)
            # The start and gap are drawn among the tokens that keep the history within
            # its bound: the history goes on to its drawn length, as real ones do.
            room = None if floors is None else bounds[alive] - (0.0 if first else time)
            # The first time's head reads the entity's bound (start_head).
            start_offsets = None
            if first and network.start_bound is not None and bounds is not None:
                start_offsets = network.start_bound_logits(bounds[alive], context[alive])
            recalled = None if recall_table is None else recall_table.slots(None)
            for head in range(1, n_heads):
                allowed = None
                if room is not None and head in floors:
                    allowed = floors[head][None, :] <= room[:, None]
                # start_bound exists only with time inputs, so with the clock tables.
                starts = start_offsets is not None and head == tables[0] + 1
                added = start_offsets if starts else None
                tokens[:, head] = sampler.draw(
                    head,
                    projected,
                    tokens,
                    uniform[:, head],
                    first,
                    allowed=allowed,
                    logit_offsets=added,
                    recall=recalled,
                )
                if recall_table is not None and head == key_head:
                    recalled = recall_table.slots(tokens[:, head])
            step = None
            if tables is not None:
                # The drawn time step's value, as decoding would draw it; within the bound
                # where the tokens were kept within it (a straddling bin stops at it).
                start_column, start_values, gap_column, gap_values = tables
                level = torch.rand(len(alive), dtype=torch.float64, device=device)
                if first:
                    step = start_values.draw(tokens[:, start_column + 1], level)
                    if index_range is not None:
                        step = step.clamp(*index_range)
                else:
                    step = gap_values.draw(tokens[:, gap_column + 1], level).clamp_min(0.0)
                if room is not None:  # a value drawn in a bin that straddles the bound
                    step = torch.minimum(step, room)
            if seeded is not None and bool(seeded.any()):
                # Given events replace the drawn ones; the next step reads them.
                rows = seeded.nonzero().squeeze(1)
                tokens[rows, 1:] = seeded_tokens[alive[rows], position]
                if step is not None:
                    step[rows] = seeded_steps[alive[rows], position]
                new = (~seeded).nonzero().squeeze(1)
            else:
                new = None
            previous = tokens[:, 1:]
            if recall_table is not None:
                recall_table.record(previous)
            if step is not None:
                time = step if first else time + step
                origin = time if first else origin
            if new is None:
                entities.append(alive)
                positions.append(torch.full_like(alive, position))
                drawn.append(previous)
                values.append(step)
            elif len(new):
                entities.append(alive[new])
                positions.append(torch.full_like(alive[new], position))
                drawn.append(previous[new])
                values.append(None if step is None else step[new])
        if not entities:
            empty = torch.zeros(0, dtype=torch.long, device=device)
            none_drawn = torch.zeros((0, n_columns), dtype=torch.long, device=device)
            no_steps = None if tables is None else empty.to(torch.float64)
            return empty, empty, none_drawn, no_steps
        steps = None if tables is None else torch.cat(values)
        return torch.cat(entities), torch.cat(positions), torch.cat(drawn), steps


def sequence_schedule(
    n_events: int, n_entities: int, longest: int | None = None
) -> dict[str, float]:
    """Epochs, batch size and learning rate of a sequence model, by the data's size.

    A history of ``k`` events is ``k + 1`` positions (the last one stops it).
    The epochs give about 480,000 positions in all, between 1 and 12 passes
    (small sets train more passes, a set of millions of events fewer); a batch
    holds about 4,096 positions. A whole fit takes at least ``6.4 * sqrt(entities)``
    optimizer steps (250 at least: 1,500 NAFLD patients take 250, all 8,774 of
    them 600): batches hold fewer entities, down to half a batch's positions, and
    then more passes are run. The fixed floor of 250 steps, enough for smaller
    sets, left all of NAFLD under-fitted (2 passes: entity detection AUC 0.86 against
    0.76 with 5), while 600 steps on 1,500 patients memorized them (entity DCR
    share 0.54). ``longest`` (positions of the longest history) caps the positions
    a batch of the longest histories can hold. ``SequenceSynthesizer("ar")`` uses
    it when ``epochs`` is ``None``; a model that fits sequence models of its own
    (child tables) can call it too.

    Args:
        n_events: Events of all entities.
        n_entities: Entities, those without events included.
        longest: The longest history's positions (events plus one), if known.

    Returns:
        ``{"epochs": int, "batch_size": int, "learning_rate": float}``.

    Example:
        >>> sequence_schedule(3_000, 1_000)
        {'epochs': 12, 'batch_size': 48, 'learning_rate': 0.003}
        >>> sequence_schedule(198_970, 8_774, longest=65)
        {'epochs': 5, 'batch_size': 73, 'learning_rate': 0.003}
        >>> sequence_schedule(2_250_000, 50_000)
        {'epochs': 2, 'batch_size': 69, 'learning_rate': 0.003}
    """
    positions = max(n_events + n_entities, 1)
    entities = max(n_entities, 1)
    low, high = _SCHEDULE_EPOCHS
    epochs = int(min(high, max(low, round(_SCHEDULE_POSITIONS / positions))))
    per_entity = positions / entities
    if longest is not None:  # batches hold similar lengths: the longest set the window
        per_entity = max(per_entity, min(longest, 64) / 2)
    steps = max(_SCHEDULE_MIN_STEPS, round(_SCHEDULE_STEPS_PER_ROOT * math.sqrt(entities)))
    smallest = max(_SCHEDULE_BATCH[0], round(_STEP_POSITIONS / 2 / per_entity))
    epochs = int(min(high, max(epochs, math.ceil(steps * smallest / entities))))
    low, high = _SCHEDULE_BATCH
    batch = round(_STEP_POSITIONS / per_entity)
    batch = min(batch, entities * epochs // steps)
    batch = int(min(high, max(low, batch)))
    return {"epochs": epochs, "batch_size": batch, "learning_rate": _SCHEDULE_LEARNING_RATE}


def _event_times(
    steps: torch.Tensor, offsets: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each event's time and time since its entity's first event, from its exact time steps."""
    entity = torch.repeat_interleave(torch.arange(len(lengths), device=steps.device), lengths)
    total = steps.to(torch.float64).cumsum(dim=0)
    before = torch.where(offsets > 0, total[(offsets - 1).clamp_min(0)], 0.0)
    times = total - before[entity]
    return times, times - times[offsets[entity]]


def _set_clock_edges(network: SequenceNetwork, times: torch.Tensor, elapsed: torch.Tensor) -> None:
    """Cut the time inputs at the quantiles of the training events' times."""
    levels = np.linspace(0, 1, network.clock_buckets + 1)[1:-1]
    for i, values in enumerate((times, elapsed)):
        values = values.cpu().numpy()
        values = values[np.isfinite(values)]  # an entity without a bound has infinite time left
        found = np.quantile(values, levels) if len(values) else levels
        network.clock_edges[i] = torch.as_tensor(found, dtype=network.clock_edges.dtype)


def _shuffled_batches(n: int, size: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Batches of ``size`` entities from a new permutation of all ``n`` every pass."""
    while True:
        yield from torch.split(torch.randperm(n, device=device), size)


def _tiles(length: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random tile of each history's positions, and the number of tiles.

    A history of ``L`` events has ``L + 1`` positions (the last one only stops).
    One that fits the window is one tile; a longer one is cut into tiles of
    ``window`` positions at a random offset and one tile is drawn uniformly, so
    every position is equally likely to be trained, its last (the stop) included.

    Returns:
        Each tile's first position, the position after its last, and the number
        of tiles of its history.

    Example:
        >>> start, end, n = _tiles(torch.tensor([3, 100]), 8)
        >>> start[0].item(), end[0].item(), n[0].item()
        (0, 4, 1.0)
        >>> bool(end[1] - start[1] <= 8) and 13 <= n[1].item() <= 14
        True
    """
    n_positions = length + 1
    long = n_positions > window
    offset = (torch.rand(len(length), device=length.device) * window).long() * long
    n_tiles = torch.div(length + offset, window, rounding_mode="floor") + 1
    n_tiles = torch.where(long, n_tiles, torch.ones_like(n_tiles))
    tile = (torch.rand(len(length), device=length.device) * n_tiles).long()
    tile = torch.minimum(tile, n_tiles - 1)
    start = (tile * window - offset).clamp_min(0)
    end = torch.minimum((tile + 1) * window - offset, n_positions)
    return start, end, n_tiles.float()
