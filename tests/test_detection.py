"""Column-kind detection on real and realistic frames."""

from __future__ import annotations

import pandas as pd
import pytest

from synthkit._detection import detect_columns
from synthkit.datasets import load_adult
from synthkit.errors import DataError

DATA = "tests/data"


def kinds(frame: pd.DataFrame) -> dict[str, str]:
    return {name: entry["kind"] for name, entry in detect_columns(frame).columns.items()}


def test_adult_kinds_match_sdv_style_rules():
    found = kinds(load_adult("train"))
    assert found["education_num"] == "numerical"
    assert found["age"] == "numerical"
    assert found["income"] == "categorical"
    assert found["workclass"] == "categorical"
    assert "pii" not in found.values()


def test_actg175_flags_and_keys():
    detected = detect_columns(pd.read_csv(f"{DATA}/actg175.csv.gz"))
    assert detected.columns["gender"]["kind"] == "boolean"
    assert detected.columns["pidnum"]["kind"] == "id"
    assert detected.columns["arms"]["kind"] == "categorical"
    assert detected.primary_key == "Unnamed: 0"


@pytest.mark.parametrize("bad", [None, pd.DataFrame(), pd.DataFrame({"a": []})])
def test_bad_input_raises_data_error(bad):
    with pytest.raises(DataError):
        detect_columns(bad)
