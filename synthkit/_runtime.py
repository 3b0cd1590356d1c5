"""Device selection and random-state handling shared by every model."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from synthkit.errors import ParameterError

__all__ = ["fused_adam", "resolve_device", "seed_from", "torch_seeded"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a device name into a :class:`torch.device` that exists here.

    Args:
        device: ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda"``,
            ``"cuda:N"`` or ``"mps"``.

    Returns:
        The resolved device.

    Raises:
        ParameterError: If the name is not a device or that device is not available.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    name = str(device) if isinstance(device, torch.device) else str(device).lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError as error:
        raise ParameterError(
            f"device={device!r} is not a device name; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'."
        ) from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(
            f"device={device!r} was asked for but no CUDA GPU is available; use device='auto'."
        )
    if (
        resolved.type == "cuda"
        and resolved.index is not None
        and resolved.index >= torch.cuda.device_count()
    ):
        raise ParameterError(
            f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) exist."
        )
    if resolved.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ParameterError(f"device={device!r} was asked for but MPS is not available.")
    if resolved.type not in {"cpu", "cuda", "mps"}:
        raise ParameterError(f"device={device!r} is not supported; use 'cpu', 'cuda' or 'mps'.")
    return resolved


def seed_from(random_state: int | np.random.Generator | None) -> int:
    """Derive a 63-bit integer seed from a ``random_state`` argument.

    ``None`` draws fresh entropy, an int is used as given, and a NumPy generator
    is advanced by one draw, as scikit-learn treats ``random_state``.

    Example:
        >>> seed_from(7)
        7
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ParameterError(f"random_state={random_state} must be >= 0 or None.")
        return int(random_state)
    raise ParameterError(
        f"random_state={random_state!r} must be an int, a numpy Generator or None."
    )


@contextlib.contextmanager
def torch_seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch for the duration of a block without disturbing global random state.

    Example:
        >>> with torch_seeded(0, torch.device("cpu")):
        ...     a = torch.rand(1)
        >>> with torch_seeded(0, torch.device("cpu")):
        ...     b = torch.rand(1)
        >>> bool(a == b)
        True
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, enabled=True):
        torch.manual_seed(seed % (2**63))
        yield


def fused_adam(device: torch.device) -> bool | None:
    """Whether to ask for torch's fused Adam (one kernel per step) on ``device``.

    Fused Adam runs on CPU and CUDA; elsewhere torch picks its default.

    Example:
        >>> fused_adam(torch.device("cpu"))
        True
    """
    return True if device.type in ("cpu", "cuda") else None
