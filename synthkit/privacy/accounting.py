"""Privacy accounting: Rényi DP of Gaussian mechanisms, composed, through Opacus' analysis.

Every mechanism a DP fit runs is a (sub)sampled Gaussian mechanism, written as a
``(noise_multiplier, sample_rate, steps)`` triple: the preprocessing histograms are one
Gaussian release (sample rate 1, one step, noise in units of its L2 sensitivity) and
DP-SGD is ``steps`` Poisson-subsampled steps. Their Rényi divergences add up order by
order, which is tighter than adding epsilons.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from synthkit._registry import import_optional

__all__ = [
    "Mechanism",
    "default_delta",
    "epsilon_of_rdp",
    "epsilon_spent",
    "noise_for_epsilon",
    "rdp_of_step",
]

#: ``(noise_multiplier, sample_rate, steps)`` of one (sub)sampled Gaussian mechanism.
Mechanism = tuple[float, float, int]

# Rényi orders: fine near 1 for large epsilons, wide for small ones.
_ORDERS = [1.1, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5]
_ORDERS += [float(a) for a in range(5, 64)] + [80.0, 96.0, 128.0, 256.0, 512.0, 1024.0]


@functools.cache
def _rdp() -> ModuleType:
    """Opacus' RDP analysis module, loaded alone.

    Importing it through its package runs ``opacus/__init__``, which loads the whole
    training engine (about 6 s); the analysis module needs only numpy and scipy.
    """
    spec = importlib.util.find_spec("opacus")
    if spec is None or not spec.submodule_search_locations:
        import_optional("opacus", extra="dp", purpose="Differentially private training")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "accountants/analysis/rdp.py"
    module_spec = importlib.util.spec_from_file_location("_synthkit_opacus_rdp", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def default_delta(n_rows: int) -> float:
    """The default delta, ``1 / n**1.1``: below one over the number of privacy units.

    Example:
        >>> round(default_delta(1000), 8)
        0.00050119
    """
    return 1.0 / max(int(n_rows), 2) ** 1.1


def epsilon_spent(mechanisms: Sequence[Mechanism], delta: float) -> float:
    """Epsilon at ``delta`` of the composition of ``mechanisms`` (0 when there are none).

    Example:
        >>> epsilon_spent([(2.0, 0.01, 1000)], 1e-5) < epsilon_spent([(1.0, 0.01, 1000)], 1e-5)
        True
    """
    total = np.zeros(len(_ORDERS))
    for multiplier, rate, steps in mechanisms:
        if steps > 0 and rate > 0:
            if multiplier <= 0:
                return math.inf
            total = total + steps * rdp_of_step(multiplier, rate)
    return epsilon_of_rdp(total, delta)


def rdp_of_step(noise_multiplier: float, sample_rate: float) -> np.ndarray:
    """Rényi divergence of one sampled Gaussian step at each of the accountant's orders."""
    rdp = _rdp()
    values = rdp.compute_rdp(
        q=sample_rate, noise_multiplier=noise_multiplier, steps=1, orders=_ORDERS
    )
    return np.asarray(values, dtype=np.float64)


def epsilon_of_rdp(total: np.ndarray, delta: float) -> float:
    """Epsilon at ``delta`` of accumulated Rényi divergences (0 when nothing ran)."""
    if not np.any(total > 0):
        return 0.0
    with warnings.catch_warnings():
        # Opacus warns when the best order is an end of the list; the bound stays valid.
        warnings.simplefilter("ignore", UserWarning)
        epsilon, _ = _rdp().get_privacy_spent(orders=_ORDERS, rdp=total.tolist(), delta=delta)
    return float(epsilon)


def noise_for_epsilon(
    epsilon: float,
    delta: float,
    sample_rate: float,
    steps: int,
    before: Sequence[Mechanism] = (),
) -> float:
    """The smallest noise multiplier whose mechanism, after ``before``, stays within epsilon.

    Args:
        epsilon: Target epsilon of the whole composition.
        delta: Its delta.
        sample_rate: Poisson sampling rate of each step (1 for a single release).
        steps: Number of steps.
        before: Mechanisms already run (their cost is part of the target).

    Returns:
        The noise multiplier (standard deviation over L2 sensitivity), found by bisection
        to a relative precision of 1e-3, rounded up so the target is never exceeded.

    Raises:
        ValueError: If ``before`` alone already spends the target.

    Example:
        >>> z = noise_for_epsilon(1.0, 1e-5, 0.01, 1000)
        >>> epsilon_spent([(z, 0.01, 1000)], 1e-5) <= 1.0
        True
    """
    prior = np.zeros(len(_ORDERS))
    for multiplier, rate, count in before:
        prior = prior + count * rdp_of_step(multiplier, rate)
    if epsilon_of_rdp(prior, delta) >= epsilon:
        raise ValueError("the earlier mechanisms already spend the whole epsilon")

    def spent(z: float) -> float:
        return epsilon_of_rdp(prior + steps * rdp_of_step(z, sample_rate), delta)

    low, high = 0.05, 1.0
    while spent(high) > epsilon:
        low, high = high, high * 2.0
        if high > 1e6:
            raise ValueError("no noise multiplier reaches this epsilon")
    while high - low > 1e-3 * high:
        middle = 0.5 * (low + high)
        low, high = (middle, high) if spent(middle) > epsilon else (low, middle)
    return high
