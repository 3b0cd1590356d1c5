"""Bad input gets a clear EvaluationError naming what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthkit
from synthkit import Metadata
from synthkit.errors import EvaluationError, UnknownNameError


@pytest.fixture(scope="module")
def train(small_split):
    return small_split["train"].iloc[:500]


def test_real_and_synthetic_columns_must_match(train):
    with pytest.raises(EvaluationError, match=r"missing \['income'\], unexpected \['label'\]"):
        synthkit.evaluate(train, train.rename(columns={"income": "label"}))


def test_dtypes_must_match_and_the_column_is_named(train):
    synthetic = train.copy()
    synthetic["age"] = synthetic["age"].astype(str)
    with pytest.raises(EvaluationError, match=r"Column 'age' holds number values .* text values"):
        synthkit.evaluate(train, synthetic, metrics=["column_shapes"])


@pytest.mark.parametrize("which", ["real", "synthetic", "holdout"])
def test_empty_frames_are_refused(train, which):
    frames = {"real": train, "synthetic": train, "holdout": train.iloc[:0]}
    frames = {k: (train.iloc[:0] if k == which else train.iloc[250:]) for k in frames}
    with pytest.raises(EvaluationError, match=rf"{which} is empty \(0 rows"):
        synthkit.evaluate(frames["real"], frames["synthetic"], holdout=frames["holdout"])


def test_not_a_dataframe(train):
    with pytest.raises(EvaluationError, match="synthetic must be a pandas DataFrame, got ndarray"):
        synthkit.evaluate(train, train.to_numpy())


def test_missing_target(train, small_split):
    with pytest.raises(EvaluationError, match=r"target='salary' is not a column"):
        synthkit.evaluate(train, train, holdout=small_split["holdout"], target="salary")


def test_holdout_that_is_the_training_data(train):
    with pytest.raises(EvaluationError, match="The holdout overlaps the training rows: 100%"):
        synthkit.evaluate(
            train,
            train,
            holdout=train.reset_index(drop=True).iloc[::-1].copy().set_index(np.arange(1000, 1500)),
        )


def test_holdout_rows_taken_from_the_training_frame(small_split):
    train = small_split["train"]
    holdout = pd.concat(
        [small_split["holdout"].iloc[:900].set_index(np.arange(9000, 9900)), train.iloc[:10]]
    )
    with pytest.raises(EvaluationError, match=r"10 holdout row\(s\) \(for example index 0\)"):
        synthkit.evaluate(train, train, holdout=holdout, metrics=["dcr_share"])


def test_a_fresh_holdout_with_natural_duplicates_is_accepted(adult_train, adult_test):
    # Adult's test split shares 0.14 % of its rows with the train split by chance.
    report = synthkit.evaluate(
        adult_train, adult_test, holdout=adult_test, metrics=["exact_match_rate_holdout"]
    )
    assert 0 < report["exact_match_rate_holdout"] < 0.01


def test_named_metric_without_its_requirement(train):
    with pytest.raises(EvaluationError, match=r"'dcr_share' needs holdout: pass holdout=\.\.\."):
        synthkit.evaluate(train, train, metrics=["dcr_share"])


def test_unknown_metric_suggests_the_closest_name(train):
    with pytest.raises(UnknownNameError, match="Did you mean 'dcr_share'"):
        synthkit.evaluate(train, train, metrics=["dcr_shar"])


@pytest.mark.slow
def test_default_run_skips_what_it_cannot_compute_and_says_why(train):
    report = synthkit.evaluate(train, train, metrics=None, max_rows=500)
    assert "dcr_share" not in report
    assert report.skipped["dcr_share"] == "needs holdout: pass holdout=..."
    assert "needs holdout and target" in report.skipped["tstr_auc"]
    with pytest.raises(KeyError, match="'dcr_share' was not computed: needs holdout"):
        report["dcr_share"]


def test_id_pii_and_text_columns_are_excluded_and_reported(train):
    frame = train.assign(
        customer_id=np.arange(len(train)),
        email=[f"user{i}@example.org" for i in range(len(train))],
    )
    metadata = Metadata.detect(train)
    metadata = Metadata(
        {
            **metadata.columns,
            "customer_id": {"kind": "id"},
            "email": {"kind": "pii", "pii_type": "email"},
        }
    )
    report = synthkit.evaluate(frame, frame, metadata=metadata, metrics=["column_shapes"])
    assert report.meta["excluded_columns"] == {"customer_id": "id", "email": "pii"}
    assert report.details["column_shapes"]["excluded_columns"] == {
        "customer_id": "id",
        "email": "pii",
    }
    assert "customer_id" not in report.details["column_shapes"]["columns"]


def test_only_unscored_columns(train):
    frame = pd.DataFrame({"key": np.arange(10)})
    with pytest.raises(EvaluationError, match="No column can be scored"):
        synthkit.evaluate(frame, frame, metadata=Metadata({"key": {"kind": "id"}}))


def test_metadata_must_describe_every_column(train):
    metadata = Metadata({"age": {"kind": "numerical"}})
    with pytest.raises(EvaluationError, match=r"does not describe column\(s\) \['workclass'"):
        synthkit.evaluate(train, train, metadata=metadata)


def test_datetime_column_with_non_dates(train):
    frame = pd.DataFrame({"when": ["2020-01-01", "yesterday"], "n": [1.0, 2.0]})
    metadata = Metadata({"when": {"kind": "datetime"}, "n": {"kind": "numerical"}})
    with pytest.raises(EvaluationError, match=r"Column 'when' of the real data .* 'yesterday'"):
        synthkit.evaluate(frame, frame, metadata=metadata)


def test_bad_metric_parameter():
    from synthkit.errors import ParameterError
    from synthkit.evaluation import METRICS

    with pytest.raises(ParameterError, match=r"has no parameter\(s\) \['n_attack'\]"):
        METRICS.get("singling_out_risk")(n_attack=10)
