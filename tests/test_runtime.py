"""Device selection and random-state helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthkit._runtime import resolve_device, seed_from, torch_seeded
from synthkit.errors import ParameterError

CUDA = torch.cuda.is_available()
MPS = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def test_auto_picks_cpu_on_a_machine_without_accelerators() -> None:
    if CUDA or MPS:
        pytest.skip("this machine has an accelerator")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")


@pytest.mark.parametrize("name", ["cpu", "CPU", torch.device("cpu")])
def test_cpu_by_name_or_device(name) -> None:
    assert resolve_device(name) == torch.device("cpu")


@pytest.mark.skipif(CUDA, reason="CUDA is available here")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_without_a_gpu(name: str) -> None:
    with pytest.raises(ParameterError, match=f"device='{name}'.*(no CUDA|only 0)"):
        resolve_device(name)


@pytest.mark.skipif(MPS, reason="MPS is available here")
def test_mps_without_apple_gpu() -> None:
    with pytest.raises(ParameterError, match=r"device='mps'.*not available"):
        resolve_device("mps")


@pytest.mark.parametrize("name", ["gpu", "", "cpu:x", "banana"])
def test_not_a_device_name(name: str) -> None:
    with pytest.raises(ParameterError, match="not a device name"):
        resolve_device(name)


@pytest.mark.parametrize("name", ["meta", "xpu"])
def test_devices_torch_knows_but_synthkit_does_not_run_on(name: str) -> None:
    with pytest.raises(ParameterError, match=f"device='{name}'"):
        resolve_device(name)


def test_seed_from_int_none_and_generator() -> None:
    assert seed_from(0) == 0
    assert seed_from(np.int32(42)) == 42
    fresh = {seed_from(None) for _ in range(5)}
    assert len(fresh) == 5
    assert all(0 <= seed < 2**63 for seed in fresh)
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    first = seed_from(a)
    assert first == seed_from(b)  # same generator state, same seed
    assert seed_from(a) != first  # the generator advanced


@pytest.mark.parametrize("value", [-1, 1.0, "1", True, [1]])
def test_seed_from_rejects(value) -> None:
    with pytest.raises(ParameterError, match="random_state="):
        seed_from(value)


def test_torch_seeded_is_reproducible_and_restores_global_state() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    with torch_seeded(7, torch.device("cpu")):
        inside = torch.rand(3)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(torch.rand(3), expected_next)  # as if the block never ran
    with torch_seeded(7, torch.device("cpu")):
        assert torch.equal(torch.rand(3), inside)
    with torch_seeded(8, torch.device("cpu")):
        assert not torch.equal(torch.rand(3), inside)


def test_torch_seeded_restores_state_when_the_block_raises() -> None:
    before = torch.get_rng_state()
    with pytest.raises(RuntimeError), torch_seeded(1, torch.device("cpu")):
        torch.rand(5)
        raise RuntimeError("boom")
    assert torch.equal(torch.get_rng_state(), before)


def test_torch_seeded_accepts_full_63_bit_seeds() -> None:
    with torch_seeded(2**63 - 1, torch.device("cpu")):
        a = torch.rand(1)
    with torch_seeded(2**63 - 1, torch.device("cpu")):
        assert torch.equal(torch.rand(1), a)
