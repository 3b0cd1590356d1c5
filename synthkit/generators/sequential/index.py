"""The sequence index as a sequence model learns it: a start time and gaps.

The index column (numbers or datetimes) is learned as two derived numerical
columns on its numeric scale: ``_START``, the first event's time, and ``_GAP``,
the time since the previous event. Rules between event columns and the index
derive event columns relative to it, and generated times stay within the
index's protected range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import DataError, ParameterError
from synthkit.generators.sequential.entities import _is_number, _plain
from synthkit.generators.sequential.private import EntityBudget
from synthkit.metadata import Metadata
from synthkit.privacy.preprocessing import protected_range
from synthkit.processing.columns import NumericTransform
from synthkit.rules._transform import RuleTransform

# Names of the derived index columns; the event discretizer learns them as numbers.
_START = "__sequence_start__"
_GAP = "__sequence_gap__"


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


def _index_transform(events: pd.DataFrame, index: str, metadata: Metadata) -> NumericTransform:
    entry = metadata.column(index)
    series = events[index]
    if entry["kind"] not in ("numerical", "datetime"):
        if not _is_number(series):
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


#: An index bound is kept when it holds on the events of at least this many entities,
#: all but this share of them at most (outliers past it, as value protection treats
#: a column's extremes).
_MIN_BOUND_ENTITIES = 20
_BOUND_OUTLIERS = 0.001


def _bound_values(transform: NumericTransform, values: pd.Series) -> np.ndarray | None:
    """``values`` on the index's numeric scale (NaN where missing), or None if not comparable."""
    if transform.info.get("datetime"):
        comparable = pd.api.types.is_datetime64_any_dtype(values)
    else:
        comparable = _is_number(values)
    if not comparable:
        return None
    try:
        return transform.values(values)
    except (ValueError, TypeError, DataError):  # an other time zone, an odd format
        return None


def _index_bound(
    events: pd.DataFrame,
    index: str | None,
    transform: NumericTransform | None,
    entity_table: pd.DataFrame,
    lengths: np.ndarray,
    budget: EntityBudget | None,
) -> str | None:
    """The entity column no event's index ever passes (a follow-up's end), if there is one.

    A numeric or datetime column of the entity table bounds the index when the
    events of the entities with a value in it lie at or before that value, all
    but at most ``_BOUND_OUTLIERS`` of them (outliers: no drawn event passes the
    bound), over at least ``_MIN_BOUND_ENTITIES`` entities with events (NAFLD:
    every lab test falls within the patient's follow-up, ``days <= futime``, and
    all but 0.04 % of the clinical events), and the bound
    lies on the index's scale: its median distance past the entities' last
    events is at most the span of the middle 90 % of event times (a holder's
    age is past every statement month 1 to 6 of their card, but 28 years past
    them, so it bounds nothing). Of several, the one closest to the entities'
    last events is kept. A private fit reads no such rule off the data.

    Example:
        >>> events = pd.DataFrame({"id": np.repeat(np.arange(30), 2), "day": np.tile([1, 5], 30)})
        >>> table = pd.DataFrame({"end": np.full(30, 9), "early": np.full(30, 3)})
        >>> transform = NumericTransform.describe("day", events["day"], {"kind": "numerical"})
        >>> _index_bound(events, "day", transform, table, np.full(30, 2), None)
        'end'
    """
    if index is None or transform is None or budget is not None or not len(events):
        return None
    x = transform.values(events[index])
    observed = x[~np.isnan(x)]
    if not len(observed):
        return None
    span = float(np.percentile(observed, 95) - np.percentile(observed, 5))
    has_events = lengths > 0
    last = np.full(len(lengths), np.nan)
    last[has_events] = x[np.cumsum(lengths)[has_events] - 1]
    found, closest = None, np.inf
    for column in entity_table.columns:
        bound = _bound_values(transform, entity_table[column])
        if bound is None:
            continue
        per_event = np.repeat(bound, lengths)
        known = ~np.isnan(per_event) & ~np.isnan(x)
        bounded = has_events & ~np.isnan(bound)
        past = int(np.sum(x[known] > per_event[known]))
        if bounded.sum() < _MIN_BOUND_ENTITIES or past > _BOUND_OUTLIERS * known.sum():
            continue
        slack = float(np.nanmedian(bound[bounded] - last[bounded]))
        if slack <= span and slack < closest:
            found, closest = str(column), slack
    return found


def _chosen_bound(
    declared: str | None,
    events: pd.DataFrame,
    keys: tuple[str, str | None],
    transform: NumericTransform | None,
    entity_table: pd.DataFrame,
    lengths: np.ndarray,
    budget: EntityBudget | None,
) -> str | None:
    """The index bound a fit keeps: found (``"auto"``), declared (a column) or none.

    A declared bound must be a numeric or datetime entity column comparable with
    the index. An ordinary fit checks that no real event passes it; a private
    fit reads nothing off the data for it (it is public knowledge, like a
    declared formula), so it keeps it unchecked.

    Raises:
        ParameterError: For a declared column the entities lack, one that is
            not comparable with the index, or a bound without an index.
        DataError: For a declared bound that a real event passes.
    """
    key, index = keys
    if declared is None:
        return None
    if declared == "auto":
        return _index_bound(events, index, transform, entity_table, lengths, budget)
    if index is None or transform is None:
        raise ParameterError(
            f"index_bound={declared!r} bounds the index, and these events have none. Pass "
            "sequence_index=..., or index_bound=None."
        )
    if declared not in entity_table.columns:
        raise ParameterError(
            f"index_bound={declared!r} is not a context column; the context has "
            f"{sorted(map(str, entity_table.columns))}. Name one of them, or pass 'auto'."
        )
    bound = _bound_values(transform, entity_table[declared])
    if bound is None:
        kind = "datetime" if transform.info.get("datetime") else "numeric"
        raise ParameterError(
            f"index_bound={declared!r} holds {entity_table[declared].dtype} values; the "
            f"index {index!r} is {kind}, so its bound must be {kind} too. Convert the "
            "column, or pass index_bound=None."
        )
    if budget is None:
        x = transform.values(events[index])
        past = x > np.repeat(bound, lengths)  # NaN on either side compares False
        if past.any():
            first = int(np.flatnonzero(past)[0])
            owner = int(np.repeat(np.arange(len(lengths)), lengths)[first])
            time, entity = (_plain(events[c].iloc[first]) for c in (index, key))
            limit = _plain(entity_table[declared].iloc[owner])
            raise DataError(
                f"index_bound={declared!r}: {int(past.sum())} events lie past their entity's "
                f"bound, for example {index}={time!r} of {key}={entity!r} ({declared}="
                f"{limit!r}). Fix those rows, or pass index_bound='auto' or None."
            )
    return declared
