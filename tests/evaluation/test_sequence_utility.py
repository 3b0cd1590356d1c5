"""Entity-level utility of sequences: predict a context label from each entity's history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthkit
from synthkit.datasets import load_card_statements
from synthkit.errors import EvaluationError
from synthkit.evaluation import METRICS, Report

KEY, INDEX = "card", "month"
FAST = ("hist_gradient_boosting",)


@pytest.fixture(scope="module")
def split() -> dict[str, dict[str, pd.DataFrame]]:
    """2,000 training and 2,000 holdout cards (split by card); ``has_default`` is the label."""
    events, cards = load_card_statements()
    order = np.random.default_rng(0).permutation(cards[KEY].to_numpy())
    parts = {}
    for name, ids in (("train", order[:2000]), ("holdout", order[2000:4000])):
        parts[name] = {
            "events": events[events[KEY].isin(ids)].reset_index(drop=True),
            "context": cards[cards[KEY].isin(ids)].reset_index(drop=True),
        }
    return parts


def _report(split, events, context, metrics, target="has_default") -> Report:
    return synthkit.evaluate(
        synthkit.SequenceDataset(split["train"]["events"], KEY, INDEX),
        synthkit.SequenceDataset(events, KEY, INDEX),
        holdout=synthkit.SequenceDataset(split["holdout"]["events"], KEY, INDEX),
        context={
            "real": split["train"]["context"],
            "synthetic": context,
            "holdout": split["holdout"]["context"],
        },
        target=target,
        metrics=[METRICS.get(m)(models=FAST) for m in metrics],
    )


def test_a_copy_of_the_training_entities_scores_as_real(split) -> None:
    train = split["train"]
    report = _report(
        split, train["events"], train["context"], ["entity_tstr_auc", "entity_trtr_auc"]
    )
    details = report.details["entity_tstr_auc"]
    # The same entities train both models: TSTR equals TRTR, well above chance.
    assert report.to_dict()["entity_tstr_auc"] == report.to_dict()["entity_trtr_auc"]
    assert details["ratio"] == 1.0 and details["trtr"] > 0.65
    assert details["unit"] == "entity" and "pay_status:last" in details["features"]
    assert "has_default" not in details["features"]
    assert report.info["entity_tstr_auc"]["unit"] == "entity"


def test_shuffled_labels_score_near_chance(split) -> None:
    train = split["train"]
    rng = np.random.default_rng(1)
    shuffled = train["context"].assign(has_default=rng.permutation(train["context"]["has_default"]))
    report = _report(split, train["events"], shuffled, ["entity_tstr_auc"])
    details = report.details["entity_tstr_auc"]
    assert abs(details["tstr"] - 0.5) < 0.07
    assert details["trtr"] - details["tstr"] > 0.15 and details["ratio"] < 0.8


def test_regression_targets_and_bad_targets(split) -> None:
    train = split["train"]
    report = _report(split, train["events"], train["context"], ["entity_tstr_r2"], "limit_bal")
    assert report.details["entity_tstr_r2"]["ratio"] == 1.0
    real = synthkit.SequenceDataset(train["events"], KEY, INDEX)
    holdout = synthkit.SequenceDataset(split["holdout"]["events"], KEY, INDEX)
    context = {
        "real": train["context"],
        "synthetic": train["context"],
        "holdout": split["holdout"]["context"],
    }
    # A classification metric on a numeric target says why it does not apply.
    with pytest.raises(EvaluationError, match="'limit_bal' is a regression target"):
        _report(split, train["events"], train["context"], ["entity_tstr_auc"], "limit_bal")
    with pytest.raises(EvaluationError, match=r"must be a context column.*\['limit_bal'"):
        synthkit.evaluate(real, real, holdout=holdout, context=context, target="bill_amt")
    with pytest.raises(EvaluationError, match="no context table"):
        synthkit.evaluate(real, real, holdout=holdout, target="has_default")
