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

from synthkit.errors import DataError
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
