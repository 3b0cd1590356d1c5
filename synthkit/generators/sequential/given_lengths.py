"""Checks of the history lengths given to ``sample``: one event count per entity.

``sample(lengths=...)`` fixes each entity's number of events; these checks
turn the given counts into an int64 array, or raise a
:class:`~synthkit.errors.ParameterError` saying what the counts must be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import ParameterError
from synthkit.generators.sequential.seed_events import _Prefix


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
