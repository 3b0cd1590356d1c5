"""Grouping of output heads by vocabulary width, so training pads little.

The autoregressive networks stack their heads' output layers into one
``[heads, hidden, widest vocabulary]`` weight, so one batched product serves
every head. Where one column has far more tokens than the others (a flight's
87 destinations beside 2-token flags), most of those logits are padding that
is computed, masked and normalized for nothing. Training instead runs the
output layer and the loss once per group of heads of like widths, each group
padded to its own widest head; the weights keep their stacked layout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.nn import functional

__all__ = ["GROUP_OVERHEAD", "HeadGroups", "width_groups"]

#: What one more group costs, in logits per row: the extra operators of a
#: group (gathers, a product, a loss, and their gradients) against the padded
#: logits they save.
GROUP_OVERHEAD = 32


def width_groups(sizes: Sequence[int], overhead: int = GROUP_OVERHEAD) -> list[list[int]]:
    """Heads grouped to minimize padded logits plus ``overhead`` per group.

    Heads are ordered by width; the best split of that order into runs is
    found exactly (a run costs its heads times its widest width, plus
    ``overhead``). Each group lists its heads in their original order.

    Args:
        sizes: Vocabulary width of each head.
        overhead: Cost of one more group, in logits per row.

    Returns:
        The groups, widest first; one group when padding costs little.

    Example:
        >>> width_groups([2, 15, 3, 87, 12, 31, 18, 35, 27, 27, 26])
        [[3], [5, 7, 8, 9, 10], [0, 1, 2, 4, 6]]
        >>> width_groups([2, 10, 26, 26])
        [[0, 1, 2, 3]]
    """
    order = sorted(range(len(sizes)), key=lambda head: -int(sizes[head]))
    n = len(order)
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(end):
            cost = best[start] + (end - start) * int(sizes[order[start]]) + overhead
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups = []
    end = n
    while end:
        groups.append(sorted(order[cut[end] : end]))
        end = cut[end]
    return groups[::-1]


class HeadGroups:
    """Per-group output layers and cross-entropy over stacked head weights.

    Args:
        sizes: Vocabulary width of each head.
        device: Device of the index tensors.

    Example:
        >>> groups = HeadGroups([2, 3, 40])
        >>> hidden = torch.randn(3, 5, 4)
        >>> out, bias = torch.randn(3, 4, 40), torch.zeros(3, 1, 40)
        >>> targets = torch.tensor([[0, 2, 39]] * 5)
        >>> groups.losses(hidden, out, bias, targets).shape
        torch.Size([5, 3])
    """

    def __init__(self, sizes: Sequence[int], device: torch.device | str = "cpu") -> None:
        self.sizes = [int(s) for s in sizes]
        self.groups = width_groups(self.sizes)
        self.widths = [max(self.sizes[h] for h in group) for group in self.groups]
        self.index = [torch.tensor(g, dtype=torch.long, device=device) for g in self.groups]
        # A group of consecutive heads is read as a slice, without a copy.
        self.slices = [
            slice(g[0], g[-1] + 1) if g == list(range(g[0], g[-1] + 1)) else None
            for g in self.groups
        ]
        flat = [head for group in self.groups for head in group]
        self.inverse = torch.tensor(
            sorted(range(len(flat)), key=flat.__getitem__), dtype=torch.long, device=device
        )
        self.valid = [
            torch.arange(w, device=device)[None, :]
            < torch.tensor([self.sizes[h] for h in g], device=device)[:, None]
            for g, w in zip(self.groups, self.widths, strict=True)
        ]

    def to(self, device: torch.device | str) -> HeadGroups:
        """The same groups with their index tensors on ``device``."""
        if self.inverse.device == torch.device(device):
            return self
        return HeadGroups(self.sizes, device)

    def _pick(self, tensor: torch.Tensor, group: int) -> torch.Tensor:
        part = self.slices[group]
        return tensor[part] if part is not None else tensor.index_select(0, self.index[group])

    def logits(
        self, hidden: torch.Tensor, out: torch.Tensor, out_bias: torch.Tensor, group: int
    ) -> torch.Tensor:
        """Masked logits ``[group heads, rows, group width]`` of one group.

        Args:
            hidden: ``[heads, rows, hidden]`` inputs of the output layer.
            out: ``[heads, hidden, widest]`` stacked output weights.
            out_bias: ``[heads, 1, widest]`` stacked output biases.
            group: Which group.
        """
        width = self.widths[group]
        # Tokens past a head's vocabulary get a -inf bias: the mask costs a
        # [heads, width] fill, not one over every row's logits.
        bias = self._pick(out_bias, group)[:, :, :width]
        bias = bias.masked_fill(~self.valid[group][:, None, :], float("-inf"))
        weight = self._pick(out, group)[:, :, :width]
        return torch.baddbmm(bias, self._pick(hidden, group), weight)

    def losses(
        self,
        hidden: torch.Tensor,
        out: torch.Tensor,
        out_bias: torch.Tensor,
        targets: torch.Tensor,
        extra: dict[int, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Cross-entropy ``[rows, heads]`` of every head's target token.

        Args:
            hidden: ``[heads, rows, hidden]`` inputs of the output layer.
            out: ``[heads, hidden, widest]`` stacked output weights.
            out_bias: ``[heads, 1, widest]`` stacked output biases.
            targets: ``[rows, heads]`` target tokens.
            extra: Logits ``[rows, width]`` to add to some heads' (by head).
        """
        columns = targets.t()
        parts = []
        for group, heads in enumerate(self.groups):
            logits = self.logits(hidden, out, out_bias, group)
            added = [(j, extra[h]) for j, h in enumerate(heads) if extra and h in extra]
            if added:
                extras = torch.zeros_like(logits)
                for j, values in added:
                    extras[j, :, : values.shape[1]] = values
                logits = logits + extras
            loss = functional.cross_entropy(
                logits.reshape(-1, self.widths[group]),
                self._pick(columns, group).reshape(-1),
                reduction="none",
            )
            parts.append(loss.reshape(len(heads), -1))
        return torch.cat(parts).index_select(0, self.inverse).t()
