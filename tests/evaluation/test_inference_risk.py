"""The inference risk is calibrated: real rows the model never saw pass a 0.10 gate, copies fail.

Sizes follow a release of 1,000 training rows (or patients) and a 500-row holdout:
the 95 % upper bound of the risk must stay at most 0.10 for an independent real
sample used as the "synthetic" data, and a copy of the training data, exact or with
light noise, must fail clearly. Adult is a table; NAFLD patients with their lab
histories are sequences scored by entity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthkit
from synthkit.datasets import load_adult, load_nafld_labs
from synthkit.errors import EvaluationError
from synthkit.evaluation.attacks import InferenceRisk, _pooled_risk, residual_risk, wilson_rate
from synthkit.evaluation.data import EvaluationData
from synthkit.evaluation.sequences import SequenceEvaluationData

GATE = 0.10
NUMBERS = ["age", "fnlwgt", "capital_gain", "capital_loss", "hours_per_week"]


def with_noise(frame: pd.DataFrame, columns: list[str], seed: int) -> pd.DataFrame:
    """``frame`` with every number in ``columns`` moved by about 2 % of itself."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for column in columns:
        values = out[column].astype(float)
        out[column] = values * (1.0 + rng.normal(0.0, 0.02, len(values)))
    return out


@pytest.fixture(scope="module")
def adult() -> dict[str, pd.DataFrame]:
    """1,000 training rows, a 500-row holdout and 1,000 other real rows, all of Adult."""
    rows = pd.concat([load_adult("train"), load_adult("test")], ignore_index=True)
    rows = rows.sample(2500, random_state=11).reset_index(drop=True)
    train = rows.iloc[:1000].reset_index(drop=True)
    noisy = with_noise(train, NUMBERS, seed=1).round({c: 0 for c in NUMBERS})
    return {
        "train": train,
        "holdout": rows.iloc[1000:1500].reset_index(drop=True),
        "fresh": rows.iloc[1500:].reset_index(drop=True),
        "copy": train.sample(frac=1.0, random_state=2).reset_index(drop=True),
        "noisy": noisy,
    }


def adult_risk(adult: dict[str, pd.DataFrame], synthetic: str, **params: object):
    data = EvaluationData(adult["train"], adult[synthetic], holdout=adult["holdout"])
    return InferenceRisk(**params).score(data)


@pytest.fixture(scope="module")
def nafld() -> dict[str, SequenceEvaluationData]:
    """The bundled 1,500 NAFLD patients split 800 / 350 / 350, scored by entity."""
    labs, patients = load_nafld_labs()
    patients = patients.drop(columns=["case.id"])
    ids = np.random.default_rng(0).permutation(patients["id"].to_numpy())
    parts = {"train": ids[:800], "holdout": ids[800:1150], "fresh": ids[1150:]}
    events = {k: labs[labs["id"].isin(v)].reset_index(drop=True) for k, v in parts.items()}
    context = {k: patients[patients["id"].isin(v)].reset_index(drop=True) for k, v in parts.items()}
    # Copies get new keys, as synthetic patients would.
    events["copy"] = events["train"].assign(id=events["train"]["id"] + 10**6)
    context["copy"] = context["train"].assign(id=context["train"]["id"] + 10**6)
    rng = np.random.default_rng(3)
    noisy = with_noise(events["copy"], ["value"], seed=4)
    noisy["days"] = noisy["days"] + rng.integers(-3, 4, len(noisy))
    events["noisy"] = noisy.sort_values(["id", "days"], kind="stable").reset_index(drop=True)
    context["noisy"] = with_noise(context["copy"], ["age", "weight", "height", "bmi"], seed=5)

    def scored(synthetic: str) -> SequenceEvaluationData:
        return SequenceEvaluationData(
            *(synthkit.SequenceDataset(events[k], "id", "days") for k in ("train", synthetic)),
            holdout=synthkit.SequenceDataset(events["holdout"], "id", "days"),
            context={
                "real": context["train"],
                "synthetic": context[synthetic],
                "holdout": context["holdout"],
            },
        )

    return {name: scored(name) for name in ("fresh", "copy", "noisy")}


def test_real_rows_the_model_never_saw_pass_the_gate(adult, nafld) -> None:
    for result in (adult_risk(adult, "fresh"), InferenceRisk().score(nafld["fresh"].entities)):
        low, high = result.interval
        assert low == 0.0
        assert high <= GATE
        # Every holdout row is a control target; training targets are not cut to match.
        assert result.details["training_targets"] > result.details["control_targets"]


def test_copies_of_the_training_data_fail_clearly(adult, nafld) -> None:
    for synthetic in ("copy", "noisy"):
        for result in (
            adult_risk(adult, synthetic),
            InferenceRisk().score(nafld[synthetic].entities),
        ):
            assert result.value > 0.9, synthetic
            assert result.interval[0] > 0.5, synthetic


def test_a_duplicated_column_is_one_attribute(adult) -> None:
    plain = adult_risk(adult, "fresh")
    # Another copy of a column changes nothing: not the guesses, not the weights.
    doubled = {k: v.assign(age_again=v["age"]) for k, v in adult.items()}
    again = adult_risk(doubled, "fresh")
    assert again.value == pytest.approx(plain.value, abs=1e-12)
    assert again.interval == pytest.approx(plain.interval, abs=1e-12)
    assert again.details["merged"]["age"] == ["age_again"]
    # Adult's education_num is a relabelling of education: one attribute, scored once.
    assert plain.details["merged"] == {"education": ["education_num"]}
    assert "education_num" not in plain.details["secrets"]
    # Hidden with its copy, education is not given away (control rate well below 1).
    assert plain.details["columns"]["education"]["control_rate"] < 0.6


def test_a_secret_the_other_attributes_give_away_is_left_out(adult) -> None:
    plain = adult_risk(adult, "fresh")
    rng = np.random.default_rng(7)
    # A flag set on 0.5 % of people: guessed right for nearly everyone without the data.
    flagged = {
        k: v.assign(flag=np.where(rng.random(len(v)) < 0.005, "yes", "no"))
        for k, v in adult.items()
    }
    result = adult_risk(flagged, "fresh")
    assert result.interval[1] <= GATE
    width = plain.interval[1] - plain.interval[0]
    assert result.interval[1] - result.interval[0] == pytest.approx(width, abs=0.01)
    assert "flag" not in result.details["secrets"]
    reason = result.details["left_out"]["flag"]
    assert "of control targets from the other attributes alone" in reason
    # Named alone, it leaves nothing to measure.
    alone = adult_risk(flagged, "fresh", secrets=["flag"])
    assert np.isnan(alone.value) and "no room" in alone.details["reason"]


def test_too_few_targets_are_refused_with_the_reason(adult) -> None:
    train, holdout = adult["train"], adult["holdout"].iloc[:150]
    with pytest.raises(EvaluationError, match=r"min_targets=200.*150 holdout"):
        InferenceRisk().compute(train, adult["fresh"], holdout=holdout)
    # A default evaluation skips it with that reason, which a release gate then prints.
    data = EvaluationData(train, adult["fresh"], holdout=holdout)
    assert "Pass a larger holdout" in InferenceRisk().not_applicable(data)
    fewer = InferenceRisk(min_targets=100).compute(train, adult["fresh"], holdout=holdout)
    assert fewer.details["control_targets"] == 150


def test_the_interval_treats_targets_not_guesses_as_independent() -> None:
    rng = np.random.default_rng(0)
    # Each target has its own chance of being guessed right, shared by its 12 secrets.
    attack = rng.random((800, 12)) < rng.uniform(0.15, 0.95, size=(800, 1))
    control = rng.random((350, 12)) < rng.uniform(0.05, 0.85, size=(350, 1))
    pooled = _pooled_risk(attack, control)
    a, c = attack.mean(), control.mean()
    assert pooled.value == pytest.approx((a - c) / (1 - c))
    half = (pooled.interval[1] - pooled.interval[0]) / 2
    boots = []
    for _ in range(2000):
        a_star = attack[rng.integers(0, 800, 800)].mean()
        c_star = control[rng.integers(0, 350, 350)].mean()
        boots.append((a_star - c_star) / (1 - c_star))
    low, high = np.quantile(boots, [0.025, 0.975])
    assert half == pytest.approx((high - low) / 2, rel=0.1)
    # Counting each guess as an independent trial would claim a far narrower interval.
    naive = residual_risk(
        wilson_rate(int(attack.sum()), attack.size), wilson_rate(int(control.sum()), control.size)
    )[1]
    assert (naive[1] - naive[0]) / 2 < 0.6 * half
