"""Rare categories are quasi-identifiers: by default no model ever emits one."""

from __future__ import annotations

import json
import zipfile

import pandas as pd
import pytest

from synthkit.errors import ConditionError
from synthkit.generators import GENERATORS
from synthkit.processing.columns import CategoricalTransform

NAMES = GENERATORS.names()
K = 5


def rare_values(real: pd.DataFrame, k: int = K) -> dict[str, set]:
    """Per categorical column, the values seen in fewer than ``k`` rows."""
    out = {}
    for column in real.columns:
        if real[column].dtype == object:
            counts = real[column].value_counts()
            out[column] = set(counts[counts < k].index)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_every_model_pools_rare_categories_by_default(name: str) -> None:
    assert GENERATORS.get(name)().rare_category_threshold == K


@pytest.mark.parametrize("name", NAMES)
def test_a_category_seen_once_never_appears_in_synthetic_rows(
    name: str, make_model, adult: pd.DataFrame
) -> None:
    real = adult.head(2000)
    rare = rare_values(real)
    once = {c: {v for v in values if (real[c] == v).sum() == 1} for c, values in rare.items()}
    assert sum(len(v) for v in once.values()) >= 3  # countries, occupations seen once
    model = make_model(name).fit(real)
    synthetic = model.sample(4000, random_state=0)
    for column, values in rare.items():
        emitted = values & set(synthetic[column].dropna())
        assert not emitted, (column, emitted)
    # The common values are still generated.
    assert {"United-States", "Mexico"} <= set(synthetic["native_country"])


def test_the_model_file_keeps_no_rare_value(make_model, adult: pd.DataFrame, tmp_path) -> None:
    real = adult.head(2000)
    model = make_model("tvae", epochs=1).fit(real)
    path = model.save(tmp_path / "model.synthkit")
    with zipfile.ZipFile(path) as archive:
        manifest = archive.read("model.json").decode()
    once = [v for v, n in real["native_country"].value_counts().items() if n == 1]
    assert once
    for value in once:
        assert json.dumps(value) not in manifest, value
    # A rare or unseen value encodes as the pool, so a condition on it is refused.
    with pytest.raises(ConditionError, match=r"rarer than rare_category_threshold"):
        model.sample(5, conditions={"native_country": once[0]})


def test_the_pool_decodes_to_the_most_common_kept_value() -> None:
    series = pd.Series(["a"] * 6 + ["b"] * 9 + ["c"] * 2 + ["d"] + ["e"])
    transform = CategoricalTransform.describe("x", series, rare_threshold=K)
    assert transform.categories[:2] == ["b", "a"]
    assert transform.n_pooled == 3
    decoded = transform.decode_codes(transform.codes(series))
    assert set(decoded) == {"a", "b"}
    assert (decoded[series.isin(["c", "d", "e"])] == "b").all()
    assert (decoded[series.isin(["a", "b"])] == series[series.isin(["a", "b"])]).all()


def test_a_single_rare_category_is_pooled_too() -> None:
    series = pd.Series(["a"] * 10 + ["b"])
    transform = CategoricalTransform.describe("x", series, rare_threshold=K)
    assert transform.n_pooled == 1
    assert set(transform.decode_codes(transform.codes(series))) == {"a"}


def test_when_no_category_reaches_the_threshold_only_the_most_common_is_kept() -> None:
    series = pd.Series(["a", "a", "a", "b", "b", "c"])
    transform = CategoricalTransform.describe("x", series, rare_threshold=K)
    assert set(transform.decode_codes(transform.codes(series))) == {"a"}


def test_threshold_zero_keeps_every_category() -> None:
    series = pd.Series(["a"] * 10 + ["b"])
    transform = CategoricalTransform.describe("x", series, rare_threshold=0)
    assert transform.n_pooled == 0
    assert transform.decode_codes(transform.codes(series)).equals(series.astype(object))
