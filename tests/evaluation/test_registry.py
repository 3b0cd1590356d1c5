"""Every registered metric honours the contract, from the registry and from its class."""

from __future__ import annotations

import math

import pytest

from synthkit.evaluation import METRICS, Metric, MetricResult, metric_names
from synthkit.evaluation.data import EvaluationData

REQUIRED = {
    "column_shapes",
    "column_pair_trends",
    "detection_auc",
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
    "tstr_auc",
    "trtr_auc",
    "tstr_pr_auc",
    "tstr_f1",
    "tstr_recall_at_precision",
    "augmentation_auc",
    "tstr_r2",
    "tstr_rmse",
    "trtr_r2",
    "trtr_rmse",
}


def test_the_issue_names_are_registered():
    assert set(metric_names()) >= REQUIRED
    assert metric_names()[0] == "column_shapes"


@pytest.mark.parametrize("name", metric_names())
def test_metric_declares_its_contract(name):
    cls = METRICS.get(name)
    assert issubclass(cls, Metric)
    assert cls.name == name
    assert cls.category in ("fidelity", "privacy", "utility")
    assert cls.direction in ("higher", "lower", "reference") or isinstance(cls.direction, float)
    assert set(cls.requires) <= {"holdout", "target", "model"}
    assert 10 < len(cls.explanation) <= 100 and "\n" not in cls.explanation
    assert cls.shapes and set(cls.shapes) <= {"table", "sequences"}
    # A table metric that scores sequences says through which view.
    table_metric_on_sequences = set(cls.shapes) == {"table", "sequences"}
    assert (cls.sequence_view in ("entities", "tables")) == table_metric_on_sequences


@pytest.fixture(scope="module")
def tiny(lending_club):
    frame = lending_club.drop(columns=["rownames"])
    train = frame.iloc[:1500].reset_index(drop=True)
    holdout = frame.iloc[1500:2500].reset_index(drop=True)
    synthetic = frame.iloc[2500:3500].reset_index(drop=True)
    return train, synthetic, holdout


@pytest.fixture(scope="module")
def shared(tiny):
    # One EvaluationData for every metric, so shared work (the utility grid) runs once.
    train, synthetic, holdout = tiny
    return EvaluationData(train, synthetic, holdout=holdout, target="Class", max_rows=500)


# Model-based metrics have their own tests (they need a fitted model); sequence
# metrics theirs in test_sequences.py.
CLASSIFICATION = [
    n
    for n in metric_names()
    if not n.startswith(("tstr_r", "trtr_r"))
    and "model" not in METRICS.get(n).requires
    and "table" in METRICS.get(n).shapes
]


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_metric_runs_from_the_registry(shared, name):
    metric = METRICS.get(name)()
    assert metric.not_applicable(shared) is None
    result = metric.score(shared)
    assert isinstance(result, MetricResult)
    assert isinstance(result.value, float) and not math.isnan(result.value)
    assert isinstance(result.details, dict)


@pytest.mark.parametrize("name", ["column_shapes", "nndr", "linkability_risk"])
def test_metric_runs_from_its_constructor_with_compute(tiny, name):
    train, synthetic, holdout = tiny
    cls = METRICS.get(name)
    result = cls(**cls.params).compute(train, synthetic, holdout=holdout)
    assert 0.0 <= result.value <= 1.0


def test_third_party_metric_through_register():
    class RowRatio(Metric):
        name = "row_ratio"
        category = "fidelity"
        direction = 1.0
        explanation = "Synthetic rows per real row."

        def score(self, data):
            return MetricResult(len(data.synthetic) / len(data.real))

    import pandas as pd

    import synthkit

    METRICS.register("row_ratio", RowRatio, clobber=True)
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    report = synthkit.evaluate(frame, frame.iloc[:2], metrics=["row_ratio", RowRatio()][:1])
    assert report.to_dict() == {"row_ratio": 0.5}
    assert report.check({"row_ratio": 0.4}).passed  # within 0.6 of the best value, 1.0
    assert not report.check({"row_ratio": 0.6}).passed
