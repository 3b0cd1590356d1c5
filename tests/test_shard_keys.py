"""Entity keys of sharded sequence samples: unique within and across shards, never real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from synthkit.generators.shard_keys import shard_keys
from synthkit.pii.ids import describe_ids

DATA = Path(__file__).parent / "data"
TAILNUMS = pd.read_csv(DATA / "planes.csv.gz")["tailnum"]  # N10156, N102UW, ...
PATIENTS = pd.read_csv(DATA / "nafld1_sample.csv.gz")["id"]
ENTRIES = {
    "tailnum": (describe_ids(TAILNUMS, numeric=False), "object", TAILNUMS),
    "patient": (describe_ids(PATIENTS, numeric=True), "int64", PATIENTS),
    "uuid": ({"kind": "id", "id_type": "string", "format": "uuid"}, "object", pd.Series([])),
}


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(sorted(ENTRIES)),
    shards=st.lists(st.integers(0, 40), min_size=2, max_size=4, unique=True),
    size=st.integers(1, 60),
    seed=st.integers(0, 2**32),
)
def test_keys_of_different_shards_never_meet_nor_match_real_keys(name, shards, size, seed):
    entry, dtype, real = ENTRIES[name]
    drawn = [
        shard_keys(entry, dtype, size, index=i, n_shards=41, shard_entities=size, seed=seed)
        for i in shards  # the same seed in every shard: only the index keeps them apart
    ]
    keys = pd.Series(np.concatenate(drawn))
    assert keys.is_unique
    assert not keys.isin(real).any()
    if name == "tailnum":
        assert keys.str.startswith("N").all()  # the real keys' literal prefix is kept
        codes = [f"N{i:02d}" for i in shards]
        assert [set(k[:3] for k in part) for part in drawn] == [{c} for c in codes]
    if name == "patient":
        assert all(part.dtype == np.int64 for part in drawn)


def test_an_integer_shard_keeps_to_its_segment_even_with_wide_gaps() -> None:
    entry = {"kind": "id", "id_type": "integer", "min": 1, "max": 10, "step": 1000.0}
    first = shard_keys(entry, "int64", 50, index=0, n_shards=2, shard_entities=50, seed=0)
    second = shard_keys(entry, "int64", 50, index=1, n_shards=2, shard_entities=50, seed=0)
    assert first.min() > 10 and first.max() < second.min()
    assert np.diff(first).mean() > 100  # the real keys' spacing is kept
