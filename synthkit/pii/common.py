"""Shared helpers of regeneration: checked counts, seed streams and redraw loops."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import ParameterError

__all__ = ["MAX_ROUNDS", "checked_count", "fill", "seed_for"]

#: Rounds of redrawing duplicates and excluded values before giving up.
MAX_ROUNDS = 50


def checked_count(n: Any) -> int:
    """Return ``n`` as an int, raising ``ParameterError`` unless it is a whole number >= 0."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"n={n!r} must be a whole number >= 0.")
    return int(n)


def seed_for(seed: int, purpose: str) -> np.random.SeedSequence:
    """Independent streams per purpose, so an id and an email column never share draws."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a whole number >= 0.")
    return np.random.SeedSequence([int(seed), zlib.crc32(purpose.encode())])


def fill(
    make: Callable[[int], np.ndarray],
    n: int,
    *,
    unique: bool,
    exclude: Iterable[Any] | None,
) -> np.ndarray:
    """Draw ``n`` values, redrawing duplicates (if ``unique``) and excluded values."""
    values = pd.Series(make(n), dtype=object)
    forbidden = (
        pd.Index(pd.Series(list(exclude), dtype=object).astype(str).unique())
        if (exclude is not None)
        else None
    )
    for _ in range(MAX_ROUNDS):  # rounds of redraws, each vectorized
        bad = values.duplicated() if unique else pd.Series(False, index=values.index)
        if forbidden is not None:
            bad |= values.isin(forbidden)
        count = int(bad.sum())
        if count == 0:
            break
        values[bad.to_numpy()] = make(count)
    else:
        if unique:
            raise ParameterError(
                f"Could not draw {n} distinct values of this kind; there are too few "
                "possible values. Use strategy='drop' or a string id with longer keys."
            )
    return values.to_numpy(dtype=object)
