"""Parsing and checking of sampling conditions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from synthkit.errors import ConditionError
from synthkit.processing.columns import (
    _POOL_TOKEN,
    CategoricalTransform,
    NumericTransform,
    to_datetime,
)
from synthkit.processing.encoder import TableEncoder

__all__ = ["CategoryCondition", "Context", "RangeCondition", "parse_conditions"]


@dataclass(frozen=True)
class Context:
    """What a model's ``_sample`` conditions on, in the model's encoded space.

    Two forms, which a model may combine:

    * fixed features: ``values[i]`` holds the encoded values row ``i`` must take in
      the encoded features ``features`` (for a categorical column under one-hot
      encoding, its one-hot block; CTGAN reads its conditional vector from it);
    * allowed values: ``allowed[f]`` is a boolean mask over the values (tokens) that
      encoded feature ``f`` may take (the autoregressive model restricts its draw of
      each fixed column to them, which meets lists of categories and ranges exactly).

    A sequence or record model passes its parent or history context the same way.

    Example:
        >>> block = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
        >>> context = Context(values=block, features=range(3, 5))
        >>> context.indices().tolist(), len(context)
        ([1, 0], 2)
    """

    values: torch.Tensor | None = None
    features: range = range(0)
    allowed: dict[int, torch.Tensor] | None = None

    def __len__(self) -> int:
        return 0 if self.values is None else int(self.values.shape[0])

    def indices(self) -> torch.Tensor:
        """Each row's position of its 1 inside a one-hot ``values`` block."""
        if self.values is None:
            raise ValueError("This context fixes no features.")
        return self.values.argmax(dim=1)


@dataclass(frozen=True)
class CategoryCondition:
    """Rows must take one of ``indices`` (encoded category positions) in ``column``."""

    column: str
    values: tuple[Any, ...]
    indices: tuple[int, ...]
    frequencies: tuple[float, ...]

    @property
    def share(self) -> float:
        """Share of training rows that meet the condition."""
        return float(sum(self.frequencies))

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of a decoded frame that meet the condition."""
        column = frame[self.column]
        wanted = [v for v in self.values if v is not None]
        mask = column.isin(wanted).to_numpy()
        if any(v is None for v in self.values):
            mask |= column.isna().to_numpy()
        return mask


@dataclass(frozen=True)
class RangeCondition:
    """Rows must have ``low <= column <= high`` (inclusive; either side may be open)."""

    column: str
    low: float | None
    high: float | None
    datetime: bool = False
    fmt: str | None = None

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows of a decoded frame that meet the condition."""
        values = frame[self.column]
        if self.datetime:
            stamps = to_datetime(self.column, values, self.fmt)
            if stamps.dt.tz is not None:
                stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
            values = stamps.astype("datetime64[ns]").astype("int64").where(stamps.notna())
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        mask = ~np.isnan(numbers)
        if self.low is not None:
            mask &= numbers >= self.low
        if self.high is not None:
            mask &= numbers <= self.high
        return mask


Condition = CategoryCondition | RangeCondition


def parse_conditions(
    conditions: Mapping[str, Any] | None, encoder: TableEncoder
) -> list[Condition]:
    """Turn a user's ``{column: value}`` mapping into checked conditions.

    A scalar asks for that value, a list or set for any of its values, and a
    ``(low, high)`` tuple for an inclusive numeric or datetime range (``None``
    leaves a side open).

    Raises:
        ConditionError: For an unknown column, a column that is not learned, a
            category never seen in training, or an empty or impossible range.
    """
    if conditions is None:
        return []
    if not isinstance(conditions, Mapping):
        raise ConditionError(
            "conditions must be a dict such as {'income': '>50K'} or {'age': (30, 40)}, "
            f"got {type(conditions).__name__}."
        )
    parsed: list[Condition] = []
    for column, wanted in conditions.items():
        transform = encoder.source_transform(column)  # the real column, even under a rule
        if transform is None:
            if column in encoder.columns_:
                raise ConditionError(
                    f"Cannot condition on column {column!r}: it is a "
                    f"{encoder.metadata_.kind(column)} column, which models never learn."
                )
            raise ConditionError(
                f"Unknown condition column {column!r}; the columns are {encoder.columns_}."
            )
        if isinstance(transform, CategoricalTransform):
            parsed.append(_category_condition(column, wanted, transform))
        elif isinstance(transform, NumericTransform):
            parsed.append(_range_condition(column, wanted, transform))
        else:  # a constant column: only its own value can be asked for
            value = transform.info["value"]
            values = list(wanted) if isinstance(wanted, (list, set, frozenset)) else [wanted]
            if not any(_same(v, value) for v in values):
                raise ConditionError(
                    f"Column {column!r} only ever takes the value {value!r}; "
                    f"cannot sample rows with {wanted!r}."
                )
    return parsed


def _category_condition(
    column: str, wanted: Any, transform: CategoricalTransform
) -> CategoryCondition:
    values = list(wanted) if isinstance(wanted, (list, set, frozenset)) else [wanted]
    if isinstance(wanted, tuple):
        raise ConditionError(
            f"Column {column!r} is categorical: ask for a value or a list of values, "
            f"not a range {wanted!r}."
        )
    if not values:
        raise ConditionError(f"The condition on {column!r} lists no values.")
    indices = []
    for value in values:
        index = transform.index_of(value)
        if index is None:
            known = [
                c
                for c in transform.categories
                if isinstance(c, (str, int, float, bool)) and c != _POOL_TOKEN
            ]
            shown = ", ".join(repr(c) for c in known[:10]) + (", ..." if len(known) > 10 else "")
            rare = (
                " or is rarer than rare_category_threshold (such values are pooled for "
                "privacy and never generated; lower rare_category_threshold to keep them)"
                if transform.has_pool
                else ""
            )
            raise ConditionError(
                f"Column {column!r} never takes the value {value!r} in the training data"
                f"{rare}; known values include {shown}."
            )
        indices.append(index)
    unique = tuple(dict.fromkeys(indices))
    frequencies = tuple(float(transform.frequencies[i]) for i in unique)
    return CategoryCondition(column, tuple(values), unique, frequencies)


def _range_condition(column: str, wanted: Any, transform: NumericTransform) -> RangeCondition:
    info = transform.info
    if isinstance(wanted, tuple):
        if len(wanted) != 2:
            raise ConditionError(
                f"A range condition on {column!r} needs (low, high), got {wanted!r}."
            )
        low, high = wanted
    else:
        low = high = wanted
    if info["datetime"]:
        low, high = (_datetime_number(column, v, info) for v in (low, high))
    else:
        for value in (low, high):
            if value is not None and not isinstance(value, (int, float, np.number)):
                raise ConditionError(
                    f"Column {column!r} is numerical: condition on a number or a "
                    f"(low, high) range, not {value!r}."
                )
    if low is not None and high is not None and low > high:
        raise ConditionError(f"The range on {column!r} is empty: low {low} > high {high}.")
    if (low is not None and low > info["max"]) or (high is not None and high < info["min"]):
        raise ConditionError(
            f"The range {wanted!r} on {column!r} lies outside the training values "
            f"[{info['min']}, {info['max']}], which samples never leave."
        )
    return RangeCondition(
        column,
        None if low is None else float(low),
        None if high is None else float(high),
        datetime=bool(info["datetime"]),
        fmt=info.get("format"),
    )


def _datetime_number(column: str, value: Any, info: dict[str, Any]) -> float | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise ConditionError(
            f"Column {column!r} holds datetimes; {value!r} is not a date ({error})."
        ) from None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    elif info.get("timezone"):
        stamp = stamp.tz_localize(info["timezone"]).tz_convert("UTC").tz_localize(None)
    return float(stamp.value)


def _same(a: Any, b: Any) -> bool:
    return a == b and isinstance(a, bool) == isinstance(b, bool)
