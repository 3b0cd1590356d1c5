"""Evaluating Parquet files and batch sources without loading them (streamed evaluation)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import synthkit
from synthkit.connectors.api import batch_source
from synthkit.errors import EvaluationError, ParameterError
from synthkit.evaluation.fidelity import ColumnPairTrends
from synthkit.evaluation.report import Report
from tests.conftest import peak_memory_growth

# Exact statistics: the streamed figures equal the in-memory ones up to float summation order.
EXACT = 1e-9
ROW_LEVEL = ["exact_match_rate", "dcr_share", "detection_auc", "tstr_auc"]


def _write_parts(frame: pd.DataFrame, folder: Path, parts: int, row_group_size: int) -> str:
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), parts)):
        synthkit.save(
            frame.iloc[part].reset_index(drop=True),
            folder / f"part-{i}.parquet",
            row_group_size=row_group_size,
        )
    return str(folder / "part-*.parquet")


@pytest.fixture(scope="module")
def tables(adult_train: pd.DataFrame) -> dict[str, pd.DataFrame]:
    # A synthetic table with 2,000 copied training rows, so exact matches are frequent.
    real = adult_train.iloc[:12_000].reset_index(drop=True)
    fresh = adult_train.iloc[12_000:18_000]
    copied = real.sample(2_000, random_state=1)
    synthetic = pd.concat([fresh, copied]).sample(frac=1.0, random_state=2)
    holdout = adult_train.iloc[18_000:24_000].reset_index(drop=True)
    return {"real": real, "synthetic": synthetic.reset_index(drop=True), "holdout": holdout}


def test_streamed_figures_equal_the_in_memory_ones(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    real = _write_parts(tables["real"], tmp_path / "real", parts=3, row_group_size=1_500)
    synthetic = _write_parts(tables["synthetic"], tmp_path / "synthetic", 2, 2_500)
    synthkit.save(tables["holdout"], tmp_path / "holdout.csv")
    metrics = ["column_shapes", "column_pair_trends", *ROW_LEVEL]
    streamed = synthkit.evaluate(
        real,
        synthetic,
        holdout=batch_source(tmp_path / "holdout.csv", batch_size=1_000),
        target="income",
        metrics=metrics,
        memory_budget="48MB",
        sample_rows=3_000,
    )
    memory = synthkit.evaluate(
        tables["real"], tables["synthetic"], holdout=tables["holdout"], target="income",
        metrics=metrics,
    )  # fmt: skip
    for name in ("column_shapes", "column_pair_trends"):
        assert streamed[name] == pytest.approx(memory[name], abs=EXACT)
        assert streamed.info[name]["streamed"] == "every row, streamed"
    columns = memory.details["column_shapes"]["columns"]
    for column, entry in streamed.details["column_shapes"]["columns"].items():
        assert entry["exact"] and entry["score"] == pytest.approx(
            columns[column]["score"], abs=EXACT
        )
    pairs = memory.details["column_pair_trends"]["pairs"]
    for one, other in zip(streamed.details["column_pair_trends"]["pairs"], pairs, strict=True):
        assert (one["column_1"], one["column_2"], one["metric"]) == (
            other["column_1"],
            other["column_2"],
            other["metric"],
        )
        assert one["score"] == pytest.approx(other["score"], abs=EXACT, nan_ok=True)
    # Row-level metrics ran on the stated samples of 3,000 rows.
    assert streamed.meta["rows"] == {"real": 12_000, "synthetic": 8_000, "holdout": 6_000}
    assert streamed.meta["sampling"]["real rows (streamed sample)"] == "3,000 of 12,000 rows"
    assert streamed.meta["sampling"]["holdout rows (streamed sample)"] == "3,000 of 6,000 rows"
    for name in ROW_LEVEL:
        assert name in streamed.to_dict()
    assert streamed.details["dcr_share"]["reference_rows_each"] == 3_000
    # Sampled synthetic rows are looked up among every real row: the copy rate is
    # estimated without the 4x understatement a 3,000-row real sample would give.
    rate, spread = memory["exact_match_rate"], np.sqrt(0.25 * 0.75 / 3_000)
    assert abs(streamed["exact_match_rate"] - rate) < 4 * spread
    assert "among all 12,000 real rows" in streamed.info["exact_match_rate"]["streamed"]
    # The CSV holdout has no footer to count its rows: one more pass counts them.
    assert streamed.meta["streamed"]["passes"] == {"real": 3, "synthetic": 3, "holdout": 2}
    loaded = Report.from_json(streamed.to_json())
    assert loaded.to_dict() == pytest.approx(streamed.to_dict())
    assert "column_pair_trends" in streamed.to_html()


def test_sampled_number_columns_lie_within_the_stated_bound(
    adult_train: pd.DataFrame, tmp_path: Path
) -> None:
    # fnlwgt has 21,648 distinct values: beyond exact counts, its KS comes from a sample.
    synkit_test = synthkit.datasets.load_adult("test")
    synthkit.save(adult_train, tmp_path / "real.parquet", row_group_size=4_000)
    metrics = ["column_shapes"]
    streamed = synthkit.evaluate(
        tmp_path / "real.parquet", synkit_test, metrics=metrics, memory_budget="16MB"
    )
    memory = synthkit.evaluate(adult_train, synkit_test, metrics=metrics)
    columns = memory.details["column_shapes"]["columns"]
    entries = streamed.details["column_shapes"]["columns"]
    assert not entries["fnlwgt"]["exact"] and entries["fnlwgt"]["sampled_values"]["real"] < 32_561
    bound = entries["fnlwgt"]["error_bound"]
    assert 0 < bound < 0.1
    assert abs(entries["fnlwgt"]["score"] - columns["fnlwgt"]["score"]) <= bound
    for column, entry in entries.items():
        if column != "fnlwgt":
            assert entry["exact"] and entry["score"] == pytest.approx(columns[column]["score"])
    assert streamed.details["column_shapes"]["error_bound"] == pytest.approx(bound / 15)


# ------------------------------------------------------------------ bad input
def test_bad_inputs_are_named(tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    real = tables["real"].head(2_000)
    synthkit.save(real, tmp_path / "real.parquet")
    path = tmp_path / "real.parquet"
    synthkit.save(real.drop(columns="age"), tmp_path / "narrow.parquet")
    with pytest.raises(EvaluationError, match=r"synthetic columns differ.*missing \['age'\]"):
        synthkit.evaluate(path, tmp_path / "narrow.parquet")
    synthkit.save(real.head(0), tmp_path / "empty.parquet")
    with pytest.raises(EvaluationError, match="synthetic source has no rows"):
        synthkit.evaluate(path, tmp_path / "empty.parquet")
    with pytest.raises(EvaluationError, match="No Parquet files match"):
        synthkit.evaluate(path, str(tmp_path / "missing-*.parquet"))
    events = pd.DataFrame({"user": [1, 1, 2], "day": [1, 2, 1], "shop": list("aba")})
    sequences = synthkit.SequenceDataset(events, "user", "day")
    with pytest.raises(EvaluationError, match=r"single tables.*SequenceDatasets or RecordDatasets"):
        synthkit.evaluate(sequences, path)
    with pytest.raises(EvaluationError, match="memory_budget and sample_rows apply to streamed"):
        synthkit.evaluate(real, real, memory_budget="64MB")
    with pytest.raises(ParameterError, match="memory_budget='lots'"):
        synthkit.evaluate(path, path, memory_budget="lots")
    with pytest.raises(ParameterError, match="raise it to at least"):
        synthkit.evaluate(path, tables["synthetic"], memory_budget="1MB")
    with pytest.raises(EvaluationError, match="holdout overlaps the training rows"):
        synthkit.evaluate(path, tables["synthetic"], holdout=path, metrics=["dcr_share"])
    with pytest.raises(EvaluationError, match="Spearman"):
        synthkit.evaluate(path, path, metrics=[ColumnPairTrends(coefficient="Spearman")])
    with pytest.raises(EvaluationError, match="rare values"):
        synthkit.evaluate(path, path, metrics=["identifier_leak"])
    report = synthkit.evaluate(path, path, metrics=None, memory_budget="32MB")
    assert "identifier_leak" in report.skipped


# ------------------------------------------------------------------ memory bound
# As tests/test_streaming_fit.py measures a streamed fit: after a warm-up, the
# growth of the peak resident memory of an evaluation of one row group (what does
# not grow with the data) and of the whole files, from a baseline taken after
# returning freed memory to the system.
_CHILD = textwrap.dedent(
    """
    import json, sys
    import synthkit

    def growth(real, synthetic, budget):
        metrics = ["column_shapes", "column_pair_trends", "exact_match_rate", "detection_auc"]
        return peak_growth(
            lambda: synthkit.evaluate(real, synthetic, metrics=metrics, memory_budget=budget)
        )

    big, other, small, small_other, budget = sys.argv[1:5] + [int(sys.argv[5])]
    growth(small, small_other, budget)  # warm-up: imports and first calls
    print(json.dumps({"fixed": growth(small, small_other, budget),
                      "big": growth(big, other, budget)}))
    """
)


def _wide_table(path: Path, seed: int, rows: int) -> int:
    """Long strings make a wide table in pandas from few rows; returns its bytes in pandas."""
    rng = np.random.default_rng(seed)
    names = np.array([f"category-{i:03d}-" + "x" * 200 for i in range(30)], dtype=object)
    frame = pd.DataFrame(
        {
            "a": names[rng.integers(0, 30, rows)],
            "b": names[rng.integers(0, 30, rows)],
            "c": names[rng.integers(0, 30, rows)],
            "x": rng.normal(size=rows).round(3),
            "y": rng.integers(0, 1000, rows),
        }
    )
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=5_000)
    return int(frame.memory_usage(deep=True, index=False).sum())


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_peak_memory_stays_within_the_budget(tmp_path: Path) -> None:
    budget = 16_000_000
    in_memory = _wide_table(tmp_path / "real.parquet", 0, 100_000)
    in_memory += _wide_table(tmp_path / "synthetic.parquet", 1, 100_000)
    for name in ("real", "synthetic"):
        first = pq.ParquetFile(tmp_path / f"{name}.parquet").read_row_group(0)
        pq.write_table(first, tmp_path / f"small-{name}.parquet")
    paths = [str(tmp_path / f"{n}.parquet") for n in ("real", "synthetic")]
    paths += [str(tmp_path / f"small-{n}.parquet") for n in ("real", "synthetic")]
    growth = peak_memory_growth(_CHILD, *paths, str(budget))
    # The tables take several times what the streamed evaluation may hold...
    assert in_memory > 8 * budget
    # ...which stays within 1.5x the budget beyond the fixed overhead, itself bounded.
    assert growth["fixed"] < 96_000_000
    assert growth["big"] <= 1.5 * budget + growth["fixed"], (growth, budget)
