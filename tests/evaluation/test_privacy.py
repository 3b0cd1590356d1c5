"""Privacy metrics on Adult: copies of training rows are flagged, fresh real rows are not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

import synthkit
from synthkit.evaluation.attacks import Rate, residual_risk, wilson_rate


@pytest.fixture(scope="module")
def copied_report(small_split, privacy_and_fidelity):
    train = small_split["train"]
    copies = train.sample(frac=1.0, random_state=5).reset_index(drop=True)
    return synthkit.evaluate(
        train, copies, holdout=small_split["holdout"], metrics=privacy_and_fidelity, max_rows=2000
    )


@pytest.fixture(scope="module")
def fresh_report(small_split, privacy_and_fidelity):
    return synthkit.evaluate(
        small_split["train"],
        small_split["fresh"],
        holdout=small_split["holdout"],
        metrics=privacy_and_fidelity,
        max_rows=2000,
    )


@pytest.mark.slow
def test_copies_of_training_rows_are_flagged(copied_report):
    scores = copied_report.to_dict()
    assert scores["exact_match_rate"] == 1.0
    assert scores["exact_match_rate_holdout"] < 0.01
    assert scores["dcr_share"] > 0.95
    assert scores["mia_auc"] > 0.9
    assert scores["mia_tpr_at_10_fpr"] > 0.8
    assert copied_report.details["mia_auc"]["strongest_attack"] == "distance"
    assert scores["authenticity"] < 0.05
    assert scores["nndr"] < 0.05
    assert scores["singling_out_risk"] > 0.2
    assert scores["linkability_risk"] > 0.1
    assert scores["inference_risk"] > 0.3
    low, _ = copied_report.intervals["inference_risk"]
    assert low > 0.1


@pytest.mark.slow
def test_fresh_real_rows_are_not_flagged(fresh_report):
    scores = fresh_report.to_dict()
    assert scores["exact_match_rate"] < 0.01
    assert 0.45 < scores["dcr_share"] < 0.55
    assert 0.45 < scores["mia_auc"] < 0.56
    assert scores["mia_tpr_at_10_fpr"] < 0.17
    assert scores["authenticity"] > 0.4
    nndr = fresh_report.details["nndr"]
    assert scores["nndr"] == pytest.approx(nndr["holdout_nndr"], abs=0.05)
    for name in ("singling_out_risk", "linkability_risk", "inference_risk"):
        low, high = fresh_report.intervals[name]
        assert low < 0.05, name
        assert scores[name] <= high
    assert scores["column_shapes"] > 0.97


def test_rows_drawn_from_the_holdout_are_not_flagged_as_training_leaks(small_split):
    holdout = small_split["holdout"]
    report = synthkit.evaluate(
        small_split["train"],
        holdout.sample(2000, random_state=3),
        holdout=holdout,
        metrics=["exact_match_rate", "dcr_share", "mia_auc"],
        max_rows=2000,
    )
    assert report["exact_match_rate"] < 0.01
    assert report["dcr_share"] < 0.1  # nearer the holdout rows, which they are
    assert report["mia_auc"] < 0.56


def test_dcr_share_subsamples_the_larger_side_and_says_so(small_split):
    report = synthkit.evaluate(
        small_split["train"],
        small_split["fresh"],
        holdout=small_split["holdout"].iloc[:1000],
        metrics=["dcr_share"],
        max_rows=500,
    )
    assert report.details["dcr_share"]["reference_rows_each"] == 1000
    assert report.meta["sampling"]["dcr training rows (equal to holdout)"] == "1,000 of 4,000 rows"
    assert report.meta["sampling"]["dcr synthetic queries"] == "500 of 3,000 rows"


@pytest.mark.parametrize(("successes", "total"), [(0, 50), (7, 200), (150, 300), (499, 500)])
def test_wilson_rate_matches_scipy_wilson_interval(successes, total):
    rate = wilson_rate(successes, total)
    interval = binomtest(successes, total).proportion_ci(0.95, method="wilson")
    assert rate.value - rate.error == pytest.approx(interval.low, abs=1e-9)
    assert rate.value + rate.error == pytest.approx(interval.high, abs=1e-9)


def test_residual_risk_follows_giomi_et_al():
    attack, control = Rate(0.30, 0.02), Rate(0.10, 0.015)
    risk, (low, high) = residual_risk(attack, control)
    assert risk == pytest.approx((0.30 - 0.10) / 0.90)
    error = np.hypot(0.02 / 0.9, 0.015 * 0.7 / 0.81)
    assert (low, high) == pytest.approx((risk - error, risk + error))
    assert residual_risk(Rate(0.1, 0.01), Rate(0.3, 0.01))[0] == 0.0


@pytest.mark.parametrize("mode", ["univariate", "multivariate"])
def test_singling_out_modes_separate_copies_from_fresh_rows(small_split, mode):
    from synthkit.evaluation import METRICS

    train, holdout = small_split["train"], small_split["holdout"]
    metric = METRICS.get("singling_out_risk")(mode=mode, n_attacks=300)
    copied = metric.compute(train, train.sample(frac=1.0, random_state=4), holdout=holdout)
    fresh = metric.compute(train, small_split["fresh"], holdout=holdout)
    assert copied.details["mode"] == mode
    assert copied.details["attempts"] > 50
    assert copied.value > 0.2
    assert copied.details["attack_rate"] > copied.details["baseline_rate"]
    assert fresh.interval[0] < 0.05
