"""The sequence template: entities with event histories and their context.

:class:`SequenceSynthesizer` turns a :class:`~synthkit.schema.SequenceDataset`
(long-format events keyed by entity, ordered by an index) and an optional
context table (one row per entity) into what a sequence model learns from:

* an **entity table**: the context columns plus the event columns that never
  change within an entity (moved there at fit, so they stay constant), modelled
  by a registered table model (``context_model``) fitted as a submodel;
* **event tokens**: every other event column discretized as the table
  autoregressive model does, plus the index as two derived columns: the first
  event's time and the gap since the previous event (never negative; ties are
  gaps of zero);
* each entity's number of events, which the model learns as a stop flag.

A subclass implements :meth:`SequenceSynthesizer._fit_events` and
:meth:`SequenceSynthesizer._sample_events` on tensors; this class validates,
encodes, draws contexts and keys, and decodes. Parameters, seeding, the epoch
loop and persistence come from :class:`~synthkit.generators.base.BaseSynthesizer`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from synthkit._params import Constraint, Interval
from synthkit._runtime import seed_from, torch_seeded
from synthkit.errors import ConditionError, DataError, ParameterError
from synthkit.generators.base import BaseSynthesizer
from synthkit.generators.conditions import parse_conditions
from synthkit.generators.registry import GENERATORS
from synthkit.generators.sequential import length_calibration
from synthkit.generators.sequential.network import N_POSITION_BUCKETS
from synthkit.generators.sequential.private import (
    Domains,
    EntityBudget,
    context_encoder,
    event_encoder,
    private_budget,
    private_context_params,
    public_domains,
    spent_privacy,
)
from synthkit.generators.sequential.registry import SEQUENCE_GENERATORS
from synthkit.metadata import Metadata
from synthkit.pii.ids import describe_ids, generate_ids
from synthkit.privacy.preprocessing import protected_range
from synthkit.processing.columns import NumericTransform, transform_from_state
from synthkit.processing.discretizer import Discretizer
from synthkit.rules._private import rules_for_private_fit
from synthkit.rules._transform import RuleTransform
from synthkit.schema.sequences import SequenceDataset, SequenceError

__all__ = ["SequenceSynthesizer", "SyntheticSequences", "one_cpu_thread"]

# Names of the derived index columns; the event discretizer learns them as numbers.
_START = "__sequence_start__"
_GAP = "__sequence_gap__"
# A column moves to the entity table only if this many entities show it constant
# over several events (one or two multi-event entities prove nothing).
_MIN_REPEATED_ENTITIES = 3
# Event conditions: rounds of drawing (each redraws the entities still missing) and
# the most entities drawn per entity asked for, before giving up with the rate seen.
_MAX_EVENT_ROUNDS = 20
# A context model given neither epochs nor batch size trains for at least this many
# steps (and at most this many epochs): see _context_schedule.
_CONTEXT_STEPS = 300
_CONTEXT_MAX_EPOCHS = 15
_MAX_EVENT_FACTOR = 200


class _Text(Constraint):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value)

    def __str__(self) -> str:
        return "a registered table model name such as 'ar'"


class _Params(Constraint):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping) and all(isinstance(k, str) for k in value)

    def __str__(self) -> str:
        return "a dict of parameters for the context model"


class SyntheticSequences(SequenceDataset):
    """A :class:`~synthkit.schema.SequenceDataset` with the entities' context table.

    Attributes:
        context: One row per entity (keyed by ``sequence_key``, entities without
            events included), or ``None`` when the model was fitted without context.

    Example:
        >>> events = pd.DataFrame({"user": [1, 1, 2], "day": [1, 2, 1]})
        >>> data = SyntheticSequences(events, "user", "day",
        ...                           context=pd.DataFrame({"user": [1, 2, 3]}))
        >>> data.n_entities, len(data.context)
        (2, 3)
    """

    def __init__(
        self,
        data: pd.DataFrame,
        sequence_key: str,
        sequence_index: str | None = None,
        *,
        metadata: Metadata | None = None,
        context: pd.DataFrame | None = None,
    ) -> None:
        super().__init__(data, sequence_key, sequence_index, metadata=metadata)
        self.context = context


@dataclass(frozen=True)
class _Prefix:
    """Seed events of given entities, checked and encoded, grouped by entity in row order.

    Attributes:
        events: The seed events with the fitted columns and dtypes.
        entity: The entity (context row) of each seed event.
        tokens: ``[entities, longest prefix, columns]`` tokens, zero-padded.
        lengths: Seed events per entity.
        origin: Each entity's last seed time on the index's numeric scale (0 if none).
        constants: Constant event columns per entity from its first seed event
            (missing for entities without seed events).
    """

    events: pd.DataFrame
    entity: np.ndarray
    tokens: torch.Tensor
    lengths: torch.Tensor
    origin: np.ndarray
    constants: pd.DataFrame

    def subset(self, rows: np.ndarray) -> _Prefix:
        """The prefix of entities ``rows`` only, renumbered in that order."""
        lookup = np.full(len(self.origin), -1)
        lookup[rows] = np.arange(len(rows))
        keep = lookup[self.entity] >= 0
        entity = lookup[self.entity[keep]]
        order = np.argsort(entity, kind="stable")
        index = torch.as_tensor(rows)
        return _Prefix(
            self.events[keep].iloc[order].reset_index(drop=True),
            entity[order],
            self.tokens[index],
            self.lengths[index],
            self.origin[rows],
            self.constants.iloc[rows].reset_index(drop=True),
        )


class _SequenceDispatch(type):
    """``SequenceSynthesizer("ar", **params)`` builds the registered class for that name."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is SequenceSynthesizer:
            if args:
                model, args = args[0], args[1:]
            elif "model" in kwargs:
                model = kwargs.pop("model")
            else:
                raise ParameterError(
                    "Name a sequence model, e.g. SequenceSynthesizer('ar'); known: "
                    f"{SEQUENCE_GENERATORS.names()}."
                )
            return SEQUENCE_GENERATORS.get(model)(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class SequenceSynthesizer(BaseSynthesizer, metaclass=_SequenceDispatch):
    """A generative model of entities with event histories and their context.

    ``SequenceSynthesizer(model, **params)`` builds the sequence model registered
    under ``model`` (``"ar"``). ``fit`` takes a
    :class:`~synthkit.schema.SequenceDataset` (or a frame with ``sequence_key``
    and ``sequence_index``) and optionally a context table with one row per
    entity; ``sample`` returns a :class:`SyntheticSequences` with new entity
    keys shaped like the real ones (never real ones).

    Attributes:
        metadata_: The events' :class:`~synthkit.metadata.Metadata` (column kinds
            and rules of the key, index and event columns), set by ``fit`` and
            kept in the model file.

    Example:
        >>> import synthkit
        >>> events = pd.DataFrame({"user": [1, 1, 2, 2, 2, 3] * 20,
        ...                        "day": [1, 3, 1, 1, 4, 2] * 20,
        ...                        "spent": [5.0, 7.5, 2.0, 3.0, 9.0, 1.0] * 20})
        >>> events["user"] += np.repeat(np.arange(20) * 10, 6)
        >>> model = synthkit.SequenceSynthesizer("ar", epochs=1, verbose=False, random_state=0)
        >>> synthetic = model.fit(events, sequence_key="user", sequence_index="day").sample(5)
        >>> list(synthetic.data.columns), synthetic.n_entities
        (['user', 'day', 'spent'], 5)
        >>> model.metadata_.kind("spent")
        'numerical'
    """

    #: The data shape, which names this registry in model files.
    data_shape: ClassVar[str] = "sequences"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "context_model": [_Text(), None],
        "context_params": [_Params(), None],
        "n_bins": [Interval(int, 1, None)],
        "max_points": [Interval(int, 1, None)],
    }

    # ------------------------------------------------------------------- fit
    def fit(
        self,
        data: SequenceDataset | pd.DataFrame,
        context: pd.DataFrame | None = None,
        *,
        sequence_key: str | None = None,
        sequence_index: str | None = None,
        metadata: Metadata | None = None,
        context_metadata: Metadata | None = None,
    ) -> SequenceSynthesizer:
        """Learn the entities' histories (and, given, their context).

        Args:
            data: The events: a :class:`~synthkit.schema.SequenceDataset`, or a
                frame with ``sequence_key`` (and ``sequence_index``) naming its keys.
            context: One row per entity, keyed by the same ``sequence_key``
                column; rows without events are entities with none.
            sequence_key: The entity column of a frame ``data``.
            sequence_index: The order column of a frame ``data`` (a number or a
                datetime); ``None`` keeps the row order.
            metadata: Column kinds of a frame ``data``; detected when omitted.
            context_metadata: The context's column kinds and rules (a declared
                :class:`~synthkit.rules.Formula` is kept by private fits too);
                defaults to ``data.context_metadata``, else detected.

        Returns:
            ``self``, fitted.

        Raises:
            DataError: For missing or bad keys, a context with missing, null or
                duplicate keys, events of entities the context lacks, or an index
                that is neither a number nor a datetime.
            ParameterError: For invalid parameters or an unavailable device.
        """
        device, seed = self._start_fit()
        sequences = _as_sequences(data, sequence_key, sequence_index, metadata)
        if context is None:
            context = getattr(sequences, "context", None)
        if context_metadata is None:
            context_metadata = getattr(sequences, "context_metadata", None)
        key, index = sequences.sequence_key, sequences.sequence_index
        events = sequences.data
        # Rules store exact real values (extremes, a reference, the smallest gap).
        fit_metadata = sequences.metadata
        if getattr(self, "epsilon", None) is not None:
            fit_metadata = rules_for_private_fit(fit_metadata, "these sequences")
        if len(events) == 0:
            raise DataError("The sequence data has no events; pass at least one event.")
        context = _check_context(context, key, events)
        entity_keys = context[key] if context is not None else pd.Series(pd.unique(events[key]))
        codes = pd.Index(entity_keys).get_indexer(events[key])
        order = np.argsort(codes, kind="stable")  # entities together, events kept in order
        events = events.iloc[order].reset_index(drop=True)
        codes = codes[order]
        n_entities = len(entity_keys)
        lengths = np.bincount(codes, minlength=n_entities)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        positions = np.arange(len(events)) - offsets[codes]

        event_columns = [c for c in events.columns if c not in (key, index)]
        # Without a context model the contexts are always given at sampling (a record
        # model passes synthetic parents), so constant columns stay event columns.
        constant = (
            _constant_columns(events, codes, lengths, event_columns)
            if self.context_model is not None
            else []
        )
        entity_table, entity_metadata = _entity_table(
            context, key, events, constant, lengths, offsets, fit_metadata, context_metadata
        )
        learned = [c for c in event_columns if c not in constant]
        event_meta = {c: fit_metadata.column(c) for c in learned}
        index_transform = None
        if index is not None:
            index_transform = _index_transform(events, index, fit_metadata)
            event_meta[_START] = event_meta[_GAP] = {"kind": "numerical"}
        # Rules within events: those reading the index (``tstop > tstart``) are kept
        # here, since the index is learned as start and gaps; the others by the encoder.
        index_rules = _index_rules(events, index, learned, fit_metadata)
        if index_rules is not None:
            model_metadata = index_rules.model_metadata(fit_metadata)
            for column in index_rules.columns:
                event_meta[column] = model_metadata.column(column)
        frame = _learned_frame(events, positions, learned, index, index_transform, index_rules)
        event_rules = [
            rule.to_dict()
            for rule in getattr(fit_metadata, "rules", [])
            if set(rule.columns) <= set(learned)
            and not (index_rules is not None and set(rule.columns) & index_rules.columns)
        ]

        # A private fit (epsilon set) splits its budget between the entity table and
        # the events; the unit is the entity (synthkit.generators.sequential.private).
        budget = private_budget(self, n_entities, has_context=bool(entity_table.shape[1]))
        domains = None
        if budget is not None:
            domains = public_domains(
                self,
                [c for c in frame.columns if c not in (_START, _GAP)],
                list(entity_table.columns),
                index,
                None if index_transform is None else index_transform.values,
                _START,
                _GAP,
            )
        with torch_seeded(seed, device):
            self.device_ = device
            self.context_model_ = None
            self.context_encoder_ = None
            if entity_table.shape[1] and self.context_model is not None:
                model = self._new_context_model(
                    seed, budget, n_rows=len(entity_table), domains=domains
                )
                with one_cpu_thread(device):
                    self.context_model_ = model.fit(entity_table, entity_metadata)
            if entity_table.shape[1]:
                self.context_encoder_ = context_encoder(
                    self, entity_table, entity_metadata, budget, seed, domains
                )
            context_tokens = self._context_tokens(entity_table, seed)
            self.event_encoder_ = None
            tokens = torch.zeros((len(events), 0), dtype=torch.long, device=device)
            if frame.shape[1]:
                event_metadata = Metadata.from_dict({"columns": event_meta, "rules": event_rules})
                self.event_encoder_ = event_encoder(
                    self, frame, event_metadata, lengths, budget, seed, _START, _GAP, domains
                )
                tokens = self.event_encoder_.encode(frame, random_state=seed, device=device)
            elif budget is not None:
                raise ParameterError(
                    "A private sequence fit learns event columns; these events have none "
                    "besides the key (no index, no changing column). Fit without epsilon."
                )
            self._entity_budget = budget
            self.layout_ = {
                "sequence_key": key,
                "sequence_index": index,
                "event_columns": list(sequences.data.columns),
                "event_dtypes": {c: str(t) for c, t in sequences.data.dtypes.items()},
                "event_metadata": fit_metadata.to_dict(),
                "context_columns": None if context is None else list(context.columns),
                "constant_columns": constant,
                "entity_columns": list(entity_table.columns),
                "key_entry": _key_entry(entity_keys),
                "key_dtype": str(entity_keys.dtype),
                "index_transform": None if index_transform is None else index_transform.state(),
                "index_rules": None if index_rules is None else index_rules.state(),
                "index_range": _index_range(self, index_transform, events, index, budget),
                "min_length": int(lengths.min()),
                "max_length": int(lengths.max()),
                "n_entities": n_entities,
            }
            self._index_transform = index_transform
            self._index_rules = index_rules
            self.metadata_ = fit_metadata
            self.loss_history_ = pd.DataFrame()
            self._fit_events(
                tokens,
                torch.as_tensor(offsets, device=device),
                torch.as_tensor(lengths, device=device),
                context_tokens,
            )
            self.layout_["stop_offsets"] = None
            if budget is None:
                self._calibrate_lengths(entity_table, lengths, seed)
            self.privacy_budget_ = None if budget is None else spent_privacy(self, budget)
            self.epsilon_spent_ = None if budget is None else self.privacy_budget_["epsilon_spent"]
            self.delta_ = None if budget is None else budget.delta
        self.n_entities_fitted_ = n_entities
        # Under DP the event count is not kept: one entity's history length moves it.
        self.n_rows_fitted_ = len(events) if budget is None else None
        return self

    def _new_context_model(
        self,
        seed: int,
        budget: EntityBudget | None = None,
        n_rows: int | None = None,
        domains: Domains | None = None,
    ) -> BaseSynthesizer:
        params = {"random_state": seed, "device": self.device, "verbose": self.verbose}
        model_class = GENERATORS.get(self.context_model)
        given = self.context_params or {}
        if budget is None and n_rows and not {"epochs", "batch_size"} & set(given):
            params.update(_context_schedule(model_class, n_rows))
        params.update(given)
        if budget is not None:
            private = private_context_params(model_class, self.context_model, budget, domains)
            for name in ("bounds", "categories"):
                if name in private and given.get(name):  # the context model's own first
                    private[name] = {**private[name], **given[name]}
            params.update(private)
        return model_class(**params)

    def _context_tokens(self, entity_table: pd.DataFrame, seed: int) -> torch.Tensor:
        if self.context_encoder_ is None:
            return torch.zeros((len(entity_table), 0), dtype=torch.long, device=self.device_)
        return self.context_encoder_.encode(entity_table, random_state=seed, device=self.device_)

    def _fit_events(
        self,
        tokens: torch.Tensor,
        offsets: torch.Tensor,
        lengths: torch.Tensor,
        context: torch.Tensor,
    ) -> None:
        """Learn the events from tensors on the model's device (models implement).

        Args:
            tokens: ``[events, columns]`` event tokens, grouped by entity in order.
            offsets: Each entity's first row in ``tokens``.
            lengths: Each entity's number of events (0 for context rows without any).
            context: ``[entities, columns]`` context tokens (possibly no columns).
        """
        raise NotImplementedError

    def _sample_events(
        self,
        context: torch.Tensor,
        masks: tuple[dict[int, torch.Tensor], ...],
        prefix: tuple[torch.Tensor, torch.Tensor] | None = None,
        lengths: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw histories for ``[entities, columns]`` context tokens (models implement).

        ``masks`` holds, for the first event and for later ones, the tokens each
        restricted event column may take (the index's start and gap columns).
        ``prefix``, when given, is ``([entities, positions, columns] tokens,
        [entities] lengths)``: each entity's first events, which the model reads
        as its own (it never stops before they end) and does not return.

        Returns:
            The entity and position of every drawn event, grouped by entity in
            order, and its ``[events, columns]`` tokens.
        """
        raise NotImplementedError

    # ---------------------------------------------------------------- sample
    def sample(
        self,
        n_entities: int | None = None,
        *,
        context: pd.DataFrame | None = None,
        conditions: Mapping[str, Any] | None = None,
        event_conditions: Mapping[str, Any] | None = None,
        seed_events: pd.DataFrame | None = None,
        lengths: Any = None,
        random_state: int | np.random.Generator | None = None,
    ) -> SyntheticSequences:
        """Draw synthetic entities with their histories.

        Args:
            n_entities: Number of entities (with their context drawn by the
                context model); some may have no events where real entities had none.
            context: Instead of ``n_entities``: one history is drawn for each of
                these context rows, which keep their values (and their key when
                they have the key column; otherwise new keys are made). Entity
                columns the rows lack (event columns constant within an entity)
                are drawn given the rows.
            conditions: ``{context column: value | [values] | (low, high)}`` met
                exactly in every drawn context row.
            event_conditions: ``{event column: value | [values] | (low, high)}``:
                every entity gets at least one event meeting all of them at once
                (for example ``{"fraud": 1}``). Entities are drawn in batches and
                those without such an event are drawn again (with ``context``
                given, only their histories; otherwise context and history
                together, so the context follows the condition too); conditions
                on event columns constant within entities are met exactly.
            seed_events: With ``context`` (and its key column): events (key,
                index and every event column) that begin some or all of the
                given entities' histories. Each history continues after its
                seed events, from the last one's time, and the output holds them
                unchanged followed by the new events; entities without seed
                events get whole new histories.
            lengths: Each entity's number of events, aligned by position with the
                ``context`` rows (or with ``n_entities``, which may then be left
                out): non-negative integers. The model draws no end of history
                before an entity has its count and ends it there, so every
                history has exactly that many events (seed events included, so a
                count must not be below an entity's seed events; 0: no events).
                Times that would pass the learned range of the index stay at its
                end instead of ending the history early. A record model passes
                the child counts it drew per parent this way.
            random_state: Seed for reproducible samples.

        Returns:
            A :class:`SyntheticSequences`: ``.data`` the events with the real
            columns and dtypes, ``.context`` the entities' context (or ``None``).

        Raises:
            NotFittedError: Before :meth:`fit`.
            ParameterError: For a bad ``n_entities``, both ``n_entities`` and
                ``context``, ``seed_events`` without ``context``, or ``lengths``
                that are not one non-negative integer per entity (or that give an
                entity fewer events than its seed events).
            ConditionError: For conditions on unknown columns or that cannot be
                met, stating the share of entities that met them.
            DataError: For a context without the fitted context columns or with
                null or duplicate keys, and for seed events of entities the
                context lacks, with missing or extra columns, values of the wrong
                type or an index that decreases within an entity.

        Example:
            >>> events = pd.DataFrame({"card": np.repeat(np.arange(40), 3),
            ...                        "month": np.tile([1, 2, 3], 40),
            ...                        "late": np.tile([0, 0, 1], 40)})
            >>> cards = pd.DataFrame({"card": np.arange(40), "limit": np.arange(40) % 4})
            >>> model = SequenceSynthesizer("ar", epochs=1, verbose=False, random_state=0,
            ...                             context_params={"epochs": 1})
            >>> model = model.fit(events, cards, sequence_key="card", sequence_index="month")
            >>> out = model.sample(context=cards.head(2), seed_events=events.head(2))
            >>> out.data.head(2).equals(events.head(2))
            True
            >>> late = model.sample(5, event_conditions={"late": 1}, random_state=0)
            >>> bool(late.data.groupby("card")["late"].max().eq(1).all())
            True
        """
        self._check_fitted()
        layout = self.layout_
        key = layout["sequence_key"]
        seed = seed_from(random_state)
        wanted = self._event_conditions(event_conditions)
        if lengths is not None and n_entities is None and context is None:
            n_entities = _entity_count(lengths)
        if context is not None:
            if n_entities is not None and n_entities != len(context):
                raise ParameterError(
                    f"n_entities={n_entities!r} but {len(context)} context rows were given; "
                    "pass one of them (one history is drawn per context row)."
                )
            if conditions:
                raise ParameterError(
                    "conditions apply to drawn context rows; with context=... given, select "
                    "the rows you want instead."
                )
            prefix = None
            if seed_events is not None:
                if not isinstance(context, pd.DataFrame) or key not in context.columns:
                    raise DataError(
                        f"seed_events continue the histories of given entities: pass context "
                        f"rows with the key column {key!r} naming those entities."
                    )
                _check_keys(context, key)
                prefix = self._seed_prefix(seed_events, context[key].to_numpy(), seed)
            counts = None
            if lengths is not None:
                counts = _checked_lengths(lengths, len(context), "context rows")
                _check_lengths_cover(counts, prefix, wanted)
            entity_table, keys = self._given_context(
                context, seed, None if prefix is None else prefix.constants
            )
            events = self._histories_meeting(entity_table, keys, prefix, wanted, seed, counts)
        else:
            if seed_events is not None:
                raise ParameterError(
                    "seed_events continue the histories of given entities; pass them with "
                    f"context=... rows keyed by {key!r} (one per entity), not n_entities."
                )
            if (
                isinstance(n_entities, bool)
                or not isinstance(n_entities, (int, np.integer))
                or n_entities <= 0
            ):
                raise ParameterError(
                    f"n_entities={n_entities!r}: the number of entities must be a positive "
                    "integer (or pass context=... rows)."
                )
            n = int(n_entities)
            counts = None
            if lengths is not None:
                counts = _checked_lengths(lengths, n, "entities (n_entities)")
                if wanted:
                    raise ParameterError(
                        "lengths with event_conditions need the entities' rows: draw the "
                        "contexts first (model.sample(n).context) and pass them as "
                        "context=..., with lengths aligned with those rows."
                    )
            if wanted:
                events, entity_table, keys = self._entities_meeting(n, conditions, wanted, seed)
            else:
                entity_table = self._draw_context(n, conditions, seed)
                keys = self._new_keys(n, seed)
                events = self._histories(entity_table, keys, seed, counts=counts)
        out_context = None
        if layout["context_columns"] is not None:
            out_context = entity_table.reset_index(drop=True).copy()
            out_context[key] = keys
            out_context = out_context[layout["context_columns"]]
        metadata = Metadata.from_dict(layout["event_metadata"])
        return SyntheticSequences(
            events, key, layout["sequence_index"], metadata=metadata, context=out_context
        )

    def _calibrate_lengths(
        self, entity_table: pd.DataFrame, lengths: np.ndarray, seed: int
    ) -> None:
        """Stop-flag offsets by position that bring drawn lengths to the real ``lengths``.

        Histories are drawn for the real entities' own rows (``entity_table``,
        up to ``SAMPLED_ENTITIES`` of them), so the offsets correct how the
        event model ends histories given a context, not the context model; see
        :mod:`~synthkit.generators.sequential.length_calibration`. A model
        without a context model (a record model's child table, whose parents
        and counts are always given) is left as trained.
        """
        if self.context_model is None or len(lengths) < length_calibration.MIN_REACHED:
            return
        rows = np.arange(len(lengths))
        if len(rows) > length_calibration.SAMPLED_ENTITIES:
            rng = np.random.default_rng(seed)
            rows = np.sort(rng.choice(rows, length_calibration.SAMPLED_ENTITIES, replace=False))
        # Each entity's row is drawn from several times when there are few of them, so
        # the drawn hazards are not noisier than the real ones.
        copies = length_calibration.SAMPLED_ENTITIES // len(rows)
        rows = np.tile(rows, min(max(copies, 1), length_calibration.MAX_COPIES))
        table = entity_table.iloc[rows].reset_index(drop=True)
        keys = np.arange(len(rows))
        key = self.layout_["sequence_key"]
        buckets = np.zeros(N_POSITION_BUCKETS)
        for attempt in range(length_calibration.ROUNDS):
            round_seed = int(np.random.SeedSequence([seed, 0x57, attempt]).generate_state(1)[0])
            events = self._histories(table, keys, round_seed)
            drawn = np.bincount(events[key].to_numpy(dtype=np.int64), minlength=len(rows))
            buckets = length_calibration.updated_offsets(
                buckets, lengths[rows], drawn, N_POSITION_BUCKETS
            )
            self.layout_["stop_offsets"] = [round(float(b), 4) for b in buckets]

    def _histories(
        self,
        entity_table: pd.DataFrame,
        keys: np.ndarray,
        seed: int,
        prefix: _Prefix | None = None,
        counts: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """One decoded history per entity row (after its seed events, which lead it).

        ``counts``, when given, is each entity's exact number of events (seed
        events included).
        """
        tensors = None
        with torch_seeded(seed, self.device_):
            self._eval_mode()
            with torch.no_grad():
                tokens = self._context_tokens(entity_table, seed)
                if prefix is not None:
                    tensors = (prefix.tokens.to(self.device_), prefix.lengths.to(self.device_))
                given = None if counts is None else torch.as_tensor(counts, device=self.device_)
                entity, position, event_tokens = self._sample_events(
                    tokens, self._step_masks(), tensors, given
                )
        entity = entity.cpu().numpy()
        events, entity = self._decode_events(
            entity,
            position.cpu().numpy(),
            event_tokens,
            keys,
            entity_table,
            seed,
            None if prefix is None else prefix.origin,
            exact=counts is not None,
        )
        if prefix is None or not len(prefix.events):
            return events
        seeds = prefix.events.assign(**{self.layout_["sequence_key"]: keys[prefix.entity]})
        combined = pd.concat([seeds, events], ignore_index=True)
        # Each entity's seed events first, then its new ones, entities in row order.
        owner = np.concatenate([prefix.entity, entity])
        order = np.lexsort((np.arange(len(combined)), owner))
        return combined.iloc[order].reset_index(drop=True)

    def _event_conditions(self, event_conditions: Mapping[str, Any] | None) -> list[Any]:
        """Parsed event conditions, each checked against the column it names."""
        if not event_conditions:
            return []
        if not isinstance(event_conditions, Mapping):
            raise ConditionError(
                "event_conditions must be a dict such as {'fraud': 1} or {'amount': (100, None)}, "
                f"got {type(event_conditions).__name__}."
            )
        layout = self.layout_
        parsed: list[Any] = []
        for column, value in event_conditions.items():
            if column in (layout["sequence_key"], layout["sequence_index"]):
                raise ConditionError(
                    f"event_conditions cannot name {column!r}, the sequence key or index; "
                    "condition on event columns."
                )
            if column in layout["constant_columns"] and self.context_model_ is not None:
                encoder = self.context_model_.encoder_
            elif self.event_encoder_ is not None and column in self.event_encoder_.columns_:
                encoder = self.event_encoder_
            else:
                columns = [
                    c
                    for c in layout["event_columns"]
                    if c not in (layout["sequence_key"], layout["sequence_index"])
                ]
                raise ConditionError(
                    f"Unknown event condition column {column!r}: event_conditions apply to "
                    f"event columns, which are {columns}; context columns take conditions=..."
                )
            parsed.extend(parse_conditions({column: value}, encoder))
        return parsed

    def _histories_meeting(
        self,
        entity_table: pd.DataFrame,
        keys: np.ndarray,
        prefix: _Prefix | None,
        wanted: list[Any],
        seed: int,
        counts: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Histories of given entities, each redrawn until it has an event meeting ``wanted``."""
        if not wanted:
            return self._histories(entity_table, keys, seed, prefix, counts)
        key = self.layout_["sequence_key"]
        pending = np.arange(len(keys))
        kept: list[pd.DataFrame] = []
        drawn = met_count = 0
        for attempt in range(_MAX_EVENT_ROUNDS):
            sub = None if prefix is None else prefix.subset(pending)
            table = entity_table.iloc[pending].reset_index(drop=True)
            sub_counts = None if counts is None else counts[pending]
            events = self._histories(table, keys[pending], seed + attempt, sub, sub_counts)
            drawn += len(pending)
            accepted = np.isin(keys[pending], _meeting_keys(events, key, wanted))
            met_count += int(accepted.sum())
            kept.append(events[events[key].isin(keys[pending][accepted])])
            pending = pending[~accepted]
            if not len(pending):
                events = pd.concat(kept, ignore_index=True)
                owner = pd.Index(keys).get_indexer(events[key])
                order = np.lexsort((np.arange(len(events)), owner))
                return events.iloc[order].reset_index(drop=True)
        rate = met_count / max(drawn, 1)
        raise ConditionError(
            f"{len(pending)} of {len(keys)} given entities still had no event meeting "
            f"{_described(wanted)} after {_MAX_EVENT_ROUNDS} draws each ({drawn:,} histories "
            f"drawn; about {rate:.1%} of draws met it). The model rarely generates such "
            "events for these entities: loosen the event conditions or give other context rows."
        )

    def _entities_meeting(
        self, n: int, conditions: Mapping[str, Any] | None, wanted: list[Any], seed: int
    ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
        """``n`` new entities whose histories have an event meeting ``wanted``.

        Context and history are drawn together in batches sized by the acceptance
        rate seen so far, and the entities that meet the conditions are kept, so
        their context follows the conditions too.
        """
        key = self.layout_["sequence_key"]
        tables: list[pd.DataFrame] = []
        frames: list[pd.DataFrame] = []
        have = drawn = met_count = 0
        rate = None
        for attempt in range(_MAX_EVENT_ROUNDS):
            need = n - have
            if rate is None:
                batch = need + need // 4 + 16
            else:
                batch = int(min(max(need / max(rate, 1e-4) * 1.2, need + 16), 20 * n + 1_000))
            round_seed = seed + attempt
            table = self._draw_context(batch, conditions, round_seed).reset_index(drop=True)
            events = self._histories(table, np.arange(batch), round_seed)
            met = np.zeros(batch, dtype=bool)
            met[_meeting_keys(events, key, wanted).astype(np.int64)] = True
            drawn += batch
            met_count += int(met.sum())
            rate = met_count / drawn
            taken = np.flatnonzero(met)[:need]
            lookup = np.full(batch, -1)
            lookup[taken] = np.arange(len(taken)) + have
            events = events[np.isin(events[key].to_numpy(), taken)]
            frames.append(events.assign(**{key: lookup[events[key].to_numpy()]}))
            tables.append(table.iloc[taken])
            have += len(taken)
            if have >= n:
                break
            if drawn > _MAX_EVENT_FACTOR * n + 5_000:
                break
        if have < n:
            raise ConditionError(
                f"Only {have} of {n} entities had an event meeting {_described(wanted)} after "
                f"drawing {drawn:,} entities (acceptance rate {rate:.2%}); the model rarely "
                "generates such histories. Loosen the event conditions, add context conditions "
                "that make such events likely, or ask for fewer entities."
            )
        keys = self._new_keys(n, seed)
        events = pd.concat(frames, ignore_index=True)
        codes = events[key].to_numpy(dtype=np.int64)
        order = np.lexsort((np.arange(len(events)), codes))
        events = events.iloc[order].reset_index(drop=True)
        events[key] = keys[codes[order]]
        return events, pd.concat(tables, ignore_index=True), keys

    def _seed_prefix(self, seed_events: Any, context_keys: np.ndarray, seed: int) -> _Prefix:
        """Check, order and encode seed events of the given entities."""
        layout = self.layout_
        key, index = layout["sequence_key"], layout["sequence_index"]
        columns = layout["event_columns"]
        if not isinstance(seed_events, pd.DataFrame):
            raise DataError(
                f"seed_events must be a DataFrame of events; got {type(seed_events).__name__}."
            )
        missing = [c for c in columns if c not in seed_events.columns]
        extra = [c for c in seed_events.columns if c not in columns]
        if missing or extra:
            raise DataError(
                f"seed_events must have the fitted event columns {columns}; "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"unknown {extra}" if extra else "")
                + ". Pass events with exactly those columns."
            )
        seeds = seed_events.loc[:, columns].reset_index(drop=True)
        if seeds[key].isna().any():
            raise DataError(
                f"seed_events has {int(seeds[key].isna().sum())} event(s) without a key in "
                f"{key!r}; every seed event needs the key of its entity."
            )
        entity = pd.Index(context_keys).get_indexer(seeds[key])
        if (entity < 0).any():
            value = _plain(seeds[key][entity < 0].iloc[0])
            raise DataError(
                f"seed_events has events of {int(seeds[key][entity < 0].nunique())} entities "
                f"missing from the context rows (first {key}={value!r}); give each seeded "
                "entity a context row, or drop its seed events."
            )
        dtypes = layout["event_dtypes"]
        for column in columns:
            if column != key:
                seeds[column] = _conformed(seeds[column], dtypes[column])
        order = np.argsort(entity, kind="stable")  # entities in context order, events kept
        seeds, entity = seeds.iloc[order].reset_index(drop=True), entity[order]
        n = len(context_keys)
        lengths = np.bincount(entity, minlength=n)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        positions = np.arange(len(seeds)) - offsets[entity]
        origin = np.zeros(n)
        if index is not None:
            if seeds[index].isna().any():
                raise DataError(
                    f"seed_events has missing values in the index {index!r}; give every seed "
                    "event its time."
                )
            x = self._index_transform.values(seeds[index])
            backwards = (positions > 0) & (np.diff(x, prepend=np.nan) < 0)
            if backwards.any():
                value = _plain(seeds[key][backwards].iloc[0])
                raise DataError(
                    f"The index {index!r} of seed_events decreases within entity "
                    f"{key}={value!r}; order each entity's seed events by {index!r}."
                )
            last = offsets + lengths - 1
            has = lengths > 0
            origin[has] = x[last[has]]
        constant = layout["constant_columns"]
        learned = [c for c in columns if c not in (key, index) and c not in constant]
        n_columns = 0 if self.event_encoder_ is None else len(self.event_encoder_.vocab_sizes)
        tokens = torch.zeros((len(seeds), n_columns), dtype=torch.long)
        if self.event_encoder_ is not None and len(seeds):
            frame = _learned_frame(
                seeds, positions, learned, index, self._index_transform, self._index_rules
            )
            tokens = self.event_encoder_.encode(frame, random_state=seed)
        padded = torch.zeros((n, int(lengths.max(initial=0)), n_columns), dtype=torch.long)
        padded[torch.as_tensor(entity), torch.as_tensor(positions)] = tokens.cpu()
        # Constant columns of seeded entities come from their first seed event.
        constants = seeds[constant].groupby(entity).first().reindex(range(n))
        return _Prefix(seeds, entity, padded, torch.as_tensor(lengths), origin, constants)

    def _new_keys(self, n: int, seed: int) -> np.ndarray:
        # Integer keys continue above the real maximum and patterned string keys use
        # segments disjoint from the real ones, so no real key is ever reused.
        keys = generate_ids(self.layout_["key_entry"], n, seed)
        dtype = self.layout_["key_dtype"]
        return keys.astype(dtype) if dtype != "object" else keys

    def _draw_context(
        self, n: int, conditions: Mapping[str, Any] | None, seed: int
    ) -> pd.DataFrame:
        columns = self.layout_["entity_columns"]
        if conditions:
            if not isinstance(conditions, Mapping):
                raise ConditionError(
                    "conditions must be a dict such as {'sex': 'F'} or {'age': (30, 40)}, "
                    f"got {type(conditions).__name__}."
                )
            unknown = [c for c in conditions if c not in columns]
            if unknown:
                raise ConditionError(
                    f"Unknown condition column(s) {unknown}: conditions apply to context "
                    f"columns, which are {columns}. Condition on one of them."
                )
        if self.context_model_ is None:
            if columns:
                raise ParameterError(
                    "This sequence model was fitted with context_model=None, so it draws no "
                    "contexts; pass context=<one row per entity> to sample()."
                )
            return pd.DataFrame(index=range(n))
        with one_cpu_thread(self.device_):
            return self.context_model_.sample(n, conditions=conditions, random_state=seed)

    def _given_context(
        self, context: pd.DataFrame, seed: int, known: pd.DataFrame | None = None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """The entity table of given context rows, and their keys (new ones if absent).

        Entity columns the rows lack are drawn given the rows, except the cells
        ``known`` holds (constant columns read from seed events), which are kept.
        """
        layout = self.layout_
        key = layout["sequence_key"]
        if not isinstance(context, pd.DataFrame) or len(context) == 0:
            raise DataError("context must be a non-empty DataFrame with one row per entity.")
        if layout["context_columns"] is None and not layout["constant_columns"]:
            raise DataError(
                "This model was fitted without context, so it cannot use context rows; pass "
                "n_entities instead, or refit with context=..."
            )
        given = [c for c in (layout["context_columns"] or []) if c != key]
        missing = [c for c in given if c not in context.columns]
        if missing:
            raise DataError(
                f"The context rows lack the column(s) {missing} the model was fitted on; "
                "pass rows with every context column."
            )
        if key in context.columns:
            _check_keys(context, key)
            keys = context[key].to_numpy()
        else:
            keys = self._new_keys(len(context), seed)
        columns = layout["entity_columns"]
        table = context.reindex(columns=columns).reset_index(drop=True)
        absent = [c for c in columns if c not in context.columns]
        known = known if known is not None else pd.DataFrame(index=table.index)
        for column in absent:
            if column in known.columns:
                table[column] = known[column].to_numpy()
        if absent and table[absent].isna().any().any():
            model = self.context_model_
            with one_cpu_thread(self.device_):
                if "impute" in model.capabilities:
                    filled = model.impute(table, random_state=seed)
                else:  # drawn without regard to the given rows
                    filled = model.sample(len(table), random_state=seed)
            for column in absent:
                values = filled[column].reset_index(drop=True)
                if column in known.columns:
                    values = values.where(known[column].isna().to_numpy(), known[column])
                table[column] = values.to_numpy()
        return table, keys

    def _step_masks(self) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
        """Allowed tokens of the start and gap columns at the first and later events."""
        first: dict[int, torch.Tensor] = {}
        later: dict[int, torch.Tensor] = {}
        encoder = self.event_encoder_
        if encoder is None or self.layout_["sequence_index"] is None:
            return first, later
        columns = encoder.learned_columns
        for column, (at_first, at_later) in {_START: (False, True), _GAP: (True, False)}.items():
            if column not in columns:
                continue
            index = columns.index(column)
            missing = encoder.missing_tokens(column)
            if not missing:
                continue
            size = encoder.vocab_sizes[index]
            for target, wants_missing in ((first, at_first), (later, at_later)):
                mask = (
                    torch.zeros(size, dtype=torch.bool)
                    if wants_missing
                    else torch.ones(size, dtype=torch.bool)
                )
                mask[missing] = wants_missing
                target[index] = mask.to(self.device_)
        return first, later

    def _decode_events(
        self,
        entity: np.ndarray,
        position: np.ndarray,
        tokens: torch.Tensor,
        keys: np.ndarray,
        entity_table: pd.DataFrame,
        seed: int,
        origin: np.ndarray | None = None,
        exact: bool = False,
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Decode drawn events; ``origin`` holds each entity's last seed event time, if any.

        With ``exact`` (histories of given lengths) no event is dropped: times
        past the learned index range stay at its end.

        Returns:
            The events, and the entity of each (histories that passed the learned
            index range end before the event that passed it).
        """
        layout = self.layout_
        key, index = layout["sequence_key"], layout["sequence_index"]
        n = len(entity)
        if self.event_encoder_ is not None:
            frame = self.event_encoder_.decode(tokens, random_state=seed, groups=entity)
        else:
            frame = pd.DataFrame(index=range(n))
        x = None
        if index is not None:
            start = frame[_START].to_numpy(dtype=float) if _START in frame else np.zeros(n)
            gap = frame[_GAP].to_numpy(dtype=float) if _GAP in frame else np.zeros(n)
            step = np.where(position == 0, start, np.nan_to_num(np.maximum(gap, 0.0)))
            bounds = layout.get("index_range")
            if bounds is not None:
                step = np.where(position == 0, np.clip(step, *bounds), step)
            # Cumulative sums per entity: the first event's time plus the gaps so far.
            x = pd.Series(step).groupby(entity).cumsum().to_numpy()
            if origin is not None:  # continued histories count on from their seed events
                x = x + origin[entity]
            if bounds is not None and n and exact:
                # Given lengths are kept: times stop at the range's end (still non-decreasing).
                # A continued history already past the end stays at its last seed time.
                ceiling = bounds[1] if origin is None else np.maximum(bounds[1], origin[entity])
                x = np.minimum(x, ceiling)
            elif bounds is not None and n:
                # A history that passes the learned range ends there, as real ones did:
                # times only grow within an entity, so the events dropped are its last.
                inside = x <= bounds[1]
                frame = frame[inside].reset_index(drop=True)
                entity, x = entity[inside], x[inside]
                n = len(entity)
        columns: dict[str, Any] = {key: pd.Series(keys[entity] if n else keys[:0])}
        if index is not None:
            columns[index] = self._index_transform.decode_values(x).reset_index(drop=True)
        if self._index_rules is not None and n:
            # Columns kept relative to the index are computed back from the drawn index.
            with_index = frame.reset_index(drop=True).assign(**{index: columns[index]})
            restored = self._index_rules.inverse(with_index)
            for column in self._index_rules.columns:
                frame[column] = restored[column].to_numpy()
        dtypes = layout["event_dtypes"]
        for column in layout["event_columns"]:
            if column in (key, index):
                continue
            if column in layout["constant_columns"]:
                values = entity_table[column].reset_index(drop=True).iloc[entity]
                columns[column] = _like(values.reset_index(drop=True), dtypes[column])
            else:
                columns[column] = frame[column].reset_index(drop=True)
        return pd.DataFrame({c: columns[c] for c in layout["event_columns"]}), entity

    # ----------------------------------------------------------------- state
    def _encoder_states(self) -> dict[str, dict[str, Any]]:
        states: dict[str, dict[str, Any]] = {"sequence": dict(self.layout_)}
        if self.event_encoder_ is not None:
            states["events"] = self.event_encoder_.to_state()
        if self.context_encoder_ is not None:
            states["context"] = self.context_encoder_.to_state()
        return states

    def _restore_encoders(self, states: Mapping[str, dict[str, Any]]) -> None:
        self.layout_ = dict(states["sequence"])
        self.metadata_ = Metadata.from_dict(self.layout_["event_metadata"])
        events, context = states.get("events"), states.get("context")
        self.event_encoder_ = None if events is None else Discretizer.from_state(events)
        self.context_encoder_ = None if context is None else Discretizer.from_state(context)
        transform = self.layout_["index_transform"]
        self._index_rules = RuleTransform.from_state(self.layout_.get("index_rules"))
        self._index_transform = (
            None
            if transform is None
            else transform_from_state(self.layout_["sequence_index"], transform)
        )

    def _submodels(self) -> dict[str, BaseSynthesizer]:
        return {} if self.context_model_ is None else {"context": self.context_model_}

    def _set_submodels(self, submodels: dict[str, BaseSynthesizer]) -> None:
        self.context_model_ = submodels.get("context")

    def _get_state(self) -> dict[str, Any]:
        state = super()._get_state()
        if getattr(self, "privacy_budget_", None) is not None:
            state["fitted"]["privacy"] = self.privacy_budget_
        return state

    def _set_state(self, state: Mapping[str, Any]) -> None:
        super()._set_state(state)
        self.n_entities_fitted_ = self.layout_["n_entities"]
        self.schedule_ = self.layout_.get("schedule")
        self.best_epoch_ = (self.layout_.get("validation") or {}).get("best_epoch")
        privacy = state.get("fitted", {}).get("privacy")
        self.privacy_budget_ = privacy
        self.epsilon_spent_ = None if privacy is None else privacy["epsilon_spent"]
        self.delta_ = None if privacy is None else privacy["delta"]


# --------------------------------------------------------------------- helpers
def _as_sequences(
    data: Any, key: str | None, index: str | None, metadata: Metadata | None
) -> SequenceDataset:
    if isinstance(data, SequenceDataset):
        return data
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"Sequence data must be a SequenceDataset or a DataFrame; got {type(data).__name__}."
        )
    if key is None:
        raise DataError(
            "A frame of events needs sequence_key=<entity column> (and sequence_index=<order "
            "column>), or pass a synthkit.SequenceDataset."
        )
    return SequenceDataset(data, key, index, metadata=metadata)


def _length_values(lengths: Any) -> np.ndarray:
    """``lengths`` as a one-dimensional array, or a ParameterError saying what it must be."""
    if isinstance(lengths, (pd.Series, pd.Index)):
        lengths = lengths.to_numpy()
    if isinstance(lengths, (str, bytes, Mapping)) or np.ndim(lengths) != 1:
        raise ParameterError(
            f"lengths must be a one-dimensional array-like of event counts, one per entity; "
            f"got {type(lengths).__name__}. Pass e.g. lengths=[3, 0, 5]."
        )
    return np.asarray(lengths)


def _entity_count(lengths: Any) -> int:
    """The number of entities a ``lengths`` array asks for when no ``n_entities`` is given."""
    return len(_length_values(lengths))


def _checked_lengths(lengths: Any, n: int, what: str) -> np.ndarray:
    """``lengths`` as int64 event counts, one per entity, or a ParameterError naming the fix.

    Example:
        >>> _checked_lengths([2, 0, 1.0], 3, "entities").tolist()
        [2, 0, 1]
    """
    values = _length_values(lengths)
    if len(values) != n:
        raise ParameterError(
            f"lengths has {len(values)} value(s) but {n} {what} were asked for; pass one "
            "event count per entity, in the same order."
        )
    if values.dtype == object:
        try:
            values = values.astype(float)
        except (TypeError, ValueError):
            raise ParameterError(
                "lengths must hold whole numbers of events (non-negative integers); convert "
                "them with e.g. numpy.asarray(lengths, dtype=int)."
            ) from None
    kind = values.dtype.kind
    if kind == "b" or kind not in "iuf":
        raise ParameterError(
            f"lengths must hold non-negative integers (event counts); got dtype {values.dtype}. "
            "Pass counts such as [3, 0, 5]."
        )
    if kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            raise ParameterError(
                f"lengths must hold whole numbers of events; got {values[bad][0]!r}. Round "
                "them or drop missing counts."
            )
    values = values.astype(np.int64)
    if (values < 0).any():
        raise ParameterError(
            f"lengths must be non-negative (0 gives an entity no events); got "
            f"{int(values[values < 0][0])}. Clip the counts at 0."
        )
    return values


def _check_lengths_cover(counts: np.ndarray, prefix: _Prefix | None, wanted: list[Any]) -> None:
    """Given lengths must hold each entity's seed events, and an event for event conditions."""
    if prefix is not None:
        seeds = prefix.lengths.cpu().numpy()
        short = counts < seeds
        if short.any():
            row = int(np.flatnonzero(short)[0])
            raise ParameterError(
                f"lengths gives context row {row} {int(counts[row])} event(s) but it has "
                f"{int(seeds[row])} seed event(s); lengths count the seed events too, so give "
                "at least as many."
            )
    if wanted and (counts == 0).any():
        row = int(np.flatnonzero(counts == 0)[0])
        raise ParameterError(
            f"lengths gives context row {row} no events, so it cannot have an event meeting "
            "event_conditions; give every entity at least one event, or drop the condition."
        )


def _check_keys(frame: pd.DataFrame, key: str) -> None:
    nulls = frame[key].isna()
    if nulls.any():
        raise SequenceError(
            f"The context's key column {key!r} has {int(nulls.sum())} missing value(s); every "
            "context row needs its entity key. Drop or fill those rows."
        )
    duplicated = frame[key].duplicated()
    if duplicated.any():
        value = _plain(frame[key][duplicated].iloc[0])
        raise SequenceError(
            f"The context has {int(duplicated.sum())} duplicate key(s) in {key!r} (first "
            f"{value!r}); the context needs one row per entity. Drop the duplicates."
        )


def _check_context(context: Any, key: str, events: pd.DataFrame) -> pd.DataFrame | None:
    if context is None:
        return None
    if not isinstance(context, pd.DataFrame):
        raise DataError(f"context must be a DataFrame; got {type(context).__name__}.")
    if key not in context.columns:
        raise SequenceError(
            f"The context has no column {key!r}, the sequence key; add the entity key to the "
            "context rows."
        )
    _check_keys(context, key)
    unknown = ~events[key].isin(context[key])
    if unknown.any():
        value = _plain(events[key][unknown].iloc[0])
        raise SequenceError(
            f"{int(events[key][unknown].nunique())} entities of the events are missing from "
            f"the context (first {key}={value!r}); add their context rows or drop their events."
        )
    return context.reset_index(drop=True)


def _learned_frame(
    events: pd.DataFrame,
    positions: np.ndarray,
    learned: list[str],
    index: str | None,
    index_transform: NumericTransform | None,
    index_rules: RuleTransform | None,
) -> pd.DataFrame:
    """The event columns the model learns: the index as start and gaps, rule columns rewritten.

    ``events`` are grouped by entity in order and ``positions`` number each
    entity's events from 0.
    """
    frame = events[learned].copy()
    if index is not None and index_transform is not None:
        x = index_transform.values(events[index])
        previous = np.concatenate([[np.nan], x[:-1]])
        frame[_START] = np.where(positions == 0, x, np.nan)
        frame[_GAP] = np.where(positions == 0, np.nan, x - previous)
    if index_rules is not None:
        rewritten = index_rules.forward(events[[*learned, index]])
        for column in index_rules.columns:
            frame[column] = rewritten[column]
    return frame


def _context_schedule(model_class: type[BaseSynthesizer], n_rows: int) -> dict[str, int]:
    """Batch size and epochs of a context model given neither: enough steps for its rows.

    The entity table has one row per entity, often a few thousand rows: a table
    model's defaults (batches of hundreds, ten epochs) would take a few dozen
    optimizer steps on it and underfit the context. Batches of a twentieth of
    the rows and ``_CONTEXT_STEPS`` steps fit it better; at most
    ``_CONTEXT_MAX_EPOCHS`` passes, as more passes over a few thousand rows
    bring synthetic entities nearer the training ones (a higher DCR share).

    Example:
        >>> from synthkit.generators.registry import GENERATORS
        >>> _context_schedule(GENERATORS.get("ar"), 1_500)
        {'batch_size': 75, 'epochs': 15}
        >>> _context_schedule(GENERATORS.get("ar"), 50_000)
        {'batch_size': 512, 'epochs': 10}
    """
    names = set(model_class._param_names())
    if not {"epochs", "batch_size"} <= names:
        return {}
    batch = int(min(512, max(64, n_rows // 20)))
    per_epoch = max(-(-n_rows // batch), 1)
    epochs = int(min(max(10, -(-_CONTEXT_STEPS // per_epoch)), _CONTEXT_MAX_EPOCHS))
    return {"batch_size": batch, "epochs": epochs}


@contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run torch on one CPU thread inside the block (no effect on other devices).

    Training and sampling steps are many small operations (64-wide states, and
    the context model's few-hundred-row batches);
    splitting each over threads costs more in synchronization than it saves,
    and many times more when other processes hold the cores (measured on two
    busy cores: sampling 10x, training 4x to 16x slower on two threads).

    Example:
        >>> with one_cpu_thread(torch.device("cpu")):
        ...     torch.get_num_threads()
        1
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, for messages."""
    return value.item() if hasattr(value, "item") else value


def _meeting_keys(events: pd.DataFrame, key: str, wanted: list[Any]) -> np.ndarray:
    """Keys of the entities with at least one event meeting every condition at once."""
    mask = np.ones(len(events), dtype=bool)
    for condition in wanted:
        mask &= condition.mask(events)
    return pd.unique(events[key].to_numpy()[mask])


def _described(wanted: list[Any]) -> str:
    """The event conditions in words, for error messages."""
    parts = []
    for condition in wanted:
        column = condition.column
        if hasattr(condition, "values"):
            values = list(condition.values)
            parts.append(f"{column}={values[0]!r}" if len(values) == 1 else f"{column} in {values}")
        elif condition.low is None or condition.high is None:
            sign, bound = (
                (">=", condition.low) if condition.high is None else ("<=", condition.high)
            )
            parts.append(f"{column} {sign} {bound}")
        else:
            parts.append(f"{condition.low} <= {column} <= {condition.high}")
    return " and ".join(parts)


def _conformed(values: pd.Series, dtype: str) -> pd.Series:
    """A seed event column in the fitted dtype, or a DataError naming a value that is not."""
    if str(values.dtype) == dtype or dtype == "object":
        return values
    target = np.dtype(dtype) if not dtype.startswith(("datetime64", "category")) else None
    try:
        if dtype.startswith("datetime64"):
            return pd.to_datetime(values).astype(dtype)
        if (
            target is not None
            and target.kind in "iufb"
            and not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))
        ):
            raise ValueError(dtype)
        if target is not None and target.kind in "iub" and values.isna().any():
            return values.astype(float)  # missing numbers stay missing
        return values.astype(dtype)
    except (TypeError, ValueError):
        bad = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
        example = bad.iloc[0] if len(bad) else values.dropna().iloc[0]
        raise DataError(
            f"seed_events column {values.name!r} holds {values.dtype} values such as "
            f"{example!r}, but the model was fitted on {dtype}; convert the column to {dtype}."
        ) from None


def _constant_columns(
    events: pd.DataFrame, codes: np.ndarray, lengths: np.ndarray, columns: list[str]
) -> list[str]:
    """Columns that take one value within every entity with several events."""
    repeated = lengths[codes] > 1
    if np.count_nonzero(lengths > 1) < _MIN_REPEATED_ENTITIES or not columns:
        return []
    subset = events.loc[repeated, columns]
    distinct = subset.groupby(codes[repeated]).nunique(dropna=False).max()
    return [c for c in columns if distinct[c] <= 1]


def _context_description(table: pd.DataFrame, key: str, metadata: Metadata | None) -> Metadata:
    """The context columns' metadata: the given one without the key, checked; else detected.

    Example:
        >>> table = pd.DataFrame({"age": [31, 45, 52]})
        >>> given = Metadata.detect(pd.DataFrame({"id": [1, 2, 3], "age": [31, 45, 52]}))
        >>> list(_context_description(table, "id", given).columns)
        ['age']
    """
    if metadata is None:
        return Metadata.detect(table)
    given = metadata.to_dict()
    given["columns"] = {c: e for c, e in given.get("columns", {}).items() if c != key}
    given["rules"] = [r.to_dict() for r in metadata.rules if key not in r.columns]
    for role in ("primary_key", "sequence_key", "sequence_index"):
        if given.get(role) == key:
            given.pop(role)
    return Metadata.for_data(table, Metadata.from_dict(given))


def _entity_table(
    context: pd.DataFrame | None,
    key: str,
    events: pd.DataFrame,
    constant: list[str],
    lengths: np.ndarray,
    offsets: np.ndarray,
    event_metadata: Metadata,
    context_metadata: Metadata | None = None,
) -> tuple[pd.DataFrame, Metadata]:
    """The context columns plus the constant event columns, one row per entity.

    The context's column kinds and rules come from ``context_metadata`` (its
    key column left out), else are detected.
    """
    n = len(lengths)
    entries: dict[str, dict[str, Any]] = {}
    context_rules: list[Any] = []
    if context is not None:
        table = context.drop(columns=[key])
        if table.shape[1]:
            described = _context_description(table, key, context_metadata)
            entries.update({c: described.column(c) for c in table.columns})
            context_rules = list(described.rules)
    else:
        table = pd.DataFrame(index=range(n))
    has_events = np.flatnonzero(lengths > 0)
    for column in constant:
        values = events[column].iloc[offsets[has_events]].set_axis(has_events)
        table[column] = values.reindex(range(n)).to_numpy()
        entries[column] = event_metadata.column(column)
    # Rules among the entity table's columns (a fixed combination of two constant
    # event columns, or the context's own) are kept by the context model.
    rules = [
        rule.to_dict()
        for rule in [*getattr(event_metadata, "rules", []), *context_rules]
        if set(rule.columns) <= set(table.columns)
    ]
    return table, Metadata.from_dict({"columns": entries, "rules": rules})


def _index_transform(events: pd.DataFrame, index: str, metadata: Metadata) -> NumericTransform:
    entry = metadata.column(index)
    series = events[index]
    if entry["kind"] not in ("numerical", "datetime"):
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if not numeric:
            raise DataError(
                f"sequence_index={index!r} holds {series.dtype} values of kind "
                f"{entry['kind']!r}; the index must be numbers or datetimes. Convert it, or "
                "pass sequence_index=None to keep the row order."
            )
        entry = {"kind": "numerical"}
    transform = NumericTransform.describe(index, series, entry)
    # Synthetic histories may run past the last real time.
    transform.info["clip"] = False
    return transform


def _index_range(
    model: Any,
    transform: NumericTransform | None,
    events: pd.DataFrame,
    index: str | None,
    budget: EntityBudget | None,
) -> list[float] | None:
    """The protected range of the index's values, which generated times stay within.

    Value protection's range: the ``m``-th smallest and largest real times (``m``
    the rare-category threshold, at least 5), never the exact real extremes. A
    private fit reads nothing off the data here, so its times are not bounded.
    """
    if transform is None or budget is not None:
        return None
    values = transform.values(events[index])
    values = values[~np.isnan(values)]
    if not len(values):
        return None
    low, high = protected_range(values, max(int(getattr(model, "rare_category_threshold", 0)), 5))
    return [low, high]


def _index_rules(
    events: pd.DataFrame, index: str | None, learned: list[str], metadata: Metadata
) -> RuleTransform | None:
    """The rules between event columns and the index that derive an event column.

    Such a column is learned relative to the index (an inequality's later column
    as its gap from the index) and computed back from the drawn index.
    """
    if index is None:
        return None
    allowed = {*learned, index}
    rules = [
        rule
        for rule in getattr(metadata, "rules", [])
        if index in rule.columns and index not in rule.derived and set(rule.columns) <= allowed
    ]
    if not rules:
        return None
    columns = {c: metadata.column(c) for c in [*learned, index]}
    subset = Metadata.from_dict({"columns": columns, "rules": [r.to_dict() for r in rules]})
    # Not clipped to the real range: synthetic histories may run past the last real time.
    return RuleTransform.fit(events[[*learned, index]], subset, clip=False)


def _key_entry(keys: pd.Series) -> dict[str, Any]:
    numeric = pd.api.types.is_numeric_dtype(keys) and not pd.api.types.is_bool_dtype(keys)
    entry = describe_ids(keys, numeric=numeric)
    if entry is None:  # numbers that are not whole: new integers above every real key
        return {"kind": "id", "id_type": "integer", "min": 0, "max": int(np.ceil(keys.max()))}
    return entry


def _like(values: pd.Series, dtype: str) -> pd.Series:
    """``values`` in the real column's dtype where that loses nothing."""
    if str(values.dtype) == dtype:
        return values
    try:
        if values.isna().any() and np.dtype(dtype).kind in "iub":
            return values
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values
