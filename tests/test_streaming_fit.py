"""Fitting on Parquet files and batch sources without loading them (streamed fits)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import synthkit
from synthkit.connectors.api import batch_source
from synthkit.errors import DataError, ParameterError
from synthkit.generators.streamed_rows import StreamedRows
from synthkit.generators.streamed_source import BatchSource, ParquetSource, as_source
from synthkit.metadata import Metadata
from synthkit.processing import CopulaEncoder, Discretizer
from synthkit.processing.columns import NumericTransform
from synthkit.processing.sketches import quantile_rank_error
from synthkit.processing.statistics import TableStatistics
from tests.conftest import peak_memory_growth

AR = {"epochs": 1, "batch_size": 200, "hidden_dim": 16, "verbose": False, "random_state": 0}


def _write_parts(frame: pd.DataFrame, folder: Path, parts: int, row_group_size: int) -> None:
    for i, part in enumerate(np.array_split(np.arange(len(frame)), parts)):
        synthkit.save(
            frame.iloc[part].reset_index(drop=True),
            folder / f"part-{i}.parquet",
            row_group_size=row_group_size,
        )


def _streamed_statistics(frame: pd.DataFrame, sample_size: int = 200_000) -> TableStatistics:
    metadata = Metadata.detect(frame, rules=False)
    stats = TableStatistics(metadata, frame.head(500), sample_size=sample_size, seed=3)
    for start in range(0, len(frame), 4096):
        stats.update(frame.iloc[start : start + 4096])
    return stats


# ----------------------------------------------------------------- fit and sample
@pytest.mark.parametrize("name", ["autoregressive", "flow"])
def test_multi_file_parquet_source_fits_samples_and_saves(
    name: str, adult: pd.DataFrame, tmp_path: Path
) -> None:
    _write_parts(adult, tmp_path, parts=3, row_group_size=300)
    params = AR if name == "autoregressive" else {"epochs": 1, "batch_size": 200}
    model = synthkit.Synthesizer(name, **{**params, "verbose": False, "random_state": 0})
    model.fit(str(tmp_path / "part-*.parquet"), memory_budget="16MB")
    assert model.n_rows_fitted_ == len(adult)
    sample = model.sample(200, random_state=1)
    assert list(sample.columns) == list(adult.columns)
    assert set(sample["income"]) <= set(adult["income"])
    loaded = synthkit.load_model(model.save(tmp_path / "model.synthkit"))
    pd.testing.assert_frame_equal(
        loaded.sample(50, random_state=2), model.sample(50, random_state=2)
    )


def test_a_batch_source_over_csv_fits(adult: pd.DataFrame, tmp_path: Path) -> None:
    synthkit.save(adult.head(1000), tmp_path / "adult.csv")
    model = synthkit.Synthesizer("autoregressive", **AR)
    model.fit(batch_source(tmp_path / "adult.csv", batch_size=300), memory_budget="16MB")
    assert model.n_rows_fitted_ == 1000
    assert model.sample(20).shape == (20, adult.shape[1])


def test_detected_metadata_and_encoder_match_the_in_memory_fit(
    adult: pd.DataFrame, tmp_path: Path
) -> None:
    _write_parts(adult, tmp_path, parts=2, row_group_size=500)
    streamed = synthkit.Synthesizer("autoregressive", **AR).fit(tmp_path, memory_budget="16MB")
    in_memory = synthkit.Synthesizer("autoregressive", **AR).fit(adult)
    kinds = {c: streamed.metadata_.kind(c) for c in adult.columns}
    assert kinds == {c: in_memory.metadata_.kind(c) for c in adult.columns}
    # Every category, count, range and bin is the in-memory fit's (no column of this
    # sample has more distinct values than the sketch counts exactly).
    one, other = streamed.encoder_.to_state(), in_memory.encoder_.to_state()
    for key in ("transforms", "regenerated", "discretizer"):
        assert one[key] == other[key]
    # The metadata says the same of every column (only its reasons name the sample size).
    assert one["metadata"]["columns"] == other["metadata"]["columns"]


# ------------------------------------------------------------ statistics against memory
@pytest.mark.parametrize("encoder", [Discretizer, CopulaEncoder])
def test_categories_and_ranges_are_exact(encoder: type, adult_full: pd.DataFrame) -> None:
    metadata = Metadata.detect(adult_full, rules=False)
    fitted = encoder(rare_category_threshold=5).fit(adult_full, metadata)
    streamed = encoder(rare_category_threshold=5).fit_statistics(
        _streamed_statistics(adult_full, sample_size=2000)
    )
    for column, transform in fitted.transforms_.items():
        other = streamed.transforms_[column]
        if isinstance(transform, NumericTransform):
            assert {k: other.info[k] for k in ("min", "max", "has_missing", "integer")} == {
                k: transform.info[k] for k in ("min", "max", "has_missing", "integer")
            }
        else:
            assert other.categories == transform.categories
            assert other.counts.tolist() == transform.counts.tolist()


def test_sampled_quantiles_lie_within_the_stated_rank_error(adult_full: pd.DataFrame) -> None:
    # fnlwgt has 21,648 distinct values: beyond exact counts, so its knots come from
    # a 2,000-value sample and must lie within the DKW bound of their target ranks.
    sample_size = 2000
    streamed = CopulaEncoder().fit_statistics(_streamed_statistics(adult_full, sample_size))
    knots = streamed.quantiles_["fnlwgt"].quantiles.knots
    values = np.sort(adult_full["fnlwgt"].to_numpy(dtype=float))
    levels = np.linspace(0.0, 1.0, len(knots))
    below = np.searchsorted(values, knots, side="left") / len(values)
    at_or_below = np.searchsorted(values, knots, side="right") / len(values)
    bound = quantile_rank_error(sample_size)
    assert np.all(below <= levels + bound) and np.all(at_or_below >= levels - bound)
    assert knots[0] == values[0] and knots[-1] == values[-1]


def test_value_protection_range_is_exact(adult_full: pd.DataFrame) -> None:
    from synthkit.privacy.preprocessing import protected_range

    streamed = Discretizer(value_protection=True, rare_category_threshold=5).fit_statistics(
        _streamed_statistics(adult_full, sample_size=2000)
    )
    for column in ("fnlwgt", "capital_gain", "age"):
        observed = adult_full[column].dropna().to_numpy(dtype=float)
        info = streamed.transforms_[column].info
        assert (info["min"], info["max"]) == protected_range(observed, 5)


def test_columns_are_described_from_every_row_group(tmp_path: Path) -> None:
    # "late" has values only in the last row group; "empty" has none at all.
    n = 2000
    frame = pd.DataFrame(
        {
            "c": ["a", "b", "c", "d"] * (n // 4),
            "late": [np.nan] * (n - 100) + [float(v) for v in range(100)],
            "x": np.arange(n) % 97,
        }
    )
    synthkit.save(frame, tmp_path / "late.parquet", row_group_size=200)
    model = synthkit.Synthesizer("autoregressive", **AR)
    model.fit(tmp_path / "late.parquet", memory_budget="16MB")
    info = model.encoder_.transforms_["late"].info
    # Value protection clips to the 5th smallest and largest of all 100 values.
    assert (info["min"], info["max"], info["has_missing"]) == (4.0, 95.0, True)
    synthkit.save(frame.assign(late=np.nan), tmp_path / "empty.parquet", row_group_size=200)
    with pytest.raises(DataError, match="'late' has no values"):
        model.fit(tmp_path / "empty.parquet", metadata=model.metadata_)


def test_name_columns_leave_out_every_real_name() -> None:
    # The candidate pools drop every real word, so the statistics see every distinct name.
    names = ["Alice Smith", "Bob Jones", "Carol White", None]
    frame = pd.DataFrame({"name": names * 50, "x": np.arange(200) % 13, "c": ["a", "b"] * 100})
    metadata = Metadata.detect(frame, rules=False)
    stats = TableStatistics(metadata, frame.head(3))
    for start in range(0, 200, 50):
        stats.update(frame.iloc[start : start + 50])
    streamed = Discretizer().fit_statistics(stats)
    assert streamed.regenerated_ == Discretizer().fit(frame, metadata).regenerated_


# ---------------------------------------------------------------------- shuffling
def test_shuffle_mixes_row_groups_and_covers_the_rows(tmp_path: Path) -> None:
    frame = pd.DataFrame({"g": np.repeat(np.arange(20), 500).astype(str), "x": np.arange(10_000)})
    synthkit.save(frame, tmp_path / "sorted.parquet", row_group_size=500)
    encoder = Discretizer(max_points=10).fit(frame)
    rows = StreamedRows(ParquetSource(tmp_path / "sorted.parquet"), encoder, 10_000, 500, 2000, 0)
    steps, batches = rows.shuffled_batches(250, torch.device("cpu"))
    drawn = torch.cat([next(batches) for _ in range(steps)])
    # Sorted by group on disk; the first batch mixes the four row groups the buffer
    # holds, drawn in a shuffled order rather than the file's first four.
    first = set(drawn[:250, 0].tolist())
    on_disk_first = {encoder.transforms_["g"].index_of(str(g)) for g in range(4)}
    assert len(first) == 4 and first != on_disk_first
    counts = torch.bincount(drawn[:, 0], minlength=20)
    assert len(drawn) == 10_000 and int(counts.min()) > 250


def test_each_process_of_a_group_keeps_its_slice_of_every_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import synthkit.generators.streamed_rows as streamed_rows

    frame = pd.DataFrame({"g": [str(i % 7) for i in range(3000)], "x": np.arange(3000) % 50})
    synthkit.save(frame, tmp_path / "t.parquet", row_group_size=500)
    encoder = Discretizer().fit(frame)
    rows = StreamedRows(ParquetSource(tmp_path / "t.parquet"), encoder, 3000, 500, 1000, 0)
    whole = next(rows.shuffled_batches(200, torch.device("cpu"))[1])
    monkeypatch.setattr(streamed_rows, "process_group", lambda: (1, 2))
    steps, batches = rows.shuffled_batches(200, torch.device("cpu"))
    # Same seed, same global batch: this process keeps every second row of it.
    assert steps == 15
    assert torch.equal(next(batches), whole[1::2])


# -------------------------------------------------------------------- refusals
@pytest.mark.parametrize("name", ["ctgan", "tvae"])
def test_models_that_index_the_whole_table_refuse_to_stream(
    name: str, adult: pd.DataFrame, tmp_path: Path
) -> None:
    synthkit.save(adult, tmp_path / "adult.parquet")
    with pytest.raises(ParameterError, match="'autoregressive', 'flow'"):
        synthkit.Synthesizer(name, epochs=1).fit(tmp_path / "adult.parquet")


def test_private_fits_refuse_to_stream(adult: pd.DataFrame, tmp_path: Path) -> None:
    synthkit.save(adult, tmp_path / "adult.parquet")
    with pytest.raises(ParameterError, match="differentially private"):
        synthkit.Synthesizer("autoregressive", epsilon=1.0).fit(tmp_path / "adult.parquet")


def test_bad_sources_and_budgets_are_named(adult: pd.DataFrame, tmp_path: Path) -> None:
    model = synthkit.Synthesizer("autoregressive", **AR)
    with pytest.raises(DataError, match="No Parquet files match"):
        model.fit(str(tmp_path / "missing-*.parquet"))
    synthkit.save(adult.head(50), tmp_path / "a.parquet")
    synthkit.save(
        adult.head(50).assign(age=adult["age"].head(50).astype(str)), tmp_path / "b.parquet"
    )
    with pytest.raises(DataError, match=r"do not share one schema.*age: int64 vs string"):
        model.fit(str(tmp_path / "*.parquet"))
    # Other files are not streamed by path: fit asks for a frame (or a batch source).
    with pytest.raises(DataError, match="pandas DataFrame"):
        model.fit(str(tmp_path / "adult.csv"))
    with pytest.raises(DataError, match="not a Parquet file"):
        as_source([tmp_path / "a.parquet", tmp_path / "x.csv"])
    with pytest.raises(ParameterError, match="memory_budget applies to streamed fits"):
        model.fit(adult, memory_budget="64MB")
    with pytest.raises(ParameterError, match="memory_budget='lots'"):
        model.fit(tmp_path / "a.parquet", memory_budget="lots")
    synthkit.save(pd.concat([adult] * 3), tmp_path / "c.parquet")
    with pytest.raises(ParameterError, match="fewer than two batches"):
        synthkit.Synthesizer("autoregressive", batch_size=5000).fit(
            tmp_path / "c.parquet", memory_budget="1MB"
        )
    with pytest.raises(DataError, match="can be read only once"):
        BatchSource(iter([]))  # type: ignore[arg-type]
    mixed = BatchSource(lambda: [pa.record_batch({"a": [1]}), pa.record_batch({"a": ["x"]})])
    with pytest.raises(DataError, match="do not share one schema"):
        list(mixed.batches(10))


# ------------------------------------------------------------------- memory bound
# The child fits twice more after a warm-up: on one row group (everything that does
# not grow with the data: libraries' allocator pools, the model, one batch) and on
# the whole file. Growth of the peak resident memory is measured from a baseline
# taken after returning freed memory to the system.
_CHILD = textwrap.dedent(
    """
    import json, sys
    import torch
    torch.set_num_threads(1)
    import synthkit

    def growth(path, budget):
        params = dict(epochs=1, batch_size=2048, hidden_dim=8, verbose=False, random_state=0)
        model = synthkit.Synthesizer("autoregressive", **params)
        return peak_growth(lambda: model.fit(path, memory_budget=budget))

    big, small, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
    growth(small, budget)  # warm-up: imports and first calls
    print(json.dumps({"fixed": growth(small, budget), "big": growth(big, budget)}))
    """
)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_peak_memory_stays_within_the_budget(tmp_path: Path) -> None:
    budget = 8_000_000
    rng = np.random.default_rng(0)
    # Long strings make a wide table in pandas from few rows, so the fit is quick.
    names = np.array([f"category-{i:03d}-" + "x" * 400 for i in range(30)], dtype=object)
    big, in_memory, writer = tmp_path / "big.parquet", 0, None
    for _ in range(3):
        n = 20_000
        frame = pd.DataFrame(
            {
                "a": names[rng.integers(0, 30, n)],
                "b": names[rng.integers(0, 30, n)],
                "c": names[rng.integers(0, 30, n)],
                "x": rng.normal(size=n).round(3),
                "y": rng.integers(0, 1000, n),
            }
        )
        in_memory += int(frame.memory_usage(deep=True, index=False).sum())
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(big, table.schema)
        writer.write_table(table, row_group_size=5_000)
    writer.close()
    pq.write_table(pq.ParquetFile(big).read_row_group(0), tmp_path / "small.parquet")
    growth = peak_memory_growth(_CHILD, str(big), str(tmp_path / "small.parquet"), str(budget))
    # The table is many times what the streamed fit may hold...
    assert in_memory > 8 * budget
    # ...which stays within 1.5x the budget beyond the fixed overhead, itself bounded.
    assert growth["fixed"] < 64_000_000
    assert growth["big"] <= 1.5 * budget + growth["fixed"], (growth, budget)
