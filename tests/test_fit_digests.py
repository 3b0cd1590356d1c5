"""Pinned digests of small fits: refactoring the model contract must not change any model.

Each model is fitted on the same 400 Adult rows with fixed metadata and parameters,
then samples 300 rows. The digest covers the loss history (the whole fit) and the
sample (the learned weights and the sampling path). A change of a model's behaviour
on purpose updates its digest in the same commit, saying why.

The digests hold for the CPU build of torch this project pins, with one torch
thread; other builds round differently, so the test skips there.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import synthkit
from synthkit.datasets import load_adult

PINNED_TORCH = "2.13.0"

PARAMS = {
    "ctgan": {
        "epochs": 2,
        "batch_size": 100,
        "embedding_dim": 16,
        "generator_dim": (32, 32),
        "discriminator_dim": (32, 32),
        "pac": 10,
        "rare_category_threshold": 0,
    },
    "tvae": {
        "epochs": 2,
        "batch_size": 100,
        "embedding_dim": 16,
        "compress_dims": (32, 32),
        "decompress_dims": (32, 32),
        "rare_category_threshold": 0,
    },
    "autoregressive": {
        "epochs": 2,
        "batch_size": 100,
        "hidden_dim": 32,
        "rare_category_threshold": 0,
        "value_protection": False,
    },
    "flow": {"epochs": 2, "batch_size": 100, "rare_category_threshold": 0},
}

DIGESTS = {
    "ctgan": "874bab17a0633ec423e9bfc3881c98f0450d967bcb9e861bf77efa8c420c31ff",
    "tvae": "d18d5da073ccd8a2a1e5ebe97938db052fe3096d5d5da22ce422eb30867208ea",
    "autoregressive": "5a4289b3720f2b174a8c0f7fd702e9a73e1c2c8b1dd83e0d36119a359f7c04fc",
    "flow": "f2fa2056553a2c58343e5af528d1c1815477df62a8910fc25b74223531b1c799",
}


def fit_digest(name: str) -> str:
    """Fit ``name`` on the pinned rows and return the digest of its fit and sample."""
    real = load_adult("train").sample(400, random_state=7).reset_index(drop=True)
    metadata = synthkit.Metadata.from_json(
        Path(__file__).parent / "data" / "adult_digest_metadata.json"
    )
    params = {
        **PARAMS[name],
        "device": "cpu",
        "verbose": False,
        "random_state": 0,
    }
    model = synthkit.Synthesizer(name, **params).fit(real, metadata)
    sample = model.sample(300, random_state=1)
    digest = hashlib.sha256()
    losses = model.loss_history_.to_numpy(dtype=np.float64)
    digest.update(np.ascontiguousarray(losses).tobytes())
    digest.update(pd.util.hash_pandas_object(sample, index=True).to_numpy().tobytes())
    digest.update(json.dumps([str(t) for t in sample.dtypes]).encode())
    return digest.hexdigest()


@pytest.mark.skipif(
    torch.__version__.split("+")[0] != PINNED_TORCH or torch.cuda.is_available(),
    reason=f"digests are pinned for the CPU build of torch {PINNED_TORCH}",
)
@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_fit_and_sample_match_the_pinned_digest(name: str) -> None:
    torch.set_num_threads(1)
    assert fit_digest(name) == DIGESTS[name]
