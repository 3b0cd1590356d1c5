"""Fitting a table model on a source larger than memory.

``model.fit("data/*.parquet", memory_budget="256MB")`` reads the source in
passes, never whole:

1. **Sample.** A seeded uniform sample of rows (bottom-k: every row gets a
   random key, the rows with the smallest keys are kept) from which metadata is
   detected when none is given (rules between columns are not proposed: they
   are fitted on the whole frame).
2. **Statistics.** Every column's statistics, batch by batch
   (:class:`~synthkit.processing.statistics.TableStatistics`): exact category
   counts, so pooling and the categories equal an in-memory fit's; for numbers
   the exact range, missing share and extremes (value protection's range is
   exact), and exact value counts or, for a column with more than 10,000
   distinct values, a seeded uniform sample for the quantile bins
   (:mod:`synthkit.processing.sketches` states its error). The encoder is
   fitted from them (:meth:`~synthkit.processing.base.BaseEncoder.fit_statistics`).
3. **Training.** Each epoch reads the row groups in a new shuffled order,
   encodes each chunk as it is read and passes it through a shuffle buffer
   (:class:`~synthkit.generators.streamed_rows.StreamedRows`), which the
   model's own training loop reads.

Memory is bounded by ``memory_budget`` (:mod:`~synthkit.generators.streamed_budget`
says how it is shared). The autoregressive and flow models stream: their
training loops only draw batches. CTGAN (its conditional sampler indexes every
category's rows), TVAE (it indexes the whole encoded tensor) and
differentially private fits (Poisson sampling over the whole table) do not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from synthkit._runtime import torch_seeded
from synthkit._tables import check_table
from synthkit.errors import DataError, ParameterError
from synthkit.generators.streamed_budget import DEFAULT_MEMORY_BUDGET, StreamPlan, parse_memory
from synthkit.generators.streamed_rows import StreamedRows
from synthkit.generators.streamed_source import StreamSource, as_source
from synthkit.metadata import Metadata
from synthkit.processing.statistics import TableStatistics

__all__ = ["STREAMING_MODELS", "fit_streamed"]

#: Registered names of the models that fit on a streamed source.
STREAMING_MODELS = ("autoregressive", "flow")

# Rows read to measure how many bytes a row takes in Arrow and in pandas.
_PROBE_ROWS = 2048


def fit_streamed(
    model: Any,
    data: Any,
    metadata: Metadata | None = None,
    memory_budget: int | str | None = None,
) -> Any:
    """Fit ``model`` on a source read in batches, holding at most ``memory_budget`` of it.

    Args:
        model: An unfitted autoregressive or flow model.
        data: Parquet files (a path, glob, directory or list of paths) or a
            :class:`~synthkit.generators.streamed_source.StreamSource`.
        metadata: Column kinds; detected from a uniform sample of rows when omitted.
        memory_budget: Bytes, or text such as ``"256MB"`` (default 256 MB).

    Returns:
        ``model``, fitted.

    Raises:
        ParameterError: For a model that cannot stream, a differentially private
            fit, or a budget too small for one batch.
        DataError: For a source that matches no files, whose files differ in
            schema, or holds no rows.

    Example:
        >>> import tempfile, pathlib, synthkit
        >>> from synthkit.datasets import load_adult
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> adult = load_adult().head(600)
        >>> for i in range(3):
        ...     synthkit.save(adult.iloc[200 * i : 200 * (i + 1)], folder / f"part-{i}.parquet")
        >>> model = synthkit.Synthesizer("autoregressive", epochs=1, verbose=False)
        >>> model.fit(str(folder / "*.parquet"), memory_budget="16MB").n_rows_fitted_  # calls this
        600
    """
    _check_model(model)
    budget = parse_memory(DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget)
    source = as_source(data)
    device, seed = model._start_fit()
    plan = _plan(source, budget, metadata)
    sample = _row_sample(source, plan, seed)
    from synthkit.generators.base import _refuse_other_shapes

    # Arrow columns hold one type each, and a column all missing in the sample may
    # have values elsewhere: the statistics pass checks for empty columns exactly.
    check_table(sample, "The source")
    _refuse_other_shapes(sample, metadata)
    if metadata is None:
        metadata = Metadata.detect(sample, rules=False)
        detected = True
    else:
        metadata = Metadata.for_data(sample, metadata)
        detected = False
    statistics = TableStatistics(
        metadata,
        sample,
        sample_size=plan.sample_size,
        extremes=max(model.rare_category_threshold, 5),
        seed=seed,
    )
    for frame in source.frames(plan.read_rows):
        statistics.update(frame)
    if detected:
        _exact_ranges(metadata, statistics)
    with torch_seeded(seed, device):
        encoder = model._new_encoder().fit_statistics(statistics, device=device)
        if encoder.output_dim_ == 0:
            raise DataError(
                "Every learned column is constant (or the data has one row), so there is "
                "nothing to learn. Fit on more varied data."
            )
        width = encoder.encode(sample.head(1), random_state=0)
        encoded_row_bytes = width.shape[1] * min(width.element_size(), 4)
        rows = StreamedRows(
            source,
            encoder,
            statistics.n_rows,
            plan.read_rows,
            plan.buffer_rows(encoded_row_bytes, model.batch_size, statistics.n_rows),
            seed,
        )
        model.encoder_ = encoder
        model.metadata_ = encoder.metadata_
        model.device_ = device
        model.loss_history_ = pd.DataFrame()
        model._fit(rows)
    model.n_rows_fitted_ = statistics.n_rows
    return model


def _check_model(model: Any) -> None:
    """Refuse models whose training reads the whole encoded table."""
    from synthkit.generators.autoregressive import ARSynthesizer
    from synthkit.generators.flow import FlowSynthesizer

    if type(model) not in (ARSynthesizer, FlowSynthesizer):
        raise ParameterError(
            f"{type(model).__name__} cannot fit on a streamed source: its training indexes "
            "the whole encoded table (CTGAN's conditional sampler needs every category's "
            "rows). The models that stream are "
            f"{', '.join(repr(n) for n in STREAMING_MODELS)}; or load the data with "
            "synthkit.load(...) and fit the frame in memory."
        )
    if getattr(model, "epsilon", None) is not None:
        raise ParameterError(
            "A differentially private fit (epsilon=...) cannot stream: its Poisson sampling "
            "and noisy histograms need the whole table. Load the data with synthkit.load(...) "
            "and fit the frame in memory, or drop epsilon."
        )


def _plan(source: StreamSource, budget: int, metadata: Metadata | None) -> StreamPlan:
    """Size every part of the fit from the bytes the source's first rows take."""
    batches = source.batches(_PROBE_ROWS)
    probe = next(batches, None)
    batches.close()  # let go of the open file at once
    if probe is None:
        raise DataError("The source has no rows; fit on a source with data.")
    from synthkit.schema._arrow import to_pandas

    frame = to_pandas(pa.Table.from_batches([probe]))
    rows = max(len(frame), 1)
    row_bytes = StreamPlan.row_bytes_of(
        probe.nbytes / rows, frame.memory_usage(deep=True).sum() / rows, frame.shape[1]
    )
    numeric = frame.select_dtypes(include=["number", "datetime", "datetimetz"]).shape[1]
    if metadata is not None:
        numeric = sum(metadata.kind(c) in ("numerical", "datetime") for c in metadata.columns)
    return StreamPlan.for_rows(budget, row_bytes, numeric)


def _row_sample(source: StreamSource, plan: StreamPlan, seed: int) -> pd.DataFrame:
    """A uniform sample of ``plan.detection_rows`` rows of the whole source (bottom-k keys)."""
    from synthkit.schema._arrow import to_pandas

    rng = np.random.default_rng([seed, 2**31])
    size = plan.detection_rows
    kept: pa.Table | None = None
    keys = np.empty(0)
    for batch in source.batches(plan.read_rows):
        batch_keys = rng.random(batch.num_rows)
        table = pa.Table.from_batches([batch])
        merged = table if kept is None else pa.concat_tables([kept, table])
        keys = np.concatenate([keys, batch_keys])
        if len(keys) > size:
            keep = np.sort(np.argpartition(keys, size - 1)[:size])
            merged, keys = merged.take(pa.array(keep)), keys[keep]
        # Copy out of the batch's buffers, so they are freed with the batch.
        kept = merged.combine_chunks()
    if kept is None:
        raise DataError("The source has no rows; fit on a source with data.")
    return to_pandas(kept)


def _exact_ranges(metadata: Metadata, statistics: TableStatistics) -> None:
    """Detected metadata records each number's range: the whole source's, not the sample's."""
    for column, sketch in statistics.numeric.items():
        entry = metadata.columns[column]
        if entry.get("kind") == "numerical" and sketch.n_observed:
            for key, value in (("min", sketch.minimum), ("max", sketch.maximum)):
                if key in entry:
                    entry[key] = int(value) if entry.get("integer") else value
