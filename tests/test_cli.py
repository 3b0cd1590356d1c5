"""The command line: demo, fit, sample and evaluate on real data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import synthkit
from synthkit.cli import app
from synthkit.datasets import load_adult
from synthkit.errors import ParameterError

runner = CliRunner()


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "fit", "sample", "evaluate"):
        assert command in result.output


class _RecordingSynthesizer:
    """Stands in for Synthesizer to see what the command asks for without training."""

    calls: list[tuple[str, dict]] = []

    def __init__(self, model: str, **settings) -> None:
        self.calls.append((model, settings))

    def fit(self, frame: pd.DataFrame, metadata=None) -> _RecordingSynthesizer:
        return self

    def save(self, path: Path) -> None:
        Path(path).write_bytes(b"model")


@pytest.mark.parametrize(
    ("options", "model", "settings"),
    [
        ([], "autoregressive", {"random_state": None}),
        (["--epochs", "3"], "autoregressive", {"random_state": None, "epochs": 3}),
        (["--model", "ctgan", "--seed", "1"], "ctgan", {"random_state": 1}),
    ],
)
def test_fit_defaults_to_the_best_model_at_its_own_epochs(
    tmp_path: Path, monkeypatch, options, model, settings
) -> None:
    data = tmp_path / "people.csv"
    pd.DataFrame({"age": [31, 45, 27], "city": ["Oslo", "Rome", "Oslo"]}).to_csv(data, index=False)
    monkeypatch.setattr(synthkit, "Synthesizer", _RecordingSynthesizer)
    monkeypatch.setattr(_RecordingSynthesizer, "calls", [])
    out = tmp_path / "m.synthkit"
    result = runner.invoke(app, ["fit", str(data), "--output", str(out), *options])
    assert result.exit_code == 0, result.output
    assert _RecordingSynthesizer.calls == [(model, settings)]
    assert f"Fitted {model} on 3 rows" in result.output


@pytest.mark.slow
def test_fit_sample_evaluate_round(tmp_path: Path) -> None:
    real = load_adult().sample(2_000, random_state=0)
    data = tmp_path / "adult.csv"
    real.to_csv(data, index=False)
    model = tmp_path / "adult.synthkit"
    result = runner.invoke(
        app,
        [
            "fit",
            str(data),
            "--output",
            str(model),
            "--model",
            "tvae",
            "--epochs",
            "2",
            "--seed",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "synthetic.parquet"
    result = runner.invoke(
        app,
        [
            "sample",
            str(model),
            "--output",
            str(out),
            "--rows",
            "300",
            "--seed",
            "1",
            "--condition",
            "sex=Female",
        ],
    )
    assert result.exit_code == 0, result.output
    synthetic = pd.read_parquet(out)
    assert len(synthetic) == 300
    assert (synthetic["sex"] == "Female").all()
    html = tmp_path / "report.html"
    result = runner.invoke(
        app,
        ["evaluate", str(data), str(out), "--html", str(html)],
    )
    assert result.exit_code == 0, result.output
    assert "column_shapes" in result.output
    assert html.stat().st_size > 1000


@pytest.mark.slow
def test_demo_writes_parquet_and_prints_summary(tmp_path: Path) -> None:
    out = tmp_path / "demo.parquet"
    result = runner.invoke(
        app,
        ["demo", "--model", "tvae", "--epochs", "1", "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    synthetic = pd.read_parquet(out)
    assert list(synthetic.columns) == list(load_adult().columns)
    assert len(synthetic) == len(load_adult())
    assert synthkit.load_model(out.with_suffix(".synthkit")).sample(5).shape == (5, 15)
    for metric in ("column_shapes", "dcr_share", "tstr_auc"):
        assert metric in result.output


BUDGET = ("--seed", "0", "--memory-budget", "32MB")


def test_fit_streams_parquet_within_a_memory_budget(tmp_path: Path) -> None:
    parts = tmp_path / "adult"
    parts.mkdir()
    real = load_adult().sample(1_200, random_state=0).reset_index(drop=True)
    for i, start in enumerate(range(0, len(real), 400)):
        real.iloc[start : start + 400].to_parquet(parts / f"part-{i}.parquet")
    out = tmp_path / "adult.synthkit"
    result = runner.invoke(
        app,
        [*("fit", str(parts / "*.parquet"), "--output", str(out), "--epochs", "1"), *BUDGET],
    )
    assert result.exit_code == 0, result.output
    assert "streaming" in result.output
    synthetic = synthkit.load_model(out).sample(50, random_state=0)
    assert list(synthetic.columns) == list(real.columns)


def test_evaluate_streams_parquet_and_csv_within_a_memory_budget(tmp_path: Path) -> None:
    parts = tmp_path / "real"
    parts.mkdir()
    adult = load_adult().sample(2_400, random_state=1).reset_index(drop=True)
    real, synthetic = adult.iloc[:1_200], adult.iloc[1_200:]
    for i, start in enumerate(range(0, len(real), 400)):
        real.iloc[start : start + 400].to_parquet(parts / f"part-{i}.parquet")
    synthetic.to_csv(tmp_path / "synthetic.csv", index=False)  # streamed by its connector
    args = [str(parts), str(tmp_path / "synthetic.csv"), "--memory-budget", "32MB"]
    result = runner.invoke(app, ["evaluate", *args])
    assert result.exit_code == 0, result.output
    in_memory = synthkit.evaluate(real, synthetic, metrics=["column_shapes"]).to_dict()
    assert f"{in_memory['column_shapes']:.4f}" in result.output


def test_fit_refuses_streaming_in_several_processes(tmp_path: Path) -> None:
    out = tmp_path / "m.synthkit"
    options = ["--output", str(out), "--memory-budget", "32MB", "--processes", "2"]
    result = runner.invoke(app, ["fit", str(tmp_path / "x.parquet"), *options])
    assert isinstance(result.exception, ParameterError)
    assert "--processes" in str(result.exception)
    assert not (tmp_path / "m.synthkit").exists()


@pytest.mark.slow
def test_fit_in_two_processes_saves_one_model(tmp_path: Path) -> None:
    data = tmp_path / "adult.csv"
    load_adult().sample(400, random_state=0).to_csv(data, index=False)
    out = tmp_path / "adult.synthkit"
    result = runner.invoke(
        app,
        ["fit", str(data), "--output", str(out), "--model", "tvae", "--processes", "2"],
    )
    assert result.exit_code == 0, result.output
    model = synthkit.load_model(out)
    assert model.random_state == 0 and len(model.sample(20, random_state=0)) == 20


def test_the_command_prints_a_synthkit_error_without_a_traceback(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    from synthkit.cli import main

    out = tmp_path / "m.synthkit"
    argv = ["synthkit", "fit", str(tmp_path / "none*.parquet"), "--output", str(out)]
    monkeypatch.setattr("sys.argv", [*argv, "--memory-budget", "lots"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("Error: memory_budget='lots'") and "Traceback" not in error
    assert not out.exists()
