"""Releases of databases of related tables: gated by root entity, written one file per table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthkit
from synthkit.errors import ParameterError, ReleaseGateError
from synthkit.schema import RecordDataset, Relationship
from tests.conftest import DATA

#: 150 patients leave the attacks' intervals too wide for the default 0.10 bounds.
_SMALL_COHORT_GATES = {
    "inference_risk": None,
    "linkability_risk": None,
    "singling_out_risk": None,
    "dcr_share": 0.8,
    "mia_auc": 0.8,
}
QUICK = {"epochs": 1, "verbose": False, "device": "cpu"}


@pytest.fixture(scope="module")
def cohort() -> tuple[RecordDataset, RecordDataset, pd.DataFrame]:
    """NAFLD patients (with an email each) → labs and → events, split by patient."""
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz").drop(columns=["case.id"])
    patients["email"] = [f"p{i}.{i * 7 % 1000}@clinic.example" for i in patients.id]
    labs = pd.read_csv(DATA / "nafld2_sample.csv.gz")
    events = pd.read_csv(DATA / "nafld3_sample.csv.gz")
    ids = patients["id"].to_numpy().copy()
    np.random.default_rng(0).shuffle(ids)
    links = [
        Relationship("patients", "labs", "id", "id"),
        Relationship("patients", "events", "id", "id"),
    ]

    def database(keys: np.ndarray) -> RecordDataset:
        tables = {
            "patients": patients[patients.id.isin(keys)].reset_index(drop=True),
            "labs": labs[labs.id.isin(keys)].reset_index(drop=True),
            "events": events[events.id.isin(keys)].reset_index(drop=True),
        }
        return RecordDataset(tables, links)

    return database(ids[:150]), database(ids[150:]), patients


@pytest.fixture(scope="module")
def released(cohort, tmp_path_factory):
    real, holdout, _ = cohort
    out = tmp_path_factory.mktemp("release") / "db"
    return synthkit.release(
        real, out, holdout=holdout, gates=_SMALL_COHORT_GATES, model_params=QUICK
    )


def test_a_passing_release_writes_every_table_with_valid_keys(released, cohort) -> None:
    real, _, patients = cohort
    for name in ("patients", "labs", "events"):
        assert f"{name}.parquet" in released.files and f"{name}.csv" in released.files
    written = {name: pd.read_parquet(released.path / f"{name}.parquet") for name in real.tables}
    assert set(written["labs"]["id"]) <= set(written["patients"]["id"])
    assert set(written["events"]["id"]) <= set(written["patients"]["id"])
    assert not written["patients"]["id"].isin(patients["id"]).any()  # new keys
    card = json.loads((released.path / "model_card.json").read_text())
    assert card["privacy"]["unit"] == "root entity"
    assert card["data"]["shape"] == "records" and set(card["data"]["tables"]) == set(real.tables)
    assert "table `labs`" in (released.path / "MODEL_CARD.md").read_text()
    assert released.report.results["referential_integrity"].value == 1.0


def test_no_real_email_reaches_a_written_file(released, cohort) -> None:
    _, _, patients = cohort
    emails = set(patients["email"])
    for name in released.files:
        text = (released.path / name).read_text(encoding="utf-8", errors="ignore")
        assert not any(email in text for email in emails), name


def test_a_failing_gate_writes_nothing(cohort, tmp_path: Path) -> None:
    real, holdout, _ = cohort
    with pytest.raises(ReleaseGateError, match="dcr_share"):
        synthkit.release(
            real, tmp_path / "db", holdout=holdout, gates={"dcr_share": 0.0}, model_params=QUICK
        )
    assert list(tmp_path.iterdir()) == []


def test_a_private_database_release_states_its_budget_by_root_entity(cohort, tmp_path) -> None:
    real, holdout, _ = cohort
    result = synthkit.release(
        real,
        tmp_path / "private",
        holdout=holdout,
        epsilon=4.0,
        gates=_SMALL_COHORT_GATES,
        model_params=QUICK,
    )
    privacy = json.loads((result.path / "model_card.json").read_text())["privacy"]
    assert privacy["differential_privacy"] and privacy["unit"] == "root entity"
    assert 0 < privacy["epsilon_spent"] <= 4.0
    assert {"patients", "labs", "events"} <= set(json.dumps(privacy["budget"]).split('"'))
    assert "ε =" in (result.path / "MODEL_CARD.md").read_text()


def test_options_a_database_release_cannot_honour_are_refused(cohort, tmp_path: Path) -> None:
    real, holdout, patients = cohort
    for options, message in (
        ({"save_model": True}, "likelihood"),
        ({"target": "status"}, "target"),
        ({"context": patients}, "context"),
    ):
        with pytest.raises(ParameterError, match=message):
            synthkit.release(real, tmp_path / "x", holdout=holdout, **options)
    with pytest.raises(ParameterError, match="RecordDataset"):
        synthkit.release(real, tmp_path / "y", holdout=holdout.tables["patients"])
    assert list(tmp_path.iterdir()) == []
