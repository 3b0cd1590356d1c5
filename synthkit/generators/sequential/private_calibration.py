"""After a private fit, hold the heads to the released shapes and lengths (post-processing).

DP-SGD's noisy steps leave each head's rates wherever the noise drove them
(histories of 7.6 events on average against NAFLD's 21.8 at epsilon 4). The fitted
model draws histories for entities drawn from the (private) entity-table model;
each column head's bias moves by the log ratio of its released token shares to
the drawn ones, then the stop head's bias moves until the mean of
``log(1 + length)`` matches the DP length histogram's. Only released values and
the model's own samples are read, so no budget is spent. Where a key column's
two-way histograms were released, each paired column's logit table moves the same
way, row by row of the key's tokens, so that column's shares follow the key's
(NAFLD's value by its lab test).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

__all__ = ["calibrate_columns", "calibrate_pairs", "calibrate_stop"]

# Entities drawn per round, rounds, the gap in mean log length that is close enough,
# and the largest move of the stop logit in one round.
_ENTITIES = 512
_ROUNDS = 6
_TOLERANCE = 0.02
_MAX_STEP = 2.0
# Rounds of the column heads' calibration, and of the two-way tables'.
_COLUMN_ROUNDS = 2
_PAIR_ROUNDS = 4
# A key token's released row is read only where it holds this many noise deviations.
_PAIR_FLOOR = 3.0


def calibrate_columns(
    model: Any,
    shares: dict[str, np.ndarray],
    seed: int,
    first: str | None = None,
    later: str | None = None,
) -> list[float]:
    """Move each column head's bias by the log ratio of released to drawn token shares.

    The index's start is compared at first events and its gap at later ones,
    without their missing tokens (the masks set those); other columns at every
    event. Tokens never drawn keep their bias.

    Args:
        model: A fitted sequence model whose layout and network are in place.
        shares: Released token shares per learned event column.
        seed: Seed of the entity-table draws and of each round's histories.
        first: The column of an entity's first time.
        later: The column of the gaps after it.

    Returns:
        Per round, the largest total variation distance between a column's drawn
        and released shares (empty when no context can be drawn).
    """
    network = model.network_
    encoder = model.event_encoder_
    distances: list[float] = []
    with torch.no_grad():  # the heads' weights move in place
        for position, tokens in _drawn_rounds(model, seed, _COLUMN_ROUNDS):
            worst = 0.0
            for i, column in enumerate(encoder.learned_columns):
                rows = {first: position == 0, later: position > 0}.get(column)
                drawn = tokens[:, i] if rows is None else tokens[rows, i]
                target = np.asarray(shares[column], dtype=np.float64).copy()
                counts = np.bincount(drawn, minlength=len(target))[: len(target)].astype(float)
                if column in (first, later):
                    for token in encoder.missing_tokens(column):
                        target[token] = counts[token] = 0.0
                if counts.sum() == 0 or target.sum() == 0:
                    continue
                target, counts = target / target.sum(), counts / counts.sum()
                worst = max(worst, 0.5 * float(np.abs(target - counts).sum()))
                seen = (counts > 0) & (target > 0)
                step = np.clip(np.log(target[seen] / counts[seen]), -_MAX_STEP, _MAX_STEP)
                bias = network.out_bias[1 + i, 0]
                bias[torch.as_tensor(np.flatnonzero(seen), device=bias.device)] += torch.as_tensor(
                    step, dtype=bias.dtype, device=bias.device
                )
            distances.append(worst)
    return distances


def calibrate_pairs(
    model: Any, pairs: dict[tuple[str, str], np.ndarray], sigma: float, seed: int
) -> list[float]:
    """Move each conditional logit table by the log ratio of released to drawn shares.

    For every ``(key, column)`` pair of the network's conditional tables, the row
    of each key token whose released counts stand ``_PAIR_FLOOR`` deviations of
    their kept cells' summed noise above zero moves by the log ratio of that
    row's released shares of the column's tokens to the drawn ones, at most
    ``_MAX_STEP`` either way: a token drawn but not released falls by it, one
    released but not drawn rises by it.

    Args:
        model: A fitted private sequence model with its conditional tables.
        pairs: Released counts ``[key tokens, column tokens]`` per pair, cells under
            the noise floor read as zero.
        sigma: The release's noise deviation per cell.
        seed: Seed of the entity-table draws and of each round's histories.

    Returns:
        Per round, the largest total variation distance between a key token's
        drawn and released shares of a paired column.
    """
    network = model.network_
    if not network.conditional:
        return []
    columns = list(model.event_encoder_.learned_columns)
    distances: list[float] = []
    with torch.no_grad():  # the heads' weights move in place
        for _, tokens in _drawn_rounds(model, seed, _PAIR_ROUNDS):
            worst = 0.0
            for i, (key, column) in enumerate(network.conditional):
                released = pairs[(columns[key], columns[column])]
                logits = network.conditional_table(i)
                size = released.shape[1]
                cells = tokens[:, key] * size + tokens[:, column]
                drawn = np.bincount(cells, minlength=released.size)[: released.size]
                drawn = drawn.reshape(released.shape).astype(float)
                for k in range(len(released)):
                    target, counts = released[k], drawn[k]
                    floor = _PAIR_FLOOR * sigma * np.sqrt(max(int((target > 0).sum()), 1))
                    if target.sum() <= floor or counts.sum() == 0:
                        continue
                    target, counts = target / target.sum(), counts / counts.sum()
                    worst = max(worst, 0.5 * float(np.abs(target - counts).sum()))
                    # A token drawn where the release holds none falls by the largest
                    # step, and one released but never drawn rises by it.
                    with np.errstate(divide="ignore", invalid="ignore"):
                        ratio = np.log(target / counts)
                    step = np.nan_to_num(np.clip(ratio, -_MAX_STEP, _MAX_STEP), nan=0.0)
                    logits[k, :size] += torch.as_tensor(step, dtype=logits.dtype).to(logits.device)
            distances.append(worst)
    return distances


def calibrate_stop(model: Any, target: float, seed: int) -> list[float]:
    """Shift the stop head's bias until drawn histories have ``target`` mean log length.

    For a history ended by a rate ``h`` at each position, ``log(length)`` moves
    by about ``-d`` when the stop logit moves by ``d``: the first round takes that
    step, later ones the secant through the last two rounds. Every round draws
    the same entities with the same random numbers, so the rounds differ only by
    the shift; the shift that came closest is kept.

    Args:
        model: A fitted sequence model whose layout and network are in place.
        target: Mean of ``log(1 + length)`` over entities, from a DP release.
        seed: Seed of the entity-table draws and of each round's histories.

    Returns:
        The mean log length drawn in each round (empty when no context can be
        drawn: a model without a context model but with entity columns).
    """
    if model.context_model_ is None and model.layout_["entity_columns"]:
        return []
    network = model.network_
    network.eval()
    base = float(network.out_bias[0, 0, 1].detach())
    tried: list[tuple[float, float]] = []
    shift = 0.0
    with torch.no_grad(), torch.random.fork_rng(devices=_devices(model.device_)):
        table = model._draw_context(_ENTITIES, None, seed)
        context = model._context_tokens(table, seed)
        masks = model._step_masks()
        for _ in range(_ROUNDS):
            network.out_bias[0, 0, 1] = base + shift
            torch.manual_seed(seed)
            entity, _, _, _ = model._sample_events(context, masks, None)
            lengths = np.bincount(entity.cpu().numpy(), minlength=len(context))
            tried.append((shift, float(np.log1p(lengths).mean())))
            if abs(tried[-1][1] - target) < _TOLERANCE:
                break
            shift = _next_shift(tried, target)
        best = min(tried, key=lambda pair: abs(pair[1] - target))[0]
        network.out_bias[0, 0, 1] = base + best
    return [found for _, found in tried]


def _next_shift(tried: list[tuple[float, float]], target: float) -> float:
    """The next stop-logit shift: the secant's, or one unit of log length per unit.

    Example:
        >>> _next_shift([(0.0, 2.0)], target=2.5)
        -0.5
        >>> _next_shift([(0.0, 2.0), (-0.5, 2.25)], target=2.5)
        -1.0
    """
    shift, found = tried[-1]
    slope = -1.0
    if len(tried) > 1:
        (s0, f0), (s1, f1) = tried[-2], tried[-1]
        if s1 != s0 and (f1 - f0) / (s1 - s0) < 0:
            slope = (f1 - f0) / (s1 - s0)
    step = (target - found) / slope
    return shift + float(np.clip(step, -_MAX_STEP, _MAX_STEP))


def _drawn_rounds(model: Any, seed: int, rounds: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each round's drawn event positions and tokens, for ``_ENTITIES`` drawn entities.

    Every round draws the same entities with the same seed, so only the heads'
    changes between rounds move the draws; the global random state is left as it
    was. Yields nothing when the model needs an entity table it does not have.
    """
    if model.context_model_ is None and model.layout_["entity_columns"]:
        return
    model.network_.eval()
    with torch.no_grad(), torch.random.fork_rng(devices=_devices(model.device_)):
        table = model._draw_context(_ENTITIES, None, seed)
        context = model._context_tokens(table, seed)
        masks = model._step_masks()
        for _ in range(rounds):
            torch.manual_seed(seed)
            _, position, tokens, _ = model._sample_events(context, masks, None)
            yield position.cpu().numpy(), tokens.cpu().numpy()


def _devices(device: torch.device) -> list[Any]:
    """The accelerator devices whose random state a round's reseeding must not leak into."""
    return [device] if device.type == "cuda" else []
