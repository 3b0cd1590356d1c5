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

The entity table and the checks of given events and context are in
:mod:`~synthkit.generators.sequential.entities`, the index's start and gap
columns in :mod:`~synthkit.generators.sequential.index` and the checks of given
history lengths in :mod:`~synthkit.generators.sequential.given_lengths`;
sampling with event conditions and with seed events comes from the mixins
:class:`~synthkit.generators.sequential.event_conditions.EventConditionSampling`
and :class:`~synthkit.generators.sequential.seed_events.SeedEvents`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from synthkit._params import Constraint, Interval
from synthkit._runtime import seed_from, torch_seeded
from synthkit.errors import ConditionError, DataError, ParameterError
from synthkit.generators.base import BaseSynthesizer
from synthkit.generators.registry import GENERATORS
from synthkit.generators.sequential import length_calibration
from synthkit.generators.sequential.entities import (
    _as_sequences,
    _check_context,
    _check_keys,
    _constant_columns,
    _context_schedule,
    _entity_table,
    _key_entry,
    _like,
)
from synthkit.generators.sequential.event_conditions import EventConditionSampling
from synthkit.generators.sequential.given_lengths import (
    _check_lengths_cover,
    _checked_lengths,
    _entity_count,
)
from synthkit.generators.sequential.index import (
    _GAP,
    _START,
    _bound_values,
    _chosen_bound,
    _index_range,
    _index_rules,
    _index_transform,
    _learned_frame,
)
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
from synthkit.generators.sequential.repeats import apply_repeats, repeat_shares
from synthkit.generators.sequential.seed_events import SeedEvents, _Prefix
from synthkit.generators.sequential.step_values import exact_steps
from synthkit.generators.sequential.threads import one_cpu_thread
from synthkit.metadata import Metadata
from synthkit.pii.ids import generate_ids
from synthkit.processing.columns import transform_from_state
from synthkit.processing.discretizer import Discretizer
from synthkit.rules._private import rules_for_private_fit
from synthkit.rules._transform import RuleTransform
from synthkit.schema.sequences import SequenceDataset

__all__ = ["SequenceSynthesizer", "SyntheticSequences"]


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


class SequenceSynthesizer(
    EventConditionSampling, SeedEvents, BaseSynthesizer, metaclass=_SequenceDispatch
):
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
        "index_bound": [_Text(), None],
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
        if _GAP in frame.columns and frame[_GAP].isna().all():
            # No entity has a second event: there are no gaps to learn (nor to draw).
            frame = frame.drop(columns=[_GAP])
            del event_meta[_GAP]
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
                "index_bound": _chosen_bound(
                    getattr(self, "index_bound", "auto"),
                    events,
                    (key, index),
                    index_transform,
                    entity_table,
                    lengths,
                    budget,
                ),
                "min_length": int(lengths.min()),
                "max_length": int(lengths.max()),
                "n_entities": n_entities,
            }
            self.layout_["repeat_shares"] = (
                _repeat_shares(self.event_encoder_, frame, tokens, codes, index_rules)
                if budget is None
                else {}
            )
            self._index_transform = index_transform
            self._index_rules = index_rules
            self.metadata_ = fit_metadata
            self.loss_history_ = pd.DataFrame()
            steps = None
            if _START in frame.columns:
                steps = torch.as_tensor(exact_steps(frame), device=device)
            self._fit_events(
                tokens,
                torch.as_tensor(offsets, device=device),
                torch.as_tensor(lengths, device=device),
                context_tokens,
                bounds=self._entity_bounds(entity_table),
                steps=steps,
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

    def _entity_bounds(self, entity_table: pd.DataFrame) -> torch.Tensor | None:
        """Each entity's bound on the index, on its numeric scale (inf: none), if one was learned.

        The bound is the entity column the fit found no real event passing
        (``layout_["index_bound"]``, see
        :func:`~synthkit.generators.sequential.index._index_bound`).
        """
        column = self.layout_.get("index_bound")
        if column is None or self._index_transform is None or column not in entity_table:
            return None
        values = _bound_values(self._index_transform, entity_table[column].reset_index(drop=True))
        if values is None:
            values = np.full(len(entity_table), np.nan)
        values = np.where(np.isnan(values), np.inf, values)
        return torch.as_tensor(values, dtype=torch.float64, device=self.device_)

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
        bounds: torch.Tensor | None = None,
        steps: torch.Tensor | None = None,
    ) -> None:
        """Learn the events from tensors on the model's device (models implement).

        Args:
            tokens: ``[events, columns]`` event tokens, grouped by entity in order.
            offsets: Each entity's first row in ``tokens``.
            lengths: Each entity's number of events (0 for context rows without any).
            context: ``[entities, columns]`` context tokens (possibly no columns).
            bounds: Each entity's bound on the index (:meth:`_entity_bounds`), if any.
            steps: Each event's exact time step (:func:`exact_steps`), if the index
                has start and gap columns.
        """
        raise NotImplementedError

    def _sample_events(
        self,
        context: torch.Tensor,
        masks: tuple[dict[int, torch.Tensor], ...],
        prefix: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        lengths: torch.Tensor | None = None,
        bounds: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Draw histories for ``[entities, columns]`` context tokens (models implement).

        ``masks`` holds, for the first event and for later ones, the tokens each
        restricted event column may take (the index's start and gap columns).
        ``prefix``, when given, is ``([entities, positions, columns] tokens,
        [entities] lengths, [entities, positions] time steps)``: each entity's
        first events, which the model reads as its own (it never stops before
        they end) and does not return. ``bounds`` holds each entity's bound on
        the index (:meth:`_entity_bounds`), which no drawn time passes.

        Returns:
            The entity and position of every drawn event, grouped by entity in
            order, its ``[events, columns]`` tokens, and its time step (the
            first event's time, else the gap since the previous one) where the
            index has them, else None.
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
        if lengths is None and layout.get("counted"):
            raise ParameterError(
                "This model was fitted with given_lengths=True: its histories read how "
                "many events remain, so every sample needs lengths=[...] (one count per "
                "entity). Refit with given_lengths=False to let it draw the lengths."
            )
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
        those :func:`~synthkit.generators.sequential.length_calibration.drawn_rows`
        picks), so the offsets correct how the event model ends histories given
        a context, not the context model; see
        :mod:`~synthkit.generators.sequential.length_calibration`. A model
        without a context model (a record model's child table, whose parents
        and counts are always given) is left as trained.
        """
        if self.context_model is None or len(lengths) < length_calibration.MIN_REACHED:
            return
        if self.layout_.get("counted"):  # sampled with given lengths only
            return
        rows = length_calibration.drawn_rows(lengths, seed)
        table = entity_table.iloc[rows].reset_index(drop=True)
        keys = np.arange(len(rows))
        key = self.layout_["sequence_key"]
        buckets = np.zeros(N_POSITION_BUCKETS)
        rates = np.ones(N_POSITION_BUCKETS)
        previous = np.zeros(N_POSITION_BUCKETS)
        for attempt in range(length_calibration.ROUNDS):
            round_seed = int(np.random.SeedSequence([seed, 0x57, attempt]).generate_state(1)[0])
            events = self._histories(table, keys, round_seed)
            drawn = np.bincount(events[key].to_numpy(dtype=np.int64), minlength=len(rows))
            gaps = length_calibration.offset_gaps(lengths[rows], drawn, N_POSITION_BUCKETS)
            rates = length_calibration.next_rates(rates, gaps, previous)
            buckets = length_calibration.moved_offsets(buckets, gaps, rates)
            previous = gaps
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
        bounds = self._entity_bounds(entity_table)
        with torch_seeded(seed, self.device_):
            self._eval_mode()
            with torch.no_grad():
                tokens = self._context_tokens(entity_table, seed)
                if prefix is not None:
                    tensors = tuple(
                        given.to(self.device_)
                        for given in (prefix.tokens, prefix.lengths, prefix.steps)
                    )
                given = None if counts is None else torch.as_tensor(counts, device=self.device_)
                entity, position, event_tokens, steps = self._sample_events(
                    tokens, self._step_masks(), tensors, given, bounds
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
            limits=None if bounds is None else bounds.cpu().numpy(),
            steps=None if steps is None else steps.cpu().numpy(),
        )
        if prefix is None or not len(prefix.events):
            return events
        seeds = prefix.events.assign(**{self.layout_["sequence_key"]: keys[prefix.entity]})
        combined = pd.concat([seeds, events], ignore_index=True)
        # Each entity's seed events first, then its new ones, entities in row order.
        owner = np.concatenate([prefix.entity, entity])
        order = np.lexsort((np.arange(len(combined)), owner))
        return combined.iloc[order].reset_index(drop=True)

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
        limits: np.ndarray | None = None,
        steps: np.ndarray | None = None,
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Decode drawn events; ``origin`` holds each entity's last seed event time, if any.

        With ``exact`` (histories of given lengths) no event is dropped: times
        past the learned index range stay at its end. ``limits`` holds each
        entity's bound on the index (:meth:`_entity_bounds`), if the model has one.
        ``steps`` holds the time steps drawn with the tokens (the values the
        model's time inputs read); without them (an index learned without gaps,
        every entity having one event) the start tokens are decoded here.

        Returns:
            The events, and the entity of each (histories that passed the learned
            index range end before the event that passed it).
        """
        layout = self.layout_
        key, index = layout["sequence_key"], layout["sequence_index"]
        n = len(entity)
        if self.event_encoder_ is not None:
            frame = self.event_encoder_.decode(tokens, random_state=seed, groups=entity)
            shares = layout.get("repeat_shares") or {}
            rng = np.random.default_rng(seed + 11)
            apply_repeats(frame, tokens, entity, self.event_encoder_, shares, rng)
        else:
            frame = pd.DataFrame(index=range(n))
        x = None
        if index is not None:
            if steps is not None:
                step = steps
            else:
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
            if limits is not None and n:
                # The gaps were drawn within the bound: a time drawn inside a bin that
                # straddles it stays at it (a continued history already past it, at its
                # last seed time).
                ceiling = limits[entity]
                if origin is not None:
                    ceiling = np.maximum(ceiling, origin[entity])
                x = np.minimum(x, ceiling)
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


def _repeat_shares(
    encoder: Discretizer | None,
    frame: pd.DataFrame,
    tokens: torch.Tensor,
    codes: np.ndarray,
    index_rules: Any,
) -> dict[str, float]:
    """The real rate of exact repeats of each binned event column (``repeats.py``)."""
    if encoder is None:
        return {}
    skipped = {_START, _GAP}
    for rules in (encoder.rules_, index_rules):
        if rules is not None:
            skipped |= set(rules.columns)
    return repeat_shares(frame, tokens, codes, encoder, skipped)
