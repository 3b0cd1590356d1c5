"""Fidelity metrics on real data: agreement with sdmetrics and known cases."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import synthkit
from synthkit import Metadata
from synthkit.evaluation.fidelity import ks_complement, tv_complement


def _perturbed(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Adult with noisy numbers, some values blanked and a category value never seen in real."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    out["age"] = out["age"] + rng.integers(-3, 4, len(out))
    out["hours_per_week"] = out["hours_per_week"] * rng.uniform(0.8, 1.2, len(out))
    out.loc[rng.random(len(out)) < 0.05, "workclass"] = None
    out.loc[rng.random(len(out)) < 0.01, "education"] = "Unheard-of"
    out.loc[rng.random(len(out)) < 0.03, "capital_gain"] = np.nan
    return out


def _sdmetrics_quality(real: pd.DataFrame, synthetic: pd.DataFrame):
    from sdmetrics.reports.single_table import QualityReport
    from sdv.metadata import Metadata as SDVMetadata

    sdv = SDVMetadata.detect_from_dataframes({"table": real}).to_dict()["tables"]["table"]
    report = QualityReport()
    report.real_correlation_threshold = 0
    report.real_association_threshold = 0
    report.num_rows_subsample = None
    report.generate(real, synthetic, sdv, verbose=False)
    return report


@pytest.fixture(scope="module")
def perturbed_pair(adult_train, adult_test):
    return adult_train, _perturbed(adult_test)


def test_column_shapes_equal_sdmetrics_per_column(perturbed_pair):
    from sdmetrics.single_column import KSComplement, TVComplement

    real, synthetic = perturbed_pair
    metadata = Metadata.detect(real)
    report = synthkit.evaluate(real, synthetic, metadata=metadata, metrics=["column_shapes"])
    columns = report.details["column_shapes"]["columns"]
    for name in real.columns:
        sdm = KSComplement if metadata.kind(name) == "numerical" else TVComplement
        expected = sdm.compute(real[name], synthetic[name])
        assert columns[name]["score"] == pytest.approx(expected, abs=1e-9), name
    assert report["column_shapes"] < 1.0


def test_quality_report_agreement_shapes_and_pair_trends(perturbed_pair):
    real, synthetic = perturbed_pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quality = _sdmetrics_quality(real, synthetic)
    ours = synthkit.evaluate(real, synthetic, metrics=["column_shapes", "column_pair_trends"])
    properties = quality.get_properties().set_index("Property")["Score"]
    assert ours["column_shapes"] == pytest.approx(properties["Column Shapes"], abs=1e-9)
    assert ours["column_pair_trends"] == pytest.approx(properties["Column Pair Trends"], abs=1e-9)
    theirs = quality.get_details("Column Pair Trends")
    mine = pd.DataFrame(ours.details["column_pair_trends"]["pairs"])
    merged = theirs.merge(mine, left_on=["Column 1", "Column 2"], right_on=["column_1", "column_2"])
    assert len(merged) == len(theirs) == 105
    assert (merged["Metric"] == merged["metric"]).all()
    assert np.allclose(merged["Score"], merged["score"], atol=1e-9, equal_nan=True)


def test_datetime_columns_use_ks_on_nanoseconds():
    from sdmetrics.single_column import KSComplement

    rng = np.random.default_rng(3)
    start = pd.Timestamp("2020-01-01")
    real = pd.Series(start + pd.to_timedelta(rng.integers(0, 365, 500), unit="D"))
    synthetic = pd.Series(start + pd.to_timedelta(rng.integers(30, 400, 400), unit="D"))
    assert ks_complement(real, synthetic) == pytest.approx(KSComplement.compute(real, synthetic))
    frame = pd.DataFrame({"when": real.dt.strftime("%Y-%m-%d"), "n": rng.normal(size=500)})
    metadata = Metadata({"when": {"kind": "datetime"}, "n": {"kind": "numerical"}})
    other = frame.sample(frac=1.0, random_state=0)
    report = synthkit.evaluate(frame, other, metadata=metadata, metrics=["column_shapes"])
    assert report.details["column_shapes"]["columns"]["when"]["metric"] == "KSComplement"
    assert report["column_shapes"] == 1.0


def test_tv_complement_counts_unseen_categories_like_sdmetrics():
    from sdmetrics.single_column import TVComplement

    real = pd.Series(["a"] * 5 + ["b"] * 3 + [None])
    synthetic = pd.Series(["a", "c", "c", "b", None])
    assert tv_complement(real, synthetic) == pytest.approx(TVComplement.compute(real, synthetic))


def test_identical_data_gives_perfect_fidelity(small_split):
    real = small_split["train"]
    report = synthkit.evaluate(
        real,
        real.copy(),
        metrics=["column_shapes", "column_pair_trends", "alpha_precision", "beta_recall"],
    )
    assert report.to_dict() == {
        "column_shapes": 1.0,
        "column_pair_trends": 1.0,
        "alpha_precision": 1.0,
        "beta_recall": 1.0,
    }


def test_shuffled_columns_lower_pair_trends_but_not_shapes(small_split):
    real = small_split["train"]
    rng = np.random.default_rng(0)
    shuffled = real.apply(lambda column: column.to_numpy()[rng.permutation(len(column))])
    report = synthkit.evaluate(
        real, shuffled, metrics=["column_shapes", "column_pair_trends", "detection_auc"]
    )
    assert report["column_shapes"] == 1.0
    # A fresh real sample scores about 0.98 on this pair; independence costs far more.
    assert report["column_pair_trends"] < 0.95
    assert report["detection_auc"] > 0.8
    worst = min(report.details["column_pair_trends"]["pairs"], key=lambda p: p["score"])
    assert {worst["column_1"], worst["column_2"]} == {"education", "education_num"}


def test_fresh_real_sample_is_near_the_floor(small_split):
    report = synthkit.evaluate(
        small_split["train"],
        small_split["fresh"],
        metrics=["column_shapes", "column_pair_trends", "detection_auc", "beta_recall"],
    )
    assert report["column_shapes"] > 0.97
    assert report["column_pair_trends"] > 0.93
    assert 0.4 < report["detection_auc"] < 0.6
    assert report["beta_recall"] > 0.8


def test_pair_trend_thresholds_leave_weak_pairs_out(small_split):
    from synthkit.evaluation import METRICS

    metric = METRICS.get("column_pair_trends")(
        real_correlation_threshold=0.3, real_association_threshold=0.3, coefficient="Spearman"
    )
    result = metric.compute(small_split["train"], small_split["fresh"])
    counted = [p for p in result.details["pairs"] if p["counted"]]
    assert 0 < len(counted) < len(result.details["pairs"])
    assert result.value == pytest.approx(np.mean([p["score"] for p in counted]))


def test_quality_report_agreement_with_datetimes_booleans_and_missing_values():
    rng = np.random.default_rng(0)
    n = 2000
    real = pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "channel": rng.choice(["web", "shop", None], n),
            "flag": rng.random(n) > 0.5,
            "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 100, n), unit="D"),
        }
    )
    real.loc[::7, "amount"] = np.nan
    synthetic = real.copy()
    synthetic["amount"] = synthetic["amount"] * 1.3 + 0.2
    synthetic["when"] = synthetic["when"].sample(frac=1.0, random_state=1).to_numpy()
    synthetic.loc[::5, "when"] = pd.NaT
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quality = _sdmetrics_quality(real, synthetic)
    metadata = Metadata(
        {
            "amount": {"kind": "numerical"},
            "channel": {"kind": "categorical"},
            "flag": {"kind": "boolean"},
            "when": {"kind": "datetime"},
        }
    )
    ours = synthkit.evaluate(
        real, synthetic, metadata=metadata, metrics=["column_shapes", "column_pair_trends"]
    )
    properties = quality.get_properties().set_index("Property")["Score"]
    assert ours["column_shapes"] == pytest.approx(properties["Column Shapes"], abs=1e-9)
    assert ours["column_pair_trends"] == pytest.approx(properties["Column Pair Trends"], abs=1e-9)


def test_spearman_option_matches_sdmetrics(small_split):
    from sdmetrics.column_pairs import CorrelationSimilarity

    from synthkit.evaluation.fidelity import correlation_similarity

    real = small_split["train"][["age", "hours_per_week"]]
    synthetic = small_split["fresh"][["age", "hours_per_week"]]
    expected = CorrelationSimilarity.compute(real, synthetic, coefficient="Spearman")
    assert correlation_similarity(real, synthetic, "Spearman")[0] == pytest.approx(expected)
