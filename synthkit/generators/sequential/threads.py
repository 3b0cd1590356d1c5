"""Torch's CPU threads while a sequence model trains or samples."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["one_cpu_thread"]


@contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run torch on one CPU thread inside the block (no effect on other devices).

    Training and sampling steps are many small operations (64-wide states, and
    the context model's few-hundred-row batches);
    splitting each over threads costs more in synchronization than it saves,
    and many times more when other processes hold the cores (measured on two
    busy cores: sampling 10x, training 4x to 16x slower on two threads).

    Example:
        >>> with one_cpu_thread(torch.device("cpu")):
        ...     torch.get_num_threads()
        1
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
