"""Exact repeats: a value drawn in its previous event's bin repeats that value at the real rate.

Histories repeat values exactly: two tests taken together share one reading, a
card's bill stays at the same amount. Tokens carry a number only to its
quantile bin and decoding draws the value inside it, so equal tokens almost
never give equal values. At fit, each binned numeric event column records the
share of real consecutive events (same entity, same bin token) whose values are
exactly equal; at sampling, an event drawn in its previous event's bin takes
the previous decoded value with that probability. Only synthetic values are
repeated, never real ones. Columns a rule rewrites, the index's start and gaps,
and private fits have no shares.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from synthkit.processing.discretizer import Discretizer, NumericTokens

__all__ = ["apply_repeats", "repeat_shares"]


def _same_bin(codes: np.ndarray, entity: np.ndarray, numeric: NumericTokens) -> np.ndarray:
    """Whether each event has its entity's previous event's bin token (not a point or missing)."""
    n_points = len(numeric.points)
    in_bin = (codes >= n_points) & (codes < n_points + numeric.n_bins)
    same = np.zeros(len(codes), dtype=bool)
    same[1:] = (entity[1:] == entity[:-1]) & (codes[1:] == codes[:-1])
    return same & in_bin


def repeat_shares(
    frame: pd.DataFrame,
    tokens: torch.Tensor,
    entity: np.ndarray,
    encoder: Discretizer,
    skipped: set[str],
) -> dict[str, float]:
    """Each binned numeric column's share of same-bin consecutive events with equal values.

    Args:
        frame: The real events' learned columns, grouped by entity in order.
        tokens: Their tokens (``[events, learned columns]``).
        entity: Each event's entity.
        encoder: The fitted event ``Discretizer``.
        skipped: Columns left out (time columns, columns rules rewrite).

    Example:
        >>> frame = pd.DataFrame({"v": np.r_[np.arange(40.0), np.arange(40.0)]})
        >>> encoder = Discretizer(n_bins=4, max_points=2).fit(frame)
        >>> tokens = encoder.encode(frame, random_state=0)
        >>> shares = repeat_shares(frame, tokens, np.repeat([0, 1], 40), encoder, set())
        >>> 0 <= shares["v"] < 1
        True
    """
    codes = tokens.cpu().numpy()
    shares = {}
    for i, column in enumerate(encoder.learned_columns):
        numeric = encoder.tokens_.get(column)
        if column in skipped or numeric is None or not numeric.n_bins:
            continue
        same = _same_bin(codes[:, i], entity, numeric)
        if not same.any():
            continue
        values = frame[column].to_numpy()
        shares[column] = float(np.mean(values[same] == values[np.flatnonzero(same) - 1]))
    return shares


def apply_repeats(
    frame: pd.DataFrame,
    tokens: torch.Tensor,
    entity: np.ndarray,
    encoder: Discretizer,
    shares: dict[str, float],
    rng: np.random.Generator,
) -> None:
    """Repeat values in place: each same-bin event takes its predecessor's value at its share.

    A run of repeats carries its first value on, as real repeated readings do.
    ``frame`` holds the decoded events, grouped by entity in order.
    """
    if not shares or not len(frame):
        return
    codes = tokens.cpu().numpy()
    rows = np.arange(len(frame))
    for column, share in shares.items():
        i = encoder.learned_columns.index(column)
        same = _same_bin(codes[:, i], entity, encoder.tokens_[column])
        repeats = same & (rng.random(len(frame)) < share)
        if not repeats.any():
            continue
        # Each row takes the value of the last row at or before it that is not a repeat.
        source = np.maximum.accumulate(np.where(repeats, 0, rows))
        frame[column] = frame[column].to_numpy()[source]
