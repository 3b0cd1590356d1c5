"""Sequences for evaluation: entity splits, per-entity feature vectors and the views metrics score.

An entity (a patient, a card holder) with all its events is the unit of
sequence data. Metrics see it three ways:

* the event and context tables, for per-column shapes (``sequence_view="tables"``);
* one feature vector per entity (:func:`entity_features`: number of events,
  index span, mean/std/first/last of numeric event columns, category shares,
  context columns), for entity-level detection and privacy
  (``sequence_view="entities"``): one unit is one entity;
* the histories themselves, for metrics written for sequences (lengths, gaps,
  coherence).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthkit.errors import EvaluationError
from synthkit.evaluation.base import MetricResult
from synthkit.evaluation.data import EvaluationData
from synthkit.metadata import Metadata
from synthkit.schema.sequences import SequenceDataset

if TYPE_CHECKING:
    from synthkit.evaluation.base import Metric

__all__ = ["SIDES", "SequenceEvaluationData", "entity_features", "index_seconds"]

#: The three inputs of an evaluation.
SIDES = ("real", "synthetic", "holdout")

# Category shares per entity are kept for this many most frequent real levels.
_SHARE_LEVELS = 10


def index_seconds(values: pd.Series) -> np.ndarray:
    """Return a sequence index as floats: numbers as they are, datetimes in seconds.

    Example:
        >>> index_seconds(pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"]))).tolist()
        [1704067200.0, 1704153600.0]
        >>> index_seconds(pd.Series([3, 5])).tolist()
        [3.0, 5.0]
    """
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float).to_numpy()
    if not pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        if parsed.isna().any():
            example = values[parsed.isna()].iloc[0]
            raise EvaluationError(
                f"The sequence index {values.name!r} holds values that are neither numbers "
                f"nor dates (for example {example!r}); convert it to numbers or datetimes."
            )
        values = parsed
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    nanoseconds = values.astype("datetime64[ns]").astype("int64").to_numpy()
    return nanoseconds.astype(float) / 1e9


def _as_numbers(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        seconds = values.astype("datetime64[ns]").astype("int64").astype(float) / 1e9
        return seconds.where(values.notna())
    return pd.to_numeric(values, errors="coerce").astype(float)


def entity_features(
    events: pd.DataFrame,
    keys: np.ndarray,
    entities: pd.Index,
    numeric: list[str],
    shares: Mapping[str, list[Any]],
    index: np.ndarray | None = None,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One feature vector per entity, computed with one groupby per feature family.

    Args:
        events: Event columns, one row per event (datetimes already parsed).
        keys: The entity of each event row.
        entities: The entities to describe, in output order; entities without
            events get ``events:count`` 0 and missing aggregates.
        numeric: Columns summarised by mean, standard deviation (0 for a single
            event), first and last value; datetimes count in seconds.
        shares: For each categorical column, the levels whose share of the
            entity's events becomes a feature.
        index: The sequence index in seconds or counts, for its first and last
            values and their difference (the span); ``None`` when events are
            ordered by row only.
        context: Context columns indexed by entity, joined as they are.

    Returns:
        A frame indexed by ``entities``, one row each.

    Example:
        >>> events = pd.DataFrame({"amount": [5.0, 7.0, 1.0], "shop": ["a", "b", "a"]})
        >>> features = entity_features(
        ...     events, np.array([1, 1, 2]), pd.Index([1, 2, 3]), ["amount"],
        ...     {"shop": ["a"]}, index=np.array([0.0, 4.0, 2.0]))
        >>> features[["events:count", "index:span", "amount:last", "shop:share=a"]]
           events:count  index:span  amount:last  shop:share=a
        1             2         4.0          7.0           0.5
        2             1         0.0          1.0           1.0
        3             0         NaN          NaN           NaN
    """
    key_index = pd.Index(keys, name="__entity__")
    parts: list[pd.DataFrame | pd.Series] = [
        pd.Series(1, index=key_index).groupby(level=0, sort=False).size().rename("events:count")
    ]
    if index is not None:
        grouped = pd.Series(index, index=key_index).groupby(level=0, sort=False)
        first, last = grouped.min(), grouped.max()
        parts += [(last - first).rename("index:span"), first.rename("index:first")]
        parts.append(last.rename("index:last"))
    if numeric:
        numbers = pd.DataFrame(
            {c: _as_numbers(events[c]).to_numpy() for c in numeric}, index=key_index
        )
        grouped = numbers.groupby(level=0, sort=False)
        for name, frame in (
            ("mean", grouped.mean()),
            ("std", grouped.std(ddof=0)),
            ("first", grouped.first()),
            ("last", grouped.last()),
        ):
            parts.append(frame.add_suffix(f":{name}"))
    for column, levels in shares.items():
        if not levels:
            continue
        codes = pd.Categorical(events[column].to_numpy(), categories=levels)
        onehot = pd.get_dummies(codes, dtype=float)
        onehot.columns = [f"{column}:share={level}" for level in levels]
        onehot.index = key_index
        parts.append(onehot.groupby(level=0, sort=False).mean())
    features = pd.concat(parts, axis=1).reindex(entities)
    features["events:count"] = features["events:count"].fillna(0).astype(int)
    if context is not None:
        features = features.join(context.reindex(entities))
    features.index = entities
    return features


class SequenceEvaluationData:
    """Real, synthetic and holdout sequences checked against each other, ready for metrics.

    The holdout must hold other entities than the training data (split by
    entity, never by row). Context tables, when given, have one row per entity
    keyed by the sequence key; entities in a context without events count as
    histories of length 0.

    Attributes:
        shape: ``"sequences"``.
        unit: ``"entity"``, the unit of privacy: one entity with all its events.
        events: The event rows as an :class:`EvaluationData` (no holdout), for
            per-column metrics.
        context: The context rows as an :class:`EvaluationData`, or ``None``.
        entities: One feature vector per entity as an :class:`EvaluationData`
            (holdout included), for detection and privacy metrics.
        holdout: The holdout sequences, or ``None``.

    Raises:
        EvaluationError: Naming the input, entity or column that cannot be scored.

    Example:
        >>> events = pd.DataFrame({"user": [1, 1, 2, 2, 3], "day": [1, 4, 2, 3, 1],
        ...                        "spent": [9.5, 3.0, 4.0, 1.0, 2.5]})
        >>> seqs = SequenceDataset(events, "user", "day")
        >>> data = SequenceEvaluationData(seqs, seqs)
        >>> data.lengths("real").tolist(), data.entities.columns[:5]
        ([2, 2, 1], ['events:count', 'index:span', 'index:first', 'index:last', 'spent:mean'])
    """

    shape = "sequences"
    unit = "entity"
    target = None

    def __init__(
        self,
        real: SequenceDataset,
        synthetic: SequenceDataset,
        holdout: SequenceDataset | None = None,
        context: pd.DataFrame | Mapping[str, pd.DataFrame | None] | None = None,
        metadata: Metadata | None = None,
        random_state: int = 0,
        max_rows: int = 10_000,
        model: Any | None = None,
        target: str | None = None,
    ) -> None:
        inputs = {"real": real, "synthetic": synthetic, "holdout": holdout}
        for side, value in inputs.items():
            if value is not None and not isinstance(value, SequenceDataset):
                raise EvaluationError(
                    f"real is a SequenceDataset, so {side} must be one too; got "
                    f"{type(value).__name__}. Wrap it with SequenceDataset(events, "
                    f"{real.sequence_key!r}, {real.sequence_index!r})."
                )
        self.key, self.index = real.sequence_key, real.sequence_index
        for side, value in inputs.items():
            if value is not None and (value.sequence_key, value.sequence_index) != (
                self.key,
                self.index,
            ):
                raise EvaluationError(
                    f"The {side} sequences are keyed by ({value.sequence_key!r}, "
                    f"{value.sequence_index!r}) but the real ones by ({self.key!r}, "
                    f"{self.index!r}); use the same sequence_key and sequence_index."
                )
        self.sequences = inputs
        self.holdout = holdout
        self.model = model
        self.random_state, self.max_rows = random_state, max_rows
        if holdout is not None:
            _check_split_by_entity(real, holdout)
        contexts = _contexts(inputs, context, self.key)
        self.contexts = contexts
        self.target = _context_target(target, contexts["real"], self.key)
        self._entities = {
            side: _entity_list(inputs[side], contexts[side], self.key)
            for side in SIDES
            if inputs[side] is not None
        }
        event_columns = [c for c in real.data.columns if c != self.key]
        if not event_columns:
            raise EvaluationError(
                f"The sequences have no column besides the key {self.key!r}; nothing to score."
            )
        event_metadata = metadata if metadata is not None else real.metadata
        self.events = EvaluationData(
            real.data.loc[:, [self.key, *event_columns]],
            synthetic.data,
            metadata=event_metadata,
            random_state=random_state,
            max_rows=max_rows,
        )
        self.context = None
        context_metadata = None
        if contexts["real"] is not None:
            context_frames = {
                s: f.drop(columns=[self.key]) for s, f in contexts.items() if f is not None
            }
            if context_frames["real"].shape[1]:
                context_metadata = Metadata.detect(context_frames["real"], rules=False)
                self.context = EvaluationData(
                    context_frames["real"],
                    context_frames["synthetic"],
                    metadata=context_metadata,
                    random_state=random_state,
                    max_rows=max_rows,
                )
        self.entities = self._entity_data(context_metadata)

    # -------------------------------------------------------------- helpers
    def lengths(self, side: str) -> np.ndarray:
        """Events per entity of ``side`` (entities of its context without events count 0)."""
        data = self.sequences[side]
        counts = data.data.groupby(self.key, sort=False).size()
        return counts.reindex(self._entities[side], fill_value=0).to_numpy()

    def index_values(self, side: str) -> np.ndarray:
        """The sequence index of every event of ``side``, in seconds for datetimes."""
        return index_seconds(self.sequences[side].data[self.index])

    def keys(self, side: str) -> np.ndarray:
        """The entity of every event of ``side``."""
        return self.sequences[side].data[self.key].to_numpy()

    def event_frame(self, side: str) -> pd.DataFrame:
        """The scored event columns of ``side`` (``"real"`` or ``"synthetic"``), prepared."""
        return getattr(self.events, side)

    @property
    def sampling(self) -> dict[str, str]:
        """Subsample sizes of every view, by purpose (entity views say so)."""
        found = {f"events: {k}": v for k, v in self.events.sampling.items()}
        if self.context is not None:
            found.update({f"context: {k}": v for k, v in self.context.sampling.items()})
        found.update(
            {
                f"entities: {k}": v.replace("rows", "entities")
                for k, v in self.entities.sampling.items()
            }
        )
        return found

    def score(self, metric: Metric) -> MetricResult:
        """Score ``metric`` on the view it declares for sequences.

        ``"entities"``: on the per-entity feature vectors, details stating the
        unit; ``"tables"``: on the event table and the context table, the value
        averaged over their scored columns; otherwise the metric reads these
        sequences itself.
        """
        if metric.sequence_view == "entities":
            result = metric.score(self.entities)
            return MetricResult(
                result.value, result.interval, {**result.details, "unit": self.unit}
            )
        if metric.sequence_view == "tables":
            return self._score_tables(metric)
        return metric.score(self)

    def _score_tables(self, metric: Metric) -> MetricResult:
        events = metric.score(self.events)
        if self.context is None or metric.not_applicable(self.context):
            return MetricResult(events.value, events.interval, {**events.details, "unit": "event"})
        context = metric.score(self.context)
        if metric.worst_of_tables:
            return _worst_of(metric, {"events": events, "context": context})
        weights = np.array([len(self.events.columns), len(self.context.columns)], dtype=float)
        values = np.array([events.value, context.value], dtype=float)
        known = ~np.isnan(values)
        value = float(np.average(values[known], weights=weights[known])) if known.any() else np.nan
        details = dict(events.details)
        for name, entry in context.details.items():
            # Per-column breakdowns join the event columns', context columns marked as such.
            if isinstance(entry, dict) and isinstance(details.get(name), dict):
                details[name] = {**details[name], **{f"context.{k}": v for k, v in entry.items()}}
        details["values"] = {"events": events.value, "context": context.value}
        details["unit"] = "event (event columns) and entity (context columns)"
        return MetricResult(value, None, details)

    def _entity_data(self, context_metadata: Metadata | None) -> EvaluationData:
        numeric = [c for c in self.events.numeric_columns if c != self.index]
        discrete = self.events.discrete_columns
        real_events = self.events.real
        shares = {c: real_events[c].value_counts().index[:_SHARE_LEVELS].tolist() for c in discrete}
        frames = {}
        for side in SIDES:
            if self.sequences[side] is None:
                continue
            data = self.sequences[side].data
            events = data.loc[:, [c for c in numeric + discrete if c in data.columns]]
            events = _parsed_like(events, real_events)
            index = self.index_values(side) if self.index is not None else None
            context = self.contexts[side]
            frame = entity_features(
                events,
                self.keys(side),
                self._entities[side],
                numeric,
                shares,
                index=index,
                context=None if context is None else context.set_index(self.key),
            )
            frames[side] = frame
        columns = {name: {"kind": "numerical"} for name in frames["real"].columns}
        if context_metadata is not None:
            columns.update({c: context_metadata.column(c) for c in context_metadata.columns})
        metadata = Metadata(columns)
        # Frames stay indexed by entity, so the holdout check's "same label and same
        # values" test compares entities (disjoint after the split check), not positions.
        try:
            return EvaluationData(
                frames["real"],
                frames["synthetic"],
                holdout=frames.get("holdout"),
                target=self.target,
                metadata=metadata,
                random_state=self.random_state,
                max_rows=self.max_rows,
            )
        except EvaluationError as error:
            raise EvaluationError(f"Per-entity feature vectors: {error}") from error


def _context_target(target: str | None, context: pd.DataFrame | None, key: str) -> str | None:
    """A utility target of sequences: a context column, one label per entity."""
    if target is None:
        return None
    columns = [] if context is None else [c for c in context.columns if c != key]
    if target not in columns:
        where = (
            f"the context columns are {columns}"
            if columns
            else "these sequences have no context table; pass context=..."
        )
        raise EvaluationError(
            f"target={target!r}: a sequence target must be a context column (one value per "
            f"entity, such as a card's default flag); {where}."
        )
    return target


def _worst_of(metric: Metric, results: dict[str, MetricResult]) -> MetricResult:
    """The worse of the event and context tables' results, by the metric's direction."""
    sign = 1.0 if metric.direction == "lower" else -1.0
    table, worst = max(results.items(), key=lambda item: sign * item[1].value)
    details = {
        **worst.details,
        "values": {name: result.value for name, result in results.items()},
        "worst_table": table,
        "unit": "value (event and context columns)",
    }
    return MetricResult(worst.value, worst.interval, details)


def _parsed_like(events: pd.DataFrame, prepared: pd.DataFrame) -> pd.DataFrame:
    # Datetime columns arrive as text in some inputs; parse them as the event view did.
    out = events.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(prepared[column]) and not (
            pd.api.types.is_datetime64_any_dtype(out[column])
        ):
            out[column] = pd.to_datetime(out[column], errors="coerce", format="mixed")
    return out


def _check_split_by_entity(real: SequenceDataset, holdout: SequenceDataset) -> None:
    key = real.sequence_key
    shared = pd.Index(holdout.data[key].unique()).intersection(pd.Index(real.data[key].unique()))
    if len(shared):
        example = shared[0].item() if hasattr(shared[0], "item") else shared[0]
        raise EvaluationError(
            f"The holdout shares {len(shared)} of its {holdout.n_entities} entities with the "
            f"training sequences (for example {key}={example!r}): it was split by row, not by "
            f"entity. Split by {key!r} so that each entity's events all go to either the "
            "training or the holdout set."
        )


def _contexts(
    inputs: Mapping[str, SequenceDataset | None],
    context: pd.DataFrame | Mapping[str, pd.DataFrame | None] | None,
    key: str,
) -> dict[str, pd.DataFrame | None]:
    """Context per side: as given, split by the holdout's entities, or from ``.context``."""
    given: dict[str, pd.DataFrame | None] = dict.fromkeys(SIDES)
    if isinstance(context, pd.DataFrame):
        if inputs["holdout"] is not None:
            in_holdout = context[key].isin(inputs["holdout"].data[key].unique())
            given["real"], given["holdout"] = context[~in_holdout], context[in_holdout]
        else:
            given["real"] = context
    elif isinstance(context, Mapping):
        unknown = sorted(set(context) - set(SIDES))
        if unknown:
            raise EvaluationError(
                f"context has key(s) {unknown}; use 'real', 'synthetic' and 'holdout'."
            )
        given.update(context)
    elif context is not None:
        raise EvaluationError(
            "context must be a DataFrame (the real entities' context, training and holdout) or "
            f"a dict of 'real', 'synthetic' and 'holdout' DataFrames; got {type(context).__name__}."
        )
    for side in SIDES:
        if given[side] is None and inputs[side] is not None:
            given[side] = getattr(inputs[side], "context", None)
    present = [s for s in SIDES if inputs[s] is not None]
    with_context = [s for s in present if given[s] is not None]
    if with_context and len(with_context) != len(present):
        missing = [s for s in present if given[s] is None]
        raise EvaluationError(
            f"Context is given for {with_context} but not for {missing}; pass "
            "context={'real': ..., 'synthetic': ..., 'holdout': ...} or none at all."
        )
    if not with_context:
        return {s: None for s in SIDES}
    columns = list(given["real"].columns)
    for side in with_context:
        frame = given[side]
        if not isinstance(frame, pd.DataFrame):
            raise EvaluationError(
                f"The {side} context must be a DataFrame; got {type(frame).__name__}."
            )
        if key not in frame.columns:
            raise EvaluationError(
                f"The {side} context has no column {key!r}; it needs the sequence key to "
                "match its rows to entities."
            )
        if sorted(frame.columns) != sorted(columns):
            raise EvaluationError(
                f"The {side} context columns {list(frame.columns)} differ from the real "
                f"context columns {columns}; pass contexts with the same columns."
            )
        duplicated = frame[key].duplicated()
        if duplicated.any():
            raise EvaluationError(
                f"The {side} context has {int(duplicated.sum())} duplicated {key!r} value(s) "
                f"(for example {frame.loc[duplicated, key].iloc[0]!r}); keep one row per entity."
            )
        orphans = ~pd.Index(inputs[side].data[key].unique()).isin(frame[key])
        if orphans.any():
            raise EvaluationError(
                f"{int(orphans.sum())} entities of the {side} sequences have no row in the "
                f"{side} context; give every entity a context row."
            )
    return {
        s: (None if given[s] is None else given[s].loc[:, columns].reset_index(drop=True))
        for s in SIDES
    }


def _entity_list(sequences: SequenceDataset, context: pd.DataFrame | None, key: str) -> pd.Index:
    if context is not None:
        return pd.Index(context[key])
    return pd.Index(sequences.data[key].unique())
