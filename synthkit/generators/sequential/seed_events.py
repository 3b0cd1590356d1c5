"""Seed events: given first events of entities, which their sampled histories continue.

``sample(context=..., seed_events=...)`` begins the given entities' histories
with their seed events. :class:`SeedEvents` checks those events against the
fitted columns, dtypes and index order, and encodes them as a :class:`_Prefix`
that the event model reads as each entity's first events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from synthkit.errors import DataError
from synthkit.generators.sequential.entities import _plain
from synthkit.generators.sequential.index import _START, _learned_frame
from synthkit.generators.sequential.step_values import exact_steps


@dataclass(frozen=True)
class _Prefix:
    """Seed events of given entities, checked and encoded, grouped by entity in row order.

    Attributes:
        events: The seed events with the fitted columns and dtypes.
        entity: The entity (context row) of each seed event.
        tokens: ``[entities, longest prefix, columns]`` tokens, zero-padded.
        lengths: Seed events per entity.
        steps: ``[entities, longest prefix]`` exact time steps of the seed events
            (:func:`~synthkit.generators.sequential.step_values.exact_steps`; 0
            without an index), zero-padded.
        origin: Each entity's last seed time on the index's numeric scale (0 if none).
        constants: Constant event columns per entity from its first seed event
            (missing for entities without seed events).
    """

    events: pd.DataFrame
    entity: np.ndarray
    tokens: torch.Tensor
    lengths: torch.Tensor
    steps: torch.Tensor
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
            self.steps[index],
            self.origin[rows],
            self.constants.iloc[rows].reset_index(drop=True),
        )


class SeedEvents:
    """Seed events of a sequence model's ``sample``, as a mixin of the sequence template.

    :meth:`_seed_prefix` reads the fitted model's ``layout_``,
    ``event_encoder_``, ``_index_transform`` and ``_index_rules`` (see
    :class:`~synthkit.generators.sequential.base.SequenceSynthesizer`).
    """

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
        steps = np.zeros(len(seeds))
        if self.event_encoder_ is not None and len(seeds):
            frame = _learned_frame(
                seeds, positions, learned, index, self._index_transform, self._index_rules
            )
            tokens = self.event_encoder_.encode(frame, random_state=seed)
            if _START in frame.columns:
                steps = exact_steps(frame)
        longest = int(lengths.max(initial=0))
        padded = torch.zeros((n, longest, n_columns), dtype=torch.long)
        padded[torch.as_tensor(entity), torch.as_tensor(positions)] = tokens.cpu()
        padded_steps = torch.zeros((n, longest), dtype=torch.float64)
        padded_steps[torch.as_tensor(entity), torch.as_tensor(positions)] = torch.as_tensor(steps)
        # Constant columns of seeded entities come from their first seed event.
        constants = seeds[constant].groupby(entity).first().reindex(range(n))
        return _Prefix(
            seeds, entity, padded, torch.as_tensor(lengths), padded_steps, origin, constants
        )


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
