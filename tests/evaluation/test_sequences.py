"""Evaluation of sequences: entity-level fidelity and privacy on NAFLD patients and lab tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthkit
from synthkit.errors import EvaluationError
from synthkit.evaluation.sequences import entity_features
from synthkit.generators.sequential.base import SyntheticSequences

from .conftest import DATA

KEY, INDEX = "id", "days"


@pytest.fixture(scope="module")
def nafld() -> dict[str, dict[str, pd.DataFrame]]:
    """Patients split in three by patient: training, holdout and fresh (a stand-in model)."""
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz")
    labs = pd.read_csv(DATA / "nafld2_sample.csv.gz")
    order = np.random.default_rng(0).permutation(patients[KEY].to_numpy())
    parts = {}
    for name, ids in zip(("train", "holdout", "fresh"), np.array_split(order, 3), strict=True):
        parts[name] = {
            "events": labs[labs[KEY].isin(ids)].reset_index(drop=True),
            "context": patients[patients[KEY].isin(ids)].reset_index(drop=True),
        }
    return parts


def sequences(events: pd.DataFrame) -> synthkit.SequenceDataset:
    return synthkit.SequenceDataset(events, KEY, INDEX)


def score(nafld, synthetic_events, synthetic_context, **kwargs) -> synthkit.evaluation.Report:
    return synthkit.evaluate(
        sequences(nafld["train"]["events"]),
        sequences(synthetic_events),
        holdout=sequences(nafld["holdout"]["events"]),
        context={
            "real": nafld["train"]["context"],
            "synthetic": synthetic_context,
            "holdout": nafld["holdout"]["context"],
        },
        **kwargs,
    )


@pytest.fixture(scope="module")
def fresh_report(nafld):
    """Unseen real patients scored as if synthetic: what a perfect model reaches."""
    return score(nafld, nafld["fresh"]["events"], nafld["fresh"]["context"])


@pytest.fixture(scope="module")
def shuffled_events(nafld) -> pd.DataFrame:
    """The training lab tests dealt to random training patients: histories broken."""
    events = nafld["train"]["events"].copy()
    events[KEY] = np.random.default_rng(1).permutation(events[KEY].to_numpy())
    return events.sort_values([KEY, INDEX], kind="stable", ignore_index=True)


def test_unseen_patients_score_like_real_data(fresh_report):
    scores = fresh_report.to_dict()
    for name in ("length_similarity", "gap_similarity", "coherence", "column_shapes"):
        assert scores[name] > 0.8, name
    assert 0.35 <= scores["dcr_share"] <= 0.65
    assert scores["exact_match_rate"] < 0.05
    assert scores["detection_auc"] < 0.7
    assert 0.3 <= scores["mia_auc"] <= 0.7


def test_privacy_figures_state_the_entity_unit(fresh_report):
    assert fresh_report.meta["unit"] == "entity"
    for name in ("dcr_share", "exact_match_rate", "mia_auc", "detection_auc"):
        assert fresh_report.info[name]["unit"] == "entity"
        assert fresh_report.details[name]["unit"] == "entity"
        assert "entit" in fresh_report.info[name]["explanation"]
    # 100 patients a side, context rows without lab tests included.
    assert fresh_report.meta["entities"] == {"real": 100, "synthetic": 100, "holdout": 100}
    page = fresh_report.to_html()
    assert "privacy unit: entity" in page
    assert "Histories: real against synthetic entities" in page
    assert page.count('class="plot"') >= 2 + len(fresh_report.details["column_shapes"]["columns"])


def test_context_columns_join_the_column_shapes(fresh_report):
    columns = fresh_report.details["column_shapes"]["columns"]
    assert {"test", "value", "context.age", "context.bmi"} <= set(columns)
    assert set(fresh_report.details["column_shapes"]["values"]) == {"events", "context"}


def test_table_only_metrics_are_skipped_with_the_reason(fresh_report):
    assert "tstr_auc" not in fresh_report
    assert fresh_report.skipped["alpha_precision"] == "scores table data only, not sequences"


def test_a_copy_of_the_training_histories_is_caught_per_entity(nafld):
    report = score(
        nafld,
        nafld["train"]["events"].copy(),
        nafld["train"]["context"].copy(),
        metrics=["exact_match_rate", "dcr_share", "mia_auc", "coherence", "length_similarity"],
    )
    assert report["dcr_share"] > 0.95
    assert report["exact_match_rate"] > 0.95
    assert report["mia_auc"] > 0.9
    assert report["coherence"] == report["length_similarity"] == 1.0


def test_shuffling_events_across_entities_breaks_coherence(nafld, fresh_report, shuffled_events):
    report = score(
        nafld,
        shuffled_events,
        nafld["train"]["context"],
        metrics=["column_shapes", "coherence", "detection_auc"],
    )
    # Every event is still a real one: only the histories are broken.
    assert report["column_shapes"] == pytest.approx(1.0)
    assert report["coherence"] < fresh_report["coherence"] - 0.2
    assert report["detection_auc"] > fresh_report["detection_auc"] + 0.2


def test_a_holdout_split_by_row_is_refused(nafld):
    events = nafld["train"]["events"]
    in_holdout = np.random.default_rng(0).random(len(events)) < 0.3
    with pytest.raises(EvaluationError, match="split by row, not by entity"):
        synthkit.evaluate(
            sequences(events[~in_holdout]),
            sequences(nafld["fresh"]["events"]),
            holdout=sequences(events[in_holdout]),
        )


def test_sequence_metrics_need_sequences_and_table_metrics_are_unchanged():
    table = pd.DataFrame({"x": np.arange(40.0), "c": list("ab") * 20})
    report = synthkit.evaluate(table, table, metrics=["column_shapes", "exact_match_rate"])
    assert report.to_dict() == {"column_shapes": 1.0, "exact_match_rate": 1.0}
    assert report.info["exact_match_rate"]["unit"] == "row"
    assert "entities" not in report.meta
    report = synthkit.evaluate(table, table)
    assert report.skipped["coherence"] == "scores sequences only: pass SequenceDatasets"
    with pytest.raises(EvaluationError, match="'length_similarity' scores sequences only"):
        synthkit.evaluate(table, table, metrics=["length_similarity"])


def test_a_table_only_metric_named_for_sequences_is_refused(nafld):
    train = sequences(nafld["train"]["events"])
    with pytest.raises(EvaluationError, match="'alpha_precision' scores table data only"):
        synthkit.evaluate(train, train, metrics=["alpha_precision"])


def test_mixed_and_malformed_inputs_are_refused(nafld):
    train = sequences(nafld["train"]["events"])
    events, context = nafld["train"]["events"], nafld["train"]["context"]
    with pytest.raises(EvaluationError, match="synthetic must be one too"):
        synthkit.evaluate(train, events)
    with pytest.raises(EvaluationError, match="real is not"):
        synthkit.evaluate(events, train)
    with pytest.raises(EvaluationError, match="duplicated 'id'"):
        doubled = pd.concat([context, context.head(1)])
        synthkit.evaluate(train, train, context={"real": doubled, "synthetic": context})
    with pytest.raises(EvaluationError, match="no row in the synthetic context"):
        synthkit.evaluate(train, train, context={"real": context, "synthetic": context.iloc[5:]})
    with pytest.raises(EvaluationError, match="not for \\['synthetic'\\]"):
        synthkit.evaluate(train, sequences(events), context={"real": context})
    with pytest.raises(EvaluationError, match="sequence target must be a context column"):
        synthkit.evaluate(train, train, target="value")


def test_one_context_table_is_split_by_the_holdout_and_samples_carry_theirs(nafld):
    everyone = pd.concat([nafld["train"]["context"], nafld["holdout"]["context"]])
    # What SequenceSynthesizer.sample returns: the events with their context.
    synthetic = SyntheticSequences(
        nafld["fresh"]["events"], KEY, INDEX, context=nafld["fresh"]["context"]
    )
    report = synthkit.evaluate(
        sequences(nafld["train"]["events"]),
        synthetic,
        holdout=sequences(nafld["holdout"]["events"]),
        context=everyone,
        metrics=["length_similarity", "dcr_share"],
    )
    entities = report.meta["entities"]
    # Holdout patients without lab tests cannot be told apart, so they count as training ones.
    assert entities["holdout"] == nafld["holdout"]["events"][KEY].nunique()
    assert entities["real"] + entities["holdout"] == len(everyone)
    assert entities["synthetic"] == len(nafld["fresh"]["context"])
    assert 0.3 <= report["dcr_share"] <= 0.7


def test_entity_features_summarise_each_history():
    events = pd.DataFrame(
        {
            "amount": [5.0, 7.0, 9.0, 1.0],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-01"]),
            "shop": ["a", "b", "a", "c"],
        }
    )
    features = entity_features(
        events,
        np.array(["u", "u", "u", "v"]),
        pd.Index(["v", "u", "w"]),
        ["amount", "when"],
        {"shop": ["a", "b"]},
        index=np.array([0.0, 1.0, 3.0, 2.0]),
        context=pd.DataFrame({"age": [30, 40, 50]}, index=["u", "v", "w"]),
    )
    u = features.iloc[1]
    assert u["events:count"] == 3 and u["index:span"] == 3.0
    assert u["amount:mean"] == 7.0 and u["amount:first"] == 5.0 and u["amount:last"] == 9.0
    assert u["amount:std"] == pytest.approx(np.std([5.0, 7.0, 9.0]))
    assert u["when:last"] - u["when:first"] == 3 * 86_400
    assert u["shop:share=a"] == pytest.approx(2 / 3) and u["age"] == 30
    v = features.iloc[0]
    assert v["amount:std"] == 0.0 and v["shop:share=a"] == 0.0 and v["age"] == 40
    w = features.iloc[2]
    assert w["events:count"] == 0 and np.isnan(w["amount:mean"]) and w["age"] == 50


def test_real_entities_that_happen_to_look_alike_are_not_taken_for_a_copy():
    # Single purchases on the same day for the same amount: common in transaction data.
    def entities(first_key: int) -> synthkit.SequenceDataset:
        amounts = [5.0] * 6 + list(np.arange(14.0) + first_key)
        keys = np.arange(first_key, first_key + 20)
        return sequences(pd.DataFrame({KEY: keys, INDEX: 1, "amount": amounts}))

    report = synthkit.evaluate(
        entities(0), entities(100), holdout=entities(200), metrics=["exact_match_rate_holdout"]
    )
    assert report["exact_match_rate_holdout"] == pytest.approx(0.3)
