"""The sequence API end to end on real purchases: 400 CDNOW customers with their cohort."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthkit
import synthkit.datasets
from synthkit.errors import ConditionError

DATA = Path(__file__).parent / "data"
KEY, INDEX = "customer_id", "date"
FAST = {"epochs": 4, "batch_size": 32, "state_dim": 32, "hidden_dim": 32, "verbose": False}
CONTEXT_FAST = {"epochs": 2, "hidden_dim": 32}


def _customers(purchases: pd.DataFrame) -> pd.DataFrame:
    first = purchases.groupby(KEY, as_index=False)[INDEX].min()
    cohort = pd.to_datetime(first[INDEX].astype(str), format="%Y%m%d").dt.strftime("%Y-%m")
    return pd.DataFrame({KEY: first[KEY], "cohort": cohort})


@pytest.fixture(scope="module")
def split() -> dict[str, pd.DataFrame]:
    purchases = pd.read_csv(DATA / "cdnow_sample.csv.gz")
    customers = _customers(purchases)
    holdout = customers[KEY].sample(200, random_state=0)
    in_holdout = purchases[KEY].isin(holdout)
    return {
        "train": purchases[~in_holdout].reset_index(drop=True),
        "train_ctx": customers[~customers[KEY].isin(holdout)].reset_index(drop=True),
        "hold": purchases[in_holdout].reset_index(drop=True),
        "hold_ctx": customers[customers[KEY].isin(holdout)].reset_index(drop=True),
    }


@pytest.fixture(scope="module")
def model(split: dict[str, pd.DataFrame]) -> synthkit.SequenceSynthesizer:
    model = synthkit.SequenceSynthesizer(
        "ar", random_state=0, max_window=16, context_params=CONTEXT_FAST, **FAST
    )
    sequences = synthkit.SequenceDataset(split["train"], sequence_key=KEY, sequence_index=INDEX)
    return model.fit(sequences, context=split["train_ctx"])


@pytest.fixture(scope="module")
def synthetic(model: synthkit.SequenceSynthesizer) -> synthkit.SequenceDataset:
    return model.sample(n_entities=300, random_state=1)


def test_sample_keeps_dtypes_with_new_keys(split, synthetic) -> None:
    events, context = synthetic.data, synthetic.context
    assert list(events.columns) == list(split["train"].columns)
    assert dict(events.dtypes) == dict(split["train"].dtypes)
    assert dict(context.dtypes) == dict(split["train_ctx"].dtypes)
    assert context[KEY].is_unique and len(context) == 300
    assert set(events[KEY]) <= set(context[KEY])
    real_keys = set(split["train_ctx"][KEY]) | set(split["hold_ctx"][KEY])
    assert not set(context[KEY]) & real_keys


def test_purchases_are_real_dates_in_order_with_ties(split, synthetic) -> None:
    events = synthetic.data
    dates = pd.to_datetime(events[INDEX].astype(str), format="%Y%m%d", errors="coerce")
    assert dates.notna().all()
    assert events.groupby(KEY)[INDEX].is_monotonic_increasing.all()
    # Same-day purchases exist in the data (8 % of rows here) and in the sample.
    assert events.duplicated([KEY, INDEX]).any()
    assert (events["number_of_cds"] >= 1).all() and (events["dollar_value"] >= 0).all()
    real = split["train"].groupby(KEY).size().mean()
    assert 0.5 * real < events.groupby(KEY).size().mean() < 2 * real


def test_first_purchase_falls_in_the_customers_cohort(synthetic) -> None:
    # The cohort is a function of the first event. A model whose first event
    # ignored the context would match about a third of customers (three
    # cohorts of similar size; 0.03 the sd over 300); a short fit matches ~0.5.
    first = synthetic.data.groupby(KEY)[INDEX].min()
    month = pd.to_datetime(first.astype(str), format="%Y%m%d").dt.strftime("%Y-%m")
    cohort = synthetic.context.set_index(KEY)["cohort"].reindex(month.index)
    assert (month == cohort).mean() > 0.42


def test_conditions_on_the_cohort_are_exact(model) -> None:
    drawn = model.sample(n_entities=50, conditions={"cohort": "1997-03"}, random_state=2)
    assert len(drawn.context) == 50
    assert (drawn.context["cohort"] == "1997-03").all()
    assert set(drawn.data[KEY]) <= set(drawn.context[KEY])
    with pytest.raises(ConditionError, match="cohort"):
        model.sample(n_entities=5, conditions={"cohort": "2001-01"})


def test_sampling_for_given_customers(model, split) -> None:
    given = split["hold_ctx"].head(20)
    drawn = model.sample(context=given, random_state=3)
    # Given context rows keep their values and their keys; without the key
    # column the customers get new keys.
    assert drawn.context["cohort"].tolist() == given["cohort"].tolist()
    assert drawn.context[KEY].tolist() == given[KEY].tolist()
    assert set(drawn.data[KEY]) <= set(given[KEY])
    anonymous = model.sample(context=given.drop(columns=[KEY]), random_state=3)
    assert not set(anonymous.context[KEY]) & set(split["hold_ctx"][KEY])


def test_evaluation_against_a_holdout_of_customers(split, synthetic) -> None:
    report = synthkit.evaluate(
        synthkit.SequenceDataset(split["train"], KEY, INDEX),
        synthetic,
        holdout=synthkit.SequenceDataset(split["hold"], KEY, INDEX),
        context={"real": split["train_ctx"], "holdout": split["hold_ctx"]},
    )
    scores = report.to_dict()
    for name in ("length_similarity", "gap_similarity", "coherence", "column_shapes"):
        assert 0.5 < scores[name] <= 1, name
    assert 0.5 <= scores["detection_auc"] <= 1
    # A fresh model of 300 customers neither copies them nor sits far from them.
    assert 0.3 < scores["dcr_share"] < 0.7
    # One-purchase customers of one CD at a list price repeat by chance, so a
    # few exact histories are expected; a copying model shows most (below).
    assert scores["exact_match_rate"] < 0.05


def test_copied_customers_are_caught_at_the_entity_level(split) -> None:
    train = synthkit.SequenceDataset(split["train"], KEY, INDEX)
    scores = synthkit.evaluate(
        train,
        train,
        holdout=synthkit.SequenceDataset(split["hold"], KEY, INDEX),
        context={
            "real": split["train_ctx"],
            "synthetic": split["train_ctx"],
            "holdout": split["hold_ctx"],
        },
        metrics=["dcr_share", "exact_match_rate"],
    ).to_dict()
    assert scores["dcr_share"] > 0.8
    assert scores["exact_match_rate"] > 0.9


def test_bundled_sample_loads_with_its_cohorts() -> None:
    purchases, customers = synthkit.datasets.load_cdnow()
    assert customers[KEY].is_unique
    assert set(purchases[KEY]) == set(customers[KEY])
    np.testing.assert_array_equal(
        _customers(purchases)["cohort"].to_numpy(), customers["cohort"].to_numpy()
    )
