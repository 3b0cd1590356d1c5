"""AdamW with a linear learning-rate decay, through torch's functional update.

Every method of a ``torch.optim.Optimizer`` imports ``torch._dynamo`` on its first
call: 1.4 to 2.4 seconds of CPU once per process, which a database's fit paid in
each worker process it forks (about 1.5 of NAFLD's 3.5 CPU seconds per table).
:class:`DecayingAdamW` keeps the per-parameter state itself and calls torch's own
update (``torch.optim.adam.adam`` with decoupled weight decay, the function
``torch.optim.AdamW`` runs), which imports nothing: the same steps, bit for bit,
as ``torch.optim.AdamW(fused=True)``. The fused kernel updates every tensor in
one call: on a CPU a step of a few hundred thousand weights takes a tenth of the
time of one update per tensor, which is most of a small model's step time.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim.adam import adam

__all__ = ["DecayingAdamW", "LinearDecay"]

#: Where torch's fused Adam kernel runs; elsewhere each tensor is updated on its own.
_FUSED_DEVICES = ("cpu", "cuda")
_FUSED_DTYPES = (torch.float32, torch.float64)


class DecayingAdamW:
    """AdamW over ``parameters`` whose rate :class:`LinearDecay` moves.

    Args:
        parameters: The tensors to train (those without ``requires_grad`` are left out).
        lr: The starting learning rate.
        weight_decay: Decoupled weight decay, as ``torch.optim.AdamW`` applies it.
        betas: The moving averages' rates.
        eps: Added to the root of the second moment.

    Example:
        >>> weight = torch.nn.Parameter(torch.tensor([1.0]))
        >>> optimizer = DecayingAdamW([weight], lr=0.1, weight_decay=0.0)
        >>> (weight**2).sum().backward()
        >>> optimizer.step()
        >>> round(float(weight.detach()), 3)
        0.9
    """

    def __init__(
        self,
        parameters: Iterable[torch.Tensor],
        lr: float,
        weight_decay: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.parameters = [p for p in parameters if p.requires_grad]
        self.base_lr = float(lr)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.betas = betas
        self.eps = eps
        # Moments and step counts, made at a tensor's first gradient (as torch does).
        self.state: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero) every parameter's gradient."""
        for parameter in self.parameters:
            if set_to_none:
                parameter.grad = None
            elif parameter.grad is not None:
                parameter.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One AdamW step of the parameters that have a gradient."""
        params, grads, averages, squares, steps = [], [], [], [], []
        for i, parameter in enumerate(self.parameters):
            if parameter.grad is None:
                continue
            if i not in self.state:
                zeros = torch.zeros_like(parameter, memory_format=torch.preserve_format)
                self.state[i] = (zeros, zeros.clone(), torch.tensor(0.0))
            average, square, count = self.state[i]
            params.append(parameter)
            grads.append(parameter.grad)
            averages.append(average)
            squares.append(square)
            steps.append(count)
        if not params:
            return
        fused = all(p.device.type in _FUSED_DEVICES and p.dtype in _FUSED_DTYPES for p in params)
        adam(
            params,
            grads,
            averages,
            squares,
            [],
            steps,
            foreach=None,
            capturable=False,
            differentiable=False,
            fused=fused or None,
            grad_scale=None,
            found_inf=None,
            has_complex=any(torch.is_complex(p) for p in params),
            decoupled_weight_decay=True,
            amsgrad=False,
            beta1=self.betas[0],
            beta2=self.betas[1],
            lr=self.lr,
            weight_decay=self.weight_decay,
            eps=self.eps,
            maximize=False,
        )


class LinearDecay:
    """Moves an optimizer's rate linearly from its start to ``final`` of it over ``total`` steps.

    Call :meth:`step` after each optimizer step (as with a torch scheduler).

    Example:
        >>> weight = torch.nn.Parameter(torch.zeros(1))
        >>> optimizer = DecayingAdamW([weight], lr=1.0, weight_decay=0.0)
        >>> schedule = LinearDecay(optimizer, total=10)
        >>> for _ in range(5):
        ...     schedule.step()
        >>> optimizer.lr
        0.55
    """

    def __init__(self, optimizer: DecayingAdamW, total: int, final: float = 0.1) -> None:
        self.optimizer = optimizer
        self.total = max(int(total), 1)
        self.final = float(final)
        self.steps = 0

    def step(self) -> None:
        """Advance one step."""
        self.steps += 1
        done = min(self.steps / self.total, 1.0)
        self.optimizer.lr = self.optimizer.base_lr * (1.0 - (1.0 - self.final) * done)
