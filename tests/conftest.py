"""Shared fixtures of the core tests: real data samples and small fitted models, built once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

# The fixtures below are the rest of the interface for tests.
__all__ = ["DATA", "SMALL_PARAMS", "peak_memory_growth", "small_params"]

DATA = Path(__file__).parent / "data"

#: Small networks and few epochs per model, so the suite fits in seconds on a CPU.
#: A model registered later gets ``epochs=2`` plus the shared settings until it is listed.
SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "ctgan": {
        "epochs": 3,
        "batch_size": 200,
        "embedding_dim": 32,
        "generator_dim": (64, 64),
        "discriminator_dim": (64, 64),
        "pac": 10,
    },
    "tvae": {
        # Fewer steps leave TVAE emitting only each category's mode (no women at all).
        "epochs": 30,
        "batch_size": 100,
        "embedding_dim": 32,
        "compress_dims": (64, 64),
        "decompress_dims": (64, 64),
    },
}


def small_params(name: str, **overrides: Any) -> dict[str, Any]:
    """Constructor parameters of a quick CPU fit of model ``name``."""
    params = {"epochs": 2, **SMALL_PARAMS.get(name, {})}
    return {"device": "cpu", "verbose": False, "random_state": 0, **params, **overrides}


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> None:
    """One intra-op thread per test process.

    The suite runs with pytest-xdist on machines shared by several jobs; there,
    torch's thread pool spins against the other processes and a 5,000-row encoder
    fit takes 11 s instead of 0.25 s.
    """
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def adult_full() -> pd.DataFrame:
    """The bundled Adult training split, 32,561 rows."""
    from synthkit.datasets import load_adult

    return load_adult("train")


@pytest.fixture(scope="session")
def real_and_shuffled() -> tuple[pd.DataFrame, pd.DataFrame]:
    """2,000 held-out Adult rows, and the same rows with each column shuffled on its own.

    Shuffling keeps every column's values but breaks their relationships, so a
    model's log-likelihood should rank the real rows higher.
    """
    import numpy as np

    from synthkit.datasets import load_adult

    held_out = load_adult("test").sample(2000, random_state=1).reset_index(drop=True)
    rng = np.random.default_rng(0)
    shuffled = held_out.apply(lambda column: column.to_numpy()[rng.permutation(len(column))])
    return held_out, shuffled


@pytest.fixture(scope="session")
def adult(adult_full: pd.DataFrame) -> pd.DataFrame:
    """A 3,000-row sample of Adult: every column, realistic missing values."""
    return adult_full.sample(3000, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def lending_club() -> pd.DataFrame:
    """Lending Club loans: 9,857 rows, integer, float and string columns, a row id."""
    return pd.read_csv(DATA / "lending_club.csv.gz")


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """CDNOW purchases: dates stored as yyyymmdd integers."""
    return pd.read_csv(DATA / "cdnow_transactions.csv.gz")


@pytest.fixture(scope="session")
def actg175() -> pd.DataFrame:
    """ACTG 175 trial records: 0/1 flags, codes, a float column with missing values, ids."""
    return pd.read_csv(DATA / "actg175.csv.gz")


@pytest.fixture(scope="session")
def make_model() -> Callable[..., Any]:
    """``make_model(name, **overrides)``: an unfitted model with quick CPU parameters."""
    import synthkit

    def make(name: str, **overrides: Any) -> Any:
        return synthkit.Synthesizer(name, **small_params(name, **overrides))

    return make


@pytest.fixture(scope="session")
def fitted(adult: pd.DataFrame) -> Callable[[str], Any]:
    """``fitted(name)``: a small model of that name fitted on ``adult``, fitted once per session.

    Tests must not refit or ``set_params`` these shared models; sampling is fine.
    """
    import synthkit

    cache: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in cache:
            cache[name] = synthkit.Synthesizer(name, **small_params(name)).fit(adult)
        return cache[name]

    return get


#: Source every memory test's child script starts with: ``peak_growth(run)`` is how
#: far the resident set's peak rises above its size while ``run()`` runs, from a
#: baseline taken after returning freed memory (Python's, glibc's, Arrow's) to the
#: system.
_PEAK_GROWTH = """
import ctypes, gc
import pyarrow as pa

def _rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

def peak_growth(run):
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    pa.default_memory_pool().release_unused()
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset the peak (VmHWM) to the current size
    base = _rss("VmRSS:")
    run()
    return _rss("VmHWM:") - base
"""


def peak_memory_growth(child: str, *args: str) -> dict[str, int]:
    """Run ``child`` (Python source) in a fresh interpreter and read its last line as JSON.

    The memory tests measure resident-set growth in a process of its own, so that
    what the test session already holds does not count. ``child`` may call
    ``peak_growth(run)``, defined before it runs.
    """
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _PEAK_GROWTH + child, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])
