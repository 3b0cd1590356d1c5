"""The likelihood membership attack on models that memorize and models that generalize."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import synthkit
from synthkit.cli import app
from synthkit.errors import EvaluationError


def _fit(name: str, train: pd.DataFrame, epochs: int) -> synthkit.Synthesizer:
    return synthkit.Synthesizer(name, epochs=epochs, verbose=False, random_state=0).fit(train)


@pytest.fixture(scope="module")
def rows(adult_train: pd.DataFrame, adult_test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {
        "few": adult_train.sample(300, random_state=1),
        "many": adult_train.sample(4000, random_state=1),
        "holdout": adult_test.sample(4000, random_state=2),
    }


def test_a_model_that_memorized_its_rows_is_caught(rows) -> None:
    # 150 passes over 300 rows: the model learns those rows, not the population.
    model = _fit("autoregressive", rows["few"], epochs=150)
    synthetic = model.sample(300, random_state=0)
    report = synthkit.evaluate(
        rows["few"],
        synthetic,
        holdout=rows["holdout"],
        model=model,
        metrics=["likelihood_mia_auc"],
    )
    details = report.details["likelihood_mia_auc"]
    assert report.to_dict()["likelihood_mia_auc"] > 0.9
    assert details["tpr_at_10_fpr"] > 0.5
    assert details["members"] == details["non_members"] == 300
    likelihood = details["mean_log_likelihood"]
    assert likelihood["members"] > likelihood["non_members"]


@pytest.mark.parametrize("name", ["autoregressive", "flow"])
def test_a_model_that_generalizes_scores_near_chance(rows, name: str) -> None:
    model = _fit(name, rows["many"], epochs=3)
    report = synthkit.evaluate(
        rows["many"],
        model.sample(2000, random_state=0),
        holdout=rows["holdout"],
        model=model,
        metrics=["likelihood_mia_auc"],
    )
    assert 0.4 < report.to_dict()["likelihood_mia_auc"] < 0.6


def test_without_a_model_the_attack_is_skipped_with_the_reason(rows) -> None:
    real, holdout = rows["few"], rows["holdout"].head(300)
    report = synthkit.evaluate(
        real, holdout.sample(frac=1.0, random_state=0), holdout=rows["holdout"].tail(300)
    )
    assert "likelihood_mia_auc" not in report.to_dict()
    assert "model" in report.skipped["likelihood_mia_auc"]
    with pytest.raises(EvaluationError, match="needs model"):
        synthkit.evaluate(real, holdout, holdout=holdout, metrics=["likelihood_mia_auc"])


def test_a_model_without_log_prob_skips_the_attack_with_the_reason(rows) -> None:
    model = _fit("tvae", rows["few"], epochs=1)
    synthetic = model.sample(300, random_state=0)
    report = synthkit.evaluate(
        rows["few"], synthetic, holdout=rows["holdout"], model=model, metrics=None
    )
    assert "likelihood_mia_auc" not in report.to_dict()
    assert re.search(r"no log_prob method.*flow", report.skipped["likelihood_mia_auc"])
    # Asked for by name, the metric cannot be skipped silently: the same reason is raised.
    with pytest.raises(EvaluationError, match=r"no log_prob method.*flow"):
        synthkit.evaluate(
            rows["few"],
            synthetic,
            holdout=rows["holdout"],
            model=model,
            metrics=["likelihood_mia_auc"],
        )


def test_cli_evaluate_runs_the_attack_from_a_model_file(rows, tmp_path: Path) -> None:
    model = _fit("autoregressive", rows["few"], epochs=2)
    paths = {name: tmp_path / f"{name}.csv" for name in ("real", "synthetic", "holdout")}
    rows["few"].to_csv(paths["real"], index=False)
    model.sample(300, random_state=0).to_csv(paths["synthetic"], index=False)
    rows["holdout"].head(300).to_csv(paths["holdout"], index=False)
    model_file = model.save(tmp_path / "model.synthkit")
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(paths["real"]),
            str(paths["synthetic"]),
            "--holdout",
            str(paths["holdout"]),
            "--model",
            str(model_file),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "likelihood_mia_auc" in result.output
