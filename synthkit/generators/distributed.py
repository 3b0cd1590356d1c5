"""Data-parallel training across processes through ``torch.distributed``.

A model fitted inside an initialized process group trains as one model: each
process reads its slice of every batch and the gradients are averaged across
processes by :class:`torch.nn.parallel.DistributedDataParallel`. Outside a group
(the usual case) these helpers change nothing.
"""

from __future__ import annotations

import torch
from torch import distributed


def process_group() -> tuple[int, int]:
    """This process's rank and the group's size; ``(0, 1)`` outside a process group.

    Example:
        >>> process_group()
        (0, 1)
    """
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank(), distributed.get_world_size()
    return 0, 1


def data_parallel(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` wrapped for data-parallel training inside a process group, else itself.

    Example:
        >>> layer = torch.nn.Linear(2, 1)
        >>> data_parallel(layer) is layer
        True
    """
    if process_group()[1] == 1:
        return module
    return torch.nn.parallel.DistributedDataParallel(module)
