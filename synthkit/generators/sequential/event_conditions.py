"""Sampling entities whose histories meet event conditions.

``sample(event_conditions=...)`` gives every entity at least one event meeting
all the conditions at once. :class:`EventConditionSampling` parses the
conditions against the fitted columns and draws entities in rounds, redrawing
those without such an event, until all meet them or the rounds run out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import ConditionError
from synthkit.generators.conditions import parse_conditions
from synthkit.generators.sequential.seed_events import _Prefix

# Event conditions: rounds of drawing (each redraws the entities still missing) and
# the most entities drawn per entity asked for, before giving up with the rate seen.
_MAX_EVENT_ROUNDS = 20
_MAX_EVENT_FACTOR = 200


class EventConditionSampling:
    """Event conditions of a sequence model's ``sample``, as a mixin of the sequence template.

    The methods read the fitted model's ``layout_``, ``context_model_`` and
    ``event_encoder_``, and draw with its ``_histories``, ``_draw_context`` and
    ``_new_keys`` (see :class:`~synthkit.generators.sequential.base.SequenceSynthesizer`).
    """

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
