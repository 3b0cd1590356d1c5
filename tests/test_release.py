"""Releases write everything or nothing, and no real identifier reaches a written file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from faker import Faker
from typer.testing import CliRunner

import synthkit
from synthkit._release import _scan_for_real_values
from synthkit._release_subjects import ReleaseSubject, never_learned, redraw_real_identifiers
from synthkit.cli import app
from synthkit.datasets import load_adult
from synthkit.errors import ParameterError, ReleaseGateError

QUICK = {"epochs": 3, "verbose": False}
PII = ("name", "email", "phone")


def with_people(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Adult rows with a person's name, email and phone number on each."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    out = frame.reset_index(drop=True).copy()
    out["name"] = [fake.name() for _ in range(len(out))]
    out["email"] = [fake.email() for _ in range(len(out))]
    out["phone"] = [fake.phone_number() for _ in range(len(out))]
    return out


@pytest.fixture(scope="module")
def people() -> tuple[pd.DataFrame, pd.DataFrame]:
    real = with_people(load_adult("train").sample(1200, random_state=0), seed=1)
    holdout = with_people(load_adult("test").sample(1200, random_state=0), seed=2)
    return real, holdout


@pytest.fixture(scope="module")
def released(people, tmp_path_factory) -> synthkit._release.ReleaseResult:
    real, holdout = people
    out = tmp_path_factory.mktemp("releases") / "adult-release"
    # The default gates: 1,200 rows are enough targets for every risk's 0.10 bound.
    return synthkit.release(real, out, holdout=holdout, model="ar", model_params=QUICK)


def real_values(real: pd.DataFrame) -> set[str]:
    return {str(v) for column in PII for v in real[column]}


def test_a_passing_release_holds_every_file_and_its_card(released, people) -> None:
    real, _ = people
    assert set(released.files) == {
        "synthetic.parquet",
        "synthetic.csv",
        "report.json",
        "report.html",
        "MODEL_CARD.md",
        "model_card.json",
    }
    assert all(check.passed for check in released.gates)
    assert {c.metric for c in released.gates} >= {"dcr_share", "mia_auc", "pii_leak"}
    data = pd.read_parquet(released.path / "synthetic.parquet")
    assert list(data.columns) == list(real.columns) and len(data) == len(real)
    card = json.loads((released.path / "model_card.json").read_text())
    assert card["privacy"] == {"unit": "row", "differential_privacy": False}
    assert card["model"]["name"] == "autoregressive" and card["seed"] == 0
    assert {gate["metric"] for gate in card["gates"]} == {c.metric for c in released.gates}
    assert "pii_leak" in (released.path / "MODEL_CARD.md").read_text()


def test_no_real_identifier_appears_in_any_written_file(released, people) -> None:
    real, _ = people
    data = pd.read_parquet(released.path / "synthetic.parquet")
    for column in PII:
        assert not data[column].isin(set(real[column])).any(), column
    forbidden = real_values(real)
    for path in released.path.iterdir():
        if path.suffix in (".csv", ".json", ".html", ".md"):
            text = path.read_text(encoding="utf-8")
            assert not [value for value in forbidden if value in text], path.name


@pytest.mark.slow
def test_a_failing_gate_writes_nothing(people, tmp_path: Path) -> None:
    real, holdout = people
    out = tmp_path / "release"
    with pytest.raises(ReleaseGateError) as caught:
        synthkit.release(
            real, out, holdout=holdout, model="ar", gates={"dcr_share": 0.0}, model_params=QUICK
        )
    assert "dcr_share = " in str(caught.value) and "largest accepted 0: FAILED" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no directory, no staging left behind


def test_an_existing_output_and_bad_gates_are_refused(people, tmp_path: Path) -> None:
    real, holdout = people
    with pytest.raises(ParameterError, match="already exists"):
        synthkit.release(real, tmp_path, holdout=holdout)
    with pytest.raises(ParameterError, match="gates\\['dcr_share'\\]"):
        synthkit.release(real, tmp_path / "new", holdout=holdout, gates={"dcr_share": "low"})
    assert not (tmp_path / "new").exists()


def test_identifiers_equal_to_real_ones_are_redrawn(people) -> None:
    real, _ = people
    metadata = synthkit.Metadata.detect(real)
    synthetic = real.sample(300, random_state=3).reset_index(drop=True)  # real values
    redrawn = redraw_real_identifiers(synthetic, real, metadata, seed=0)
    for column in ("email", "phone"):
        assert not redrawn[column].isin(set(real[column])).any(), column
        assert redrawn[column].notna().all()
    # Learned columns are left alone.
    pd.testing.assert_frame_equal(redrawn[["age", "income"]], synthetic[["age", "income"]])


def test_the_scan_finds_a_real_value_in_data_and_reports(released, people, tmp_path) -> None:
    real, _ = people
    metadata = synthkit.Metadata.detect(real)
    subject = ReleaseSubject(None, {}, {"synthetic": real}, {"synthetic": metadata}, None, "row")
    assert _scan_for_real_values(released.path, subject) == {"data": 0, "reports": 0}
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in released.path.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    data = pd.read_parquet(copy / "synthetic.parquet")
    data.loc[0, "email"] = real.loc[5, "email"]
    data.to_parquet(copy / "synthetic.parquet", index=False)
    card = copy / "MODEL_CARD.md"
    card.write_text(card.read_text() + f"\nContact: {real.loc[7, 'email']}\n")
    assert _scan_for_real_values(copy, subject) == {"data": 1, "reports": 1}


def test_numeric_keys_are_sought_in_the_data_and_text_values_in_the_reports_too(
    tmp_path: Path,
) -> None:
    real = pd.DataFrame(
        {
            "patient": [6870, 15000, 2035],
            "email": ["ann.lee@clinic.example", "bo.kim@clinic.example", "cy.ng@clinic.example"],
            "x": [1.0, 2.0, 3.0],
        }
    )
    metadata = synthkit.Metadata.detect(real)
    metadata.update_column("patient", kind="id")
    assert set(never_learned(metadata)) == {"patient", "email"}
    synthetic = real.assign(patient=[10**15, 6870, 10**15 + 2], email=["new@clinic.example"] * 3)
    synthetic.to_parquet(tmp_path / "synthetic.parquet", index=False)
    synthetic.to_csv(tmp_path / "synthetic.csv", index=False)
    # A figure equal to a patient number is a chart label, not that patient's key.
    (tmp_path / "report.html").write_text("<svg><text>15000</text></svg>")
    (tmp_path / "report.json").write_text('{"rows": 2035}')
    (tmp_path / "model_card.json").write_text("{}")
    (tmp_path / "MODEL_CARD.md").write_text("Contact: bo.kim@clinic.example\n")
    subject = ReleaseSubject(None, {}, {"synthetic": real}, {"synthetic": metadata}, None, "row")
    # 6870 in the data cells (Parquet and CSV) counts; the email in the card counts.
    assert _scan_for_real_values(tmp_path, subject) == {"data": 2, "reports": 1}


@pytest.mark.slow
def test_the_model_file_is_written_only_when_its_attack_passes(people, tmp_path) -> None:
    real, holdout = people
    with pytest.raises(ReleaseGateError, match="likelihood_mia_auc"):
        synthkit.release(
            real,
            tmp_path / "strict",
            holdout=holdout,
            save_model=True,
            gates={"likelihood_mia_auc": 0.0},
            model_params=QUICK,
        )
    assert not (tmp_path / "strict").exists()
    result = synthkit.release(
        real,
        tmp_path / "with-model",
        holdout=holdout,
        save_model=True,
        model_params=QUICK,
    )
    assert "model.synthkit" in result.files
    assert synthkit.load_model(result.path / "model.synthkit").sample(5).shape[0] == 5


@pytest.mark.slow
def test_the_cli_exits_non_zero_when_a_gate_fails(people, tmp_path: Path) -> None:
    real, holdout = people
    real.to_csv(tmp_path / "real.csv", index=False)
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    base = ["release", str(tmp_path / "real.csv"), "--holdout", str(tmp_path / "holdout.csv")]
    runner = CliRunner()
    failed = runner.invoke(
        app, [*base, "--output", str(tmp_path / "no"), "--epochs", "3", "--gate", "mia_auc=0"]
    )
    assert failed.exit_code == 1, failed.output
    assert "mia_auc" in failed.output and not (tmp_path / "no").exists()
    passed = runner.invoke(
        app,
        [*base, "--output", str(tmp_path / "yes"), "--epochs", "3"],
    )
    assert passed.exit_code == 0, passed.output
    assert (tmp_path / "yes" / "synthetic.parquet").exists()


def test_a_risk_bound_wide_for_want_of_targets_says_so() -> None:
    from types import SimpleNamespace

    from synthkit._release import _check
    from synthkit.evaluation.base import MetricResult

    pooled = {"training_targets": 1000, "control_targets": 500, "columns": {}}
    report = SimpleNamespace(
        results={
            "inference_risk": MetricResult(0.02, (0.0, 0.29), pooled),
            "linkability_risk": MetricResult(0.2, (0.15, 0.25), {"attempts": 500}),
        },
        skipped={},
    )
    wide = _check(report, "inference_risk", 0.10)
    assert not wide.passed and wide.value == 0.29
    assert "includes 0: 500 attack targets" in wide.line()
    # A risk measured above zero is not explained away.
    real = _check(report, "linkability_risk", 0.10)
    assert not real.passed and "includes 0" not in real.line()
