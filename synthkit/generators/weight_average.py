"""An exponential moving average of a model's weights over its optimizer steps.

The last step's weights carry that step's gradient noise: two fits that differ
only in their seed can draw histories whose values or lengths differ more than
their held-out losses do. Averaging the weights over the last steps (as
``torch.optim.swa_utils.AveragedModel`` with an EMA does; that module imports
``torch.optim``, whose compiler stack costs seconds per process) keeps the
fit's direction and drops most of that noise. The average starts from the
first weights with a rate that grows with the steps taken (``(1 + t) / (10 +
t)``, capped at ``decay``), so a fit of a few dozen steps averages over its
last few and is not pulled back toward its initial weights.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch

__all__ = ["WeightAverage"]


class WeightAverage:
    """Exponential moving averages of the floating-point parameters of some networks.

    Args:
        modules: The networks, by name (a model's ``_modules()``).
        decay: The largest weight of the old average at a step (0.99 averages
            over about the last 100 steps).

    Example:
        >>> layer = torch.nn.Linear(1, 1, bias=False)
        >>> average = WeightAverage({"layer": layer}, decay=0.5)
        >>> with torch.no_grad():
        ...     _ = layer.weight.fill_(1.0)
        >>> average.update()
        >>> with average.applied():
        ...     float(layer.weight) == float(average.averages[0])
        True
        >>> float(layer.weight)
        1.0
    """

    def __init__(self, modules: Mapping[str, torch.nn.Module], decay: float) -> None:
        self.parameters = [
            p for module in modules.values() for p in module.parameters() if p.is_floating_point()
        ]
        self.averages = [p.detach().clone() for p in self.parameters]
        self.decay = float(decay)
        self.steps = 0

    @torch.no_grad()
    def update(self) -> None:
        """Move each average toward its parameter's current value (after an optimizer step)."""
        self.steps += 1
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        if self.parameters:
            torch._foreach_lerp_(self.averages, [p.detach() for p in self.parameters], 1 - decay)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The averaged weights in the networks within the block, the trained ones after it."""
        trained = [p.detach().clone() for p in self.parameters]
        self.copy_to()
        try:
            yield
        finally:
            with torch.no_grad():
                for parameter, value in zip(self.parameters, trained, strict=True):
                    parameter.copy_(value)

    @torch.no_grad()
    def copy_to(self) -> None:
        """Write the averaged weights into the networks for good."""
        for parameter, average in zip(self.parameters, self.averages, strict=True):
            parameter.copy_(average)
