"""RecordSynthesizer with differential privacy: the root entity is the unit, the budget splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import synthkit
from synthkit.errors import ParameterError
from synthkit.generators.records._privacy import COUNT_SHARE

torch.set_num_threads(1)

DATA = Path(__file__).parent / "data"
SMALL = {"state_dim": 16, "hidden_dim": 16}
FAST = {"epochs": 2, "verbose": False, "sequence_params": SMALL}


def _star(n_patients: int = 60) -> synthkit.RecordDataset:
    """Patients with labs (into a public table of tests) and events: a star around patients."""
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz").head(n_patients)
    labs = pd.read_csv(DATA / "nafld2_sample.csv.gz")
    events = pd.read_csv(DATA / "nafld3_sample.csv.gz")
    labs = labs[labs["id"].isin(patients["id"])]
    tests = pd.DataFrame({"test": sorted(labs["test"].unique())})
    tests["unit"] = [f"unit {i}" for i in range(len(tests))]
    return synthkit.RecordDataset(
        {
            "patients": patients,
            "tests": tests,
            "labs": labs,
            "events": events[events["id"].isin(patients["id"])],
        },
        [
            synthkit.Relationship("patients", "labs", "id", "id"),
            synthkit.Relationship("tests", "labs", "test", "test"),
            synthkit.Relationship("patients", "events", "id", "id"),
        ],
        primary_keys={"patients": "id", "tests": "test"},
    )


@pytest.fixture(scope="module")
def private_model() -> synthkit.RecordSynthesizer:
    model = synthkit.RecordSynthesizer("ar", epsilon=2.0, delta=1e-4, random_state=0, **FAST)
    return model.fit(_star(), keep=["tests"])


def test_epsilon_spent_stays_within_the_target_and_the_split_adds_up(private_model):
    budget = private_model.privacy_budget_
    assert private_model.epsilon_spent_ <= 2.0
    assert private_model.delta_ == budget["delta"] == 1e-4
    assert budget["unit"].startswith("root entity: one 'patients' row")
    split = budget["split"]
    assert list(split) == ["patients row count", "patients", "labs", "events"]
    assert split["patients row count"]["epsilon"] == pytest.approx(COUNT_SHARE * 2.0)
    shares = [split[t]["epsilon"] for t in ("patients", "labs", "events")]
    assert shares == pytest.approx([(1 - COUNT_SHARE) * 2.0 / 3] * 3)
    assert sum(split[t]["delta"] for t in split) == pytest.approx(1e-4)
    for table in ("patients", "labs", "events"):
        model = private_model.models_[table]
        # Each model trained privately, within its own share, with the root entity as one unit.
        assert 0 < model.epsilon_spent_ <= split[table]["epsilon"]
        assert model.delta_ == pytest.approx(split[table]["delta"])
        assert split[table]["epsilon_spent"] == model.epsilon_spent_
    assert budget["epsilon_spent"] == pytest.approx(sum(p["epsilon_spent"] for p in split.values()))
    assert "tests" in budget["public_tables"] and "tests" not in split


def test_private_sample_is_valid_with_keys_numbered_without_the_real_ones(private_model):
    synthetic = private_model.sample(random_state=1)
    patients = synthetic.tables["patients"]
    # Numbered up from a public offset, so no synthetic key equals a real one by chance.
    assert patients["id"].tolist() == list(range(10**15, 10**15 + len(patients)))
    assert not patients["id"].isin(_star().tables["patients"]["id"]).any()
    assert synthetic.tables["labs"]["id"].isin(patients["id"]).all()
    assert synthetic.tables["events"]["id"].isin(patients["id"]).all()
    assert synthetic.tables["labs"]["test"].isin(synthetic.tables["tests"]["test"]).all()
    # The root's size is a noisy count, not the real one stored.
    assert private_model.layout_["tables"]["patients"]["n_rows"] == len(patients)


def test_save_and_load_keep_the_budget(private_model, tmp_path):
    loaded = synthkit.load_model(private_model.save(tmp_path / "private.synthkit"))
    assert loaded.privacy_budget_ == private_model.privacy_budget_
    assert loaded.epsilon_spent_ == private_model.epsilon_spent_
    assert loaded.delta_ == private_model.delta_
    assert loaded.models_["labs"].epsilon_spent_ == private_model.models_["labs"].epsilon_spent_
    pd.testing.assert_frame_equal(
        loaded.sample(random_state=3).tables["labs"],
        private_model.sample(random_state=3).tables["labs"],
    )


def test_a_model_without_epsilon_reports_no_budget():
    model = synthkit.RecordSynthesizer("ar", random_state=0, **FAST).fit(_star(20), keep=["tests"])
    assert model.privacy_budget_ is None and model.epsilon_spent_ is None


def _deep() -> synthkit.RecordDataset:
    rng = np.random.default_rng(0)
    patients = pd.DataFrame({"pid": np.arange(30), "age": rng.integers(20, 80, 30)})
    visits = pd.DataFrame({"vid": np.arange(60), "pid": np.repeat(np.arange(30), 2)})
    visits["ward"] = rng.choice(["a", "b"], 60)
    labs = pd.DataFrame({"vid": np.repeat(np.arange(60), 2), "value": rng.normal(0, 1, 120)})
    return synthkit.RecordDataset(
        {"patients": patients, "visits": visits, "labs": labs},
        [
            synthkit.Relationship("patients", "visits", "pid", "pid"),
            synthkit.Relationship("visits", "labs", "vid", "vid"),
        ],
        primary_keys={"patients": "pid", "visits": "vid"},
    )


def test_a_grandchild_table_is_refused_naming_it_and_why():
    model = synthkit.RecordSynthesizer("ar", epsilon=1.0, random_state=0, **FAST)
    with pytest.raises(ParameterError, match=r"Table 'labs' is owned by 'visits', a child table"):
        model.fit(_deep())


def test_several_synthesized_roots_are_refused():
    data = _star(20)
    model = synthkit.RecordSynthesizer("ar", epsilon=1.0, random_state=0, **FAST)
    with pytest.raises(ParameterError, match=r"2 synthesized root tables \['patients', 'tests'\]"):
        model.fit(data)  # the tests table is not kept: a second root, a second unit


def test_budget_parameters_of_the_inner_models_are_refused():
    params = {**FAST, "sequence_params": {**SMALL, "epsilon": 1.0}}
    model = synthkit.RecordSynthesizer("ar", epsilon=1.0, random_state=0, **params)
    with pytest.raises(ParameterError, match="sequence_params sets \\['epsilon'\\]"):
        model.fit(_star(20), keep=["tests"])


@pytest.mark.parametrize("value", [0, -1.0, "1"])
def test_a_bad_epsilon_is_refused(value):
    with pytest.raises(ParameterError, match="epsilon"):
        synthkit.RecordSynthesizer("ar", epsilon=value).fit(_star(20), keep=["tests"])
