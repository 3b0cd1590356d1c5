"""Utility on real data: the MEASURING.md Adult protocol, a rare fraud-like class, regression."""

from __future__ import annotations

import math

import numpy as np
import pytest

import synthkit
from synthkit.evaluation import METRICS

HEADLINE = ("hist_gradient_boosting",)


@pytest.mark.slow
def test_adult_protocol_trtr_matches_the_published_anchor(adult_train, adult_test):
    # Synthetic rows identical to the training split: TSTR equals TRTR, 0.927 on Adult.
    report = synthkit.evaluate(
        adult_train,
        adult_train.sample(frac=1.0, random_state=0),
        holdout=adult_test,
        target="income",
        metrics=[
            METRICS.get("tstr_auc")(models=HEADLINE),
            METRICS.get("trtr_auc")(models=HEADLINE),
        ],
    )
    assert report["trtr_auc"] == pytest.approx(0.927, abs=0.002)
    assert report["tstr_auc"] == pytest.approx(report["trtr_auc"], abs=0.003)
    assert report.details["tstr_auc"]["positive"] == ">50K"
    assert report.details["tstr_auc"]["test_rows"] == len(adult_test)


@pytest.fixture(scope="module")
def lending(lending_club):
    frame = lending_club.drop(columns=["rownames"])
    train = frame.sample(6000, random_state=0)
    holdout = frame.drop(train.index).reset_index(drop=True)
    train = train.reset_index(drop=True)
    rng = np.random.default_rng(0)
    # A crude "synthetic" set: resampled training rows with noisy amounts and rates.
    synthetic = train.sample(6000, replace=True, random_state=1).reset_index(drop=True)
    for column in ("funded_amnt", "annual_inc", "int_rate", "revol_util"):
        synthetic[column] = synthetic[column] * rng.uniform(0.9, 1.1, len(synthetic))
    return train, synthetic, holdout


@pytest.mark.slow
def test_rare_positive_class_grid(lending):
    train, synthetic, holdout = lending
    names = [
        "tstr_auc",
        "trtr_auc",
        "tstr_pr_auc",
        "tstr_f1",
        "tstr_recall_at_precision",
        "trtr_recall_at_precision",
        "augmentation_auc",
    ]
    report = synthkit.evaluate(train, synthetic, holdout=holdout, target="Class", metrics=names)
    details = report.details["tstr_auc"]
    assert details["positive"] == "bad"
    assert set(details["grid"]) == {
        "hist_gradient_boosting",
        "logistic_regression",
        "random_forest",
    }
    for scores in details["grid"].values():
        assert 0.5 < scores["tstr"] <= 1 and 0.5 < scores["trtr"] <= 1
    # Bad loans are 5 %: precision-recall AUC sits far below ROC AUC.
    assert report["tstr_pr_auc"] < report["tstr_auc"] - 0.3
    assert 0.0 <= report["tstr_recall_at_precision"] <= 1.0
    assert report.details["tstr_recall_at_precision"]["precision"] == 0.5
    augmentation = report.details["augmentation_auc"]
    assert augmentation["class"] == "bad"
    assert augmentation["synthetic_rows_added"] == int((synthetic["Class"] == "bad").sum())
    assert augmentation["gain"] == pytest.approx(report["augmentation_auc"] - report["trtr_auc"])


@pytest.mark.slow
def test_regression_target(lending):
    train, synthetic, holdout = lending
    report = synthkit.evaluate(
        train,
        synthetic,
        holdout=holdout,
        target="int_rate",
        metrics=[
            METRICS.get(n)(models=HEADLINE)
            for n in ("tstr_r2", "trtr_r2", "tstr_rmse", "trtr_rmse")
        ],
    )
    assert report["trtr_r2"] > 0.9  # the sub-grade fixes the rate
    assert report["tstr_r2"] > 0.5
    spread = holdout["int_rate"].std()
    assert 0 < report["trtr_rmse"] < 0.5 * spread
    assert 0 < report["tstr_rmse"] < spread


def test_single_class_synthetic_data_gives_nan_with_a_reason(lending):
    train, synthetic, holdout = lending
    good_only = synthetic[synthetic["Class"] == "good"]
    result = METRICS.get("tstr_auc")(models=HEADLINE).compute(
        train, good_only, holdout=holdout, target="Class"
    )
    assert math.isnan(result.value)
    assert result.details["reason"] == "the training rows hold one class only ('good')"


@pytest.mark.slow
def test_classification_metrics_skip_regression_targets(lending):
    train, synthetic, holdout = lending
    report = synthkit.evaluate(
        train, synthetic, holdout=holdout, target="int_rate", metrics=None, max_rows=500
    )
    assert "tstr_auc" not in report
    assert report.skipped["tstr_auc"].startswith("applies to classification targets")
    assert report["tstr_r2"] > 0.5
