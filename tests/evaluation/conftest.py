"""Shared real-data fixtures for the evaluation tests (Adult splits, lending_club)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synthkit.datasets import load_adult

DATA = Path(__file__).resolve().parents[1] / "data"

# Metrics that need no target; utility is tested on its own.
PRIVACY_AND_FIDELITY = [
    "column_shapes",
    "column_pair_trends",
    "alpha_precision",
    "beta_recall",
    "authenticity",
    "exact_match_rate",
    "exact_match_rate_holdout",
    "dcr_share",
    "nndr",
    "mia_auc",
    "mia_tpr_at_10_fpr",
    "singling_out_risk",
    "linkability_risk",
    "inference_risk",
]


@pytest.fixture(scope="session")
def privacy_and_fidelity() -> list[str]:
    return list(PRIVACY_AND_FIDELITY)


@pytest.fixture(scope="session")
def adult_train() -> pd.DataFrame:
    return load_adult("train")


@pytest.fixture(scope="session")
def adult_test() -> pd.DataFrame:
    return load_adult("test")


@pytest.fixture(scope="session")
def small_split(adult_train, adult_test) -> dict[str, pd.DataFrame]:
    """4,000 training rows, a 4,000-row holdout and 3,000 fresh rows from the test split."""
    train = adult_train.sample(4000, random_state=1).reset_index(drop=True)
    test = adult_test.sample(7000, random_state=2)
    holdout = test.iloc[:4000].reset_index(drop=True)
    fresh = test.iloc[4000:].reset_index(drop=True)
    return {"train": train, "holdout": holdout, "fresh": fresh}


@pytest.fixture(scope="session")
def lending_club() -> pd.DataFrame:
    return pd.read_csv(DATA / "lending_club.csv.gz")
