"""Noisy one-way histograms of a table's tokens: the column shapes a DP fit is held to.

Every row adds one to one cell of each column's histogram, so the L2 sensitivity of
the ``C`` histograms together is ``sqrt(C)``, and one Gaussian mechanism with noise
``noise_multiplier * sqrt(C)`` per cell releases them all. Marginals are what
marginal-based DP synthesizers (MST, AIM) measure first, because they are cheap and
accurate: on Adult at epsilon 0.2 the noise is a few dozen rows per cell against
tens of thousands of rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["narrow_span", "noisy_marginals"]

_SPAN_FLOOR = 2.0
# A tail ends where a noisy count lies this many deviations below its decay.
_TAIL_FLOOR = 3.0
_TAIL_CELLS = 6
# A busy end cell past more than this many quiet cells, and under this many deviations,
# is lone: kept only past a tail that fades rather than one that ends hard.
_LONE_GAP = 2
_LONE_FLOOR = 3.0
# A tail ends where it would hold fewer rows than this (a value drawn once or never).
_TAIL_ROWS = 1.0
_MAX_DECAY = 0.9


# A column's released shares are narrow when the values of their tokens span at most
# this share of its range.
_NARROW_SHARE = 1 / 8


def narrow_span(
    share: torch.Tensor, token_values: np.ndarray, value_range: tuple[float, float]
) -> tuple[float, float] | None:
    """The values a numeric column's non-zero shares span, if a sliver of its range.

    Reads only released quantities (post-processing).

    Args:
        share: The column's released token shares (values low to high, then missing).
        token_values: ``[tokens, 2]`` lowest and highest value of each value token.
        value_range: The column's (noisy or public) range.

    Returns:
        The lowest and highest value of the span, or None when it covers more than
        ``_NARROW_SHARE`` of the range.

    Example:
        >>> values = np.stack([np.arange(64.0), np.arange(64.0) + 1], axis=1)
        >>> narrow_span(torch.tensor([0.0] * 30 + [1.0] + [0.0] * 33), values, (0, 64))
        (30.0, 31.0)
        >>> narrow_span(torch.full((64,), 1 / 64), values, (0, 64)) is None
        True
    """
    used = (share[: len(token_values)] > 0).nonzero().flatten().cpu().numpy()
    low, high = float(value_range[0]), float(value_range[1])
    if len(used) == 0 or not high > low:
        return None
    first, last = float(token_values[used[0], 0]), float(token_values[used[-1], 1])
    return (first, last) if last - first <= _NARROW_SHARE * (high - low) else None


def noisy_marginals(
    tokens: torch.Tensor,
    vocab_sizes: Sequence[int],
    noise_multiplier: float,
    released: Sequence[tuple[np.ndarray, float] | None] | None = None,
) -> list[torch.Tensor]:
    """Each column's token shares from noisy counts (Gaussian mechanism, one release).

    Negative noisy counts are set to zero, and so are the cells beyond the outermost
    ones well above the noise (post-processing, which costs nothing); a column whose
    counts all vanish gets its largest noisy count's token.

    Args:
        tokens: ``[rows, columns]`` encoded rows.
        vocab_sizes: Tokens per column.
        noise_multiplier: Noise standard deviation over the L2 sensitivity.
        released: Per column, noisy counts of its tokens released before (with
            their noise deviation), or None: pooled with this release's counts,
            weighted by the inverse of their variances (post-processing). Adult's
            integer columns at epsilon 1 have two such counts of about 70 rows of
            noise each: pooled, about 49.

    Returns:
        One float tensor of shares (summing to 1) per column, on ``tokens``' device.

    Example:
        >>> tokens = torch.tensor([[0, 1]] * 600 + [[1, 0]] * 400)
        >>> shares = noisy_marginals(tokens, [2, 2], noise_multiplier=5.0)
        >>> [round(float(s[0]), 1) for s in shares]
        [0.6, 0.4]
    """
    sigma = noise_multiplier * math.sqrt(max(tokens.shape[1], 1))
    shares = []
    for column, size in enumerate(vocab_sizes):
        counts = torch.bincount(tokens[:, column], minlength=size)[:size].double()
        noisy = counts + torch.randn(size, dtype=torch.float64, device=tokens.device) * sigma
        deviation = sigma
        before = released[column] if released is not None else None
        if before is not None and len(before[0]) == size:
            other = torch.as_tensor(before[0], dtype=torch.float64, device=tokens.device)
            weight = sigma**2 / (sigma**2 + before[1] ** 2)
            noisy = (1.0 - weight) * noisy + weight * other
            deviation = sigma * before[1] / math.sqrt(sigma**2 + before[1] ** 2)
        shares.append(_shares(noisy, deviation).float())
    return shares


def _shares(noisy: torch.Tensor, sigma: float) -> torch.Tensor:
    """Shares from noisy counts: the span of cells well above the noise, and its tails.

    Tokens are ordered (numbers' points and bins run low to high, categories by
    count), so cells beyond the outermost ones standing ``_SPAN_FLOOR`` deviations
    above zero are not read as they are: noise alone would give the empty ends of a
    numeric range some mass (years of education of 18 and 20 in Adult), and
    generated values there stretch the column's range. They are not simply emptied
    either: the rows below the noise (a tail of a few hundred rows spread over many
    bins, or the 51 rows with one year of education) would be lost, and generated
    values would stop short of the real range. Beyond each end of the span the
    counts go on decaying as they did over its last cells (:func:`_tail`) for as
    long as the noisy counts do not contradict it. A weak end cell past quiet ones
    is dropped from the span when the cells before it end hard (noise among the
    empty ages under 17), and kept past a tail that only fades (99 hours a week).
    Inside the span, negative counts become zero.
    """
    busy = (noisy > _SPAN_FLOOR * sigma).nonzero().flatten()
    kept = noisy.clamp(min=0.0)
    if len(busy) == 0:
        kept = torch.zeros_like(noisy)
        kept[int(noisy.argmax())] = 1.0
        return kept
    # Weak busy cells past quiet ones, beyond a hard end, are noise: the empty ages
    # under 17. They are tested from the strong cells outward, so that one noise cell
    # (age 14 at 2.3 deviations) does not lend a softer tail to the next (age 9, 2.1).
    # Past a tail that only fades (99 hours a week, 85 rows beyond a thin tail) they stay.
    index = _without_lone_ends(busy.tolist(), noisy, kept, sigma)
    first, last = index[0], index[-1]
    inside = kept[first : last + 1]
    out = torch.zeros_like(noisy)
    out[first : last + 1] = inside
    above = _tail(inside, noisy[last + 1 :], sigma)
    below = _tail(inside.flip(0), noisy[:first].flip(0), sigma)
    out[last + 1 : last + 1 + len(above)] = torch.as_tensor(above, dtype=out.dtype)
    out[first - len(below) : first] = torch.as_tensor(below[::-1], dtype=out.dtype)
    return out / out.sum()


def _without_lone_ends(
    index: list[int], noisy: torch.Tensor, kept: torch.Tensor, sigma: float
) -> list[int]:
    """The busy cells ``index`` less the weak ones lying past a hard end of the strong ones.

    Strong cells stand ``_LONE_FLOOR`` deviations above zero. Going outward from the
    outermost strong cell at each end, a busy cell more than ``_LONE_GAP`` cells
    beyond the last one kept is kept only if the span so far does not end hard
    before it; once one is dropped, every cell further out goes with it.

    Example:
        >>> noisy = torch.tensor([0.0, 0.0, 25.0, 0.0, 0.0, 0.0, 400.0, 500.0, 600.0])
        >>> _without_lone_ends([2, 6, 7, 8], noisy, noisy.clamp(min=0.0), 10.0)
        [6, 7, 8]
    """
    strong = [j for j, cell in enumerate(index) if noisy[cell] >= _LONE_FLOOR * sigma]
    if not strong:
        return index
    top = strong[-1]
    for j in range(strong[-1] + 1, len(index)):
        end, cell = index[top], index[j]
        if cell - end > _LONE_GAP and _ends_hard(
            kept[index[0] : end + 1], noisy[end + 1 : cell], sigma
        ):
            break
        top = j
    bottom = strong[0]
    for j in range(strong[0] - 1, -1, -1):
        end, cell = index[bottom], index[j]
        if end - cell > _LONE_GAP and _ends_hard(
            kept[end : index[top] + 1].flip(0), noisy[cell + 1 : end].flip(0), sigma
        ):
            break
        bottom = j
    return index[bottom : top + 1]


def _ends_hard(span: torch.Tensor, beyond: torch.Tensor, sigma: float) -> bool:
    """Whether the first noisy count ``beyond`` ``span`` contradicts its continued tail."""
    return _continue(span, beyond[:1], sigma)[1]


def _tail(span: torch.Tensor, beyond: torch.Tensor, sigma: float) -> list[float]:
    """Counts continuing the decay of ``span``'s last cells into the cells ``beyond`` it.

    The tail starts from the mean of the span's last ``_TAIL_CELLS`` cells (carried
    from the window's middle to its end) and decays per cell by their geometric mean
    ratio to the cells before (at most ``_MAX_DECAY``). It stops where its count
    falls under ``_TAIL_ROWS`` rows, or where the noisy counts it covers add up to
    more than ``_TAIL_FLOOR`` deviations (of their sum) below it: those cells are
    empty, a hard end like the 16 years of a doctorate. Only released counts are read.
    """
    return _continue(span, beyond, sigma)[0]


def _continue(span: torch.Tensor, beyond: torch.Tensor, sigma: float) -> tuple[list[float], bool]:
    """:func:`_tail`'s counts, and whether the noisy counts contradicted it (a hard end)."""
    width = max(min(_TAIL_CELLS, len(span) // 2), 1)
    edge = float(span[-width:].sum())
    inner = float(span[-2 * width : -width].sum()) if len(span) >= 2 * width else 0.0
    decay = min((edge / inner) ** (1.0 / width), _MAX_DECAY) if inner > 0 and edge > 0 else 0.5
    # The window's mean stands for its middle cell: carried to the span's last cell,
    # but no higher than that cell's own count and a deviation (over a steep edge,
    # Adult's years of education falling from 646 rows at 4 to 51 at 1, the window
    # overshoots it).
    start = edge / width * decay ** ((width - 1) / 2)
    count = min(start, max(float(span[-1]), 0.0))
    # The first step falls no slower than the edge cell falls from its neighbour.
    step = decay
    if len(span) >= 2 and float(span[-2]) > 0:
        step = min(decay, max(float(span[-1]), 0.0) / float(span[-2]))
    gap, counts = 0.0, []
    for observed in beyond.tolist():
        count *= step
        step = decay
        gap += observed - count
        if gap < -_TAIL_FLOOR * sigma * math.sqrt(len(counts) + 1):
            return counts, True
        if count < _TAIL_ROWS:
            break
        counts.append(count)
    return counts, False
