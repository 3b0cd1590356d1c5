"""Evaluating tables larger than memory: whole-table metrics streamed, row-level ones on samples.

``synthkit.evaluate("real/*.parquet", "synthetic/", holdout=..., memory_budget="256MB")``
reads each table as record batches, never whole (the sources ``fit`` streams:
Parquet paths, globs, directories or lists, local or fsspec, and
``synthkit.batch_source(...)``):

- **Every row, exact.** ``column_shapes`` (1 - TV from exact category counts;
  1 - KS from exact value counts while a column has at most 10,000 distinct
  values, else from a seeded uniform sample of its values, with the
  Dvoretzky-Kiefer-Wolfowitz bound stated per column) and
  ``column_pair_trends`` (Pearson correlations from merged co-moments,
  contingency tables from exact cell counts, numbers cut into bins of their
  own table's exact range); see :mod:`synthkit.evaluation.streamed_statistics`.
  ``exact_match_rate`` looks the sampled synthetic (and holdout) rows up among
  the row hashes of *every* real row.
- **On seeded uniform row samples** (bottom-k keys, as a streamed fit draws
  them): every other metric (detection, utility, DCR share, NNDR, membership
  and Anonymeter-style attacks), as ``evaluate`` runs them on frames, with the
  samples' sizes in ``report.meta["sampling"]``.
- ``identifier_leak`` (rare values of whole columns: a sample would call
  common values rare) is skipped with that reason.

``memory_budget`` (as ``fit``'s) is shared as follows (``B`` the budget): a
quarter for the rows read and converted at once, a quarter for the number
columns' value samples (both tables), half for the three row samples. Not
counted: category counts and contingency cells (one entry per distinct value
or cell), and the row-level metrics' work on the samples, which grows with the
samples, not with the tables.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from synthkit.errors import DataError, EvaluationError, ParameterError
from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.data import EvaluationData, _check_same_columns, _prepared, row_hashes
from synthkit.evaluation.fidelity import ColumnPairTrends, ColumnShapes
from synthkit.evaluation.leaks import IdentifierLeak
from synthkit.evaluation.report import Report
from synthkit.evaluation.streamed_statistics import (
    Codebook,
    ColumnStatistics,
    PairStatistics,
    column_pair_trends,
    column_shapes,
)
from synthkit.generators.streamed import _plan, _row_sample
from synthkit.generators.streamed_budget import DEFAULT_MEMORY_BUDGET, StreamPlan, parse_memory
from synthkit.generators.streamed_source import StreamSource, as_source, is_streamed
from synthkit.metadata import Metadata
from synthkit.schema.records import RecordDataset
from synthkit.schema.sequences import SequenceDataset

__all__ = ["evaluate_streamed", "streams"]

_SIDES = ("real", "synthetic", "holdout")
# Row samples smaller than this make the row-level metrics meaningless.
_MIN_SAMPLE_ROWS = 1_000


def streams(real: Any, synthetic: Any, holdout: Any = None) -> bool:
    """Whether ``evaluate`` should stream: any input names Parquet files or is a batch source.

    Example:
        >>> streams("real/*.parquet", pd.DataFrame()), streams(pd.DataFrame(), pd.DataFrame())
        (True, False)
    """
    return any(is_streamed(value) for value in (real, synthetic, holdout) if value is not None)


def evaluate_streamed(
    real: Any,
    synthetic: Any,
    holdout: Any = None,
    target: str | None = None,
    metadata: Metadata | None = None,
    metrics: Sequence[str | Metric] | None = None,
    *,
    random_state: int = 0,
    max_rows: int = 10_000,
    model: Any | None = None,
    context: Any = None,
    memory_budget: int | str | None = None,
    sample_rows: int | None = None,
) -> Report:
    """Evaluate tables read in record batches, holding at most ``memory_budget`` of them.

    ``synthkit.evaluate`` calls this when any input is streamed; a DataFrame
    given for another input is streamed from memory alongside.

    Args:
        real: Parquet files (path, glob, directory or list; local or fsspec), a
            ``synthkit.batch_source(...)``, or a DataFrame.
        synthetic: As ``real``.
        holdout: As ``real``, or ``None``.
        target: The label column for utility metrics.
        metadata: Column kinds; detected from the real row sample when omitted.
        metrics: As for ``evaluate``.
        random_state: Seed of the row samples, the value samples and every metric.
        max_rows: As for ``evaluate``, within the row samples.
        model: The fitted model, for the likelihood attack (on the samples).
        context: Sequences only; refused here.
        memory_budget: Bytes, or text such as ``"256MB"`` (default 256 MB).
        sample_rows: Rows of each table's row sample (default ``5 * max_rows``),
            fewer where half the budget cannot hold three of them.

    Returns:
        The :class:`Report`; ``meta["streamed"]`` says what is exact and what is sampled.

    Raises:
        EvaluationError: For sequences or related tables, an empty source,
            columns that differ between sources, or a holdout copied from the
            training rows.
        ParameterError: For a budget too small for the row samples.

    Example:
        >>> import tempfile, pathlib, synthkit
        >>> from synthkit.datasets import load_adult
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> adult = load_adult("train").head(3000)
        >>> synthkit.save(adult.iloc[:2000], folder / "real.parquet", row_group_size=500)
        >>> synthkit.save(adult.iloc[2000:], folder / "synthetic.parquet")
        >>> report = evaluate_streamed(folder / "real.parquet", folder / "synthetic.parquet",
        ...                            metrics=["column_shapes", "exact_match_rate"],
        ...                            memory_budget="16MB")
        >>> report.meta["rows"], report["exact_match_rate"]
        ({'real': 2000, 'synthetic': 1000, 'holdout': None}, 0.0)
    """
    from synthkit.evaluation.evaluate import _resolve

    _refuse_other_shapes(real, synthetic, holdout, context)
    chosen = _resolve(metrics)  # unknown names fail before any pass
    budget = parse_memory(DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget)
    given = {"real": real, "synthetic": synthetic, "holdout": holdout}
    sources = {side: _source(side, value) for side, value in given.items() if value is not None}
    probes = {side: _probe(side, source) for side, source in sources.items()}
    for side in ("synthetic", "holdout"):
        if side in probes:
            _check_same_columns(side, probes["real"], probes[side])
    try:
        plan = _plan(sources["real"], budget, metadata)
    except DataError as error:
        raise EvaluationError(str(error)) from None
    size = _sample_size(plan, sample_rows, max_rows, len(sources))
    seeds = np.random.SeedSequence(random_state).spawn(len(_SIDES))
    samples = {
        side: _row_sample(
            source,
            dataclasses.replace(plan, detection_rows=size),
            int(seeds[_SIDES.index(side)].generate_state(1)[0]),
        )
        for side, source in sources.items()
    }
    if "holdout" in samples:
        # Labels apart from the real sample's, so EvaluationData compares values only.
        samples["holdout"].index = samples["holdout"].index + len(samples["real"])
    data = EvaluationData(
        samples["real"],
        samples["synthetic"],
        holdout=samples.get("holdout"),
        target=target,
        metadata=metadata,
        random_state=random_state,
        max_rows=max_rows,
        model=model,
    )
    stream = _Stream(data, sources, plan)
    value_sample = StreamPlan.for_rows(budget, plan.row_bytes, 2 * len(data.numeric_columns))
    firsts = {
        side: stream.columns(side, value_sample.sample_size, int(seeds[i].generate_state(2)[1]))
        for i, side in enumerate(("real", "synthetic"))
    }
    n_rows = {side: firsts[side].n_rows for side in firsts}
    if "holdout" in sources:
        n_rows["holdout"] = stream.count_rows("holdout")
    sampling = {
        f"{side} rows (streamed sample)": f"{len(samples[side]):,} of {n_rows[side]:,} rows"
        for side in samples
        if len(samples[side]) < n_rows[side]
    }
    with_pairs = any(type(metric) is ColumnPairTrends for metric in chosen)
    copies = stream.match_hashes(firsts, with_pairs)
    if data.holdout is not None:
        _check_holdout_is_new(data, copies)
    # Exact-match metrics look their sampled rows up among every real row's hash.
    data.cached("hash real", lambda: copies)
    return _report(data, chosen, metrics is not None, stream, firsts, n_rows, sampling, size)


class _Stream:
    """The passes over the real and synthetic sources, in ``EvaluationData``'s column forms."""

    def __init__(self, data: EvaluationData, sources: dict[str, StreamSource], plan: StreamPlan):
        self.data = data
        self.sources = sources
        self.plan = plan
        self.passes = {side: 1 for side in sources}  # the row sample's pass
        self.codebooks = {column: Codebook() for column in data.discrete_columns}
        self._pairs: dict[str, PairStatistics] = {}

    def frames(self, side: str) -> Iterator[pd.DataFrame]:
        self.passes[side] += 1
        for frame in self.sources[side].frames(self.plan.read_rows):
            yield _prepared(frame, self.data.columns, self.data.kinds, side)

    def count_rows(self, side: str) -> int:
        """Rows of a source: from Parquet footers, or by one more pass over a batch source."""
        known = getattr(self.sources[side], "n_rows", None)
        if known is not None:
            return int(known)
        self.passes[side] += 1
        return sum(batch.num_rows for batch in self.sources[side].batches(self.plan.read_rows))

    def columns(self, side: str, sample_size: int, seed: int) -> ColumnStatistics:
        statistics = ColumnStatistics(
            self.data.numeric_columns, self.data.discrete_columns, sample_size, seed
        )
        for frame in self.frames(side):
            statistics.update(frame)
        return statistics

    def pairs(self, side: str, first: ColumnStatistics) -> PairStatistics:
        """Pair statistics; the real side's were gathered with the row hashes."""
        if side not in self._pairs:
            self._pairs[side] = PairStatistics(self.data.columns, first, self.codebooks)
            for frame in self.frames(side):
                self._pairs[side].update(frame)
        return self._pairs[side]

    def match_hashes(self, firsts: dict[str, ColumnStatistics], with_pairs: bool) -> np.ndarray:
        """Hashes of the real rows equal to a sampled synthetic or holdout row (all real rows).

        The real table's pair statistics are gathered in the same pass when they are needed.
        """
        wanted = [row_hashes(self.data.synthetic)]
        if self.data.holdout is not None:
            wanted.append(row_hashes(self.data.holdout))
        lookup = np.unique(np.concatenate(wanted))
        pairs = PairStatistics(self.data.columns, firsts["real"], self.codebooks)
        found = []
        for frame in self.frames("real"):
            if with_pairs:
                pairs.update(frame)
            hashes = row_hashes(frame)
            found.append(np.unique(hashes[np.isin(hashes, lookup)]))
        if with_pairs:
            self._pairs["real"] = pairs
        return np.unique(np.concatenate(found)) if found else np.empty(0, np.uint64)


def _report(
    data: EvaluationData,
    chosen: list[Metric],
    explicit: bool,
    stream: _Stream,
    firsts: dict[str, ColumnStatistics],
    n_rows: dict[str, int],
    sampling: dict[str, str],
    size: int,
) -> Report:
    from synthkit.evaluation.evaluate import run_metrics

    def not_applicable(metric: Metric) -> str | None:
        if isinstance(metric, IdentifierLeak):
            return (
                "compares whole columns' rare values, which a streamed evaluation does not "
                "hold (in a row sample common values look rare); evaluate frames for it"
            )
        return metric.not_applicable(data)

    def score(metric: Metric) -> MetricResult:
        if type(metric) is ColumnShapes:
            plotted = (data.real, data.synthetic)
            return column_shapes(
                firsts["real"], firsts["synthetic"], data.columns, plotted, data.excluded
            )
        if type(metric) is ColumnPairTrends:
            real = (firsts["real"], stream.pairs("real", firsts["real"]))
            synthetic = (firsts["synthetic"], stream.pairs("synthetic", firsts["synthetic"]))
            return column_pair_trends(metric, real, synthetic, data.excluded)
        return metric.score(data)

    def describe(metric: Metric, result: MetricResult) -> dict[str, object]:
        unit = {"unit": "row"} if metric.category == "privacy" else {}
        return {**unit, "streamed": _how(metric, data, n_rows)}

    results, info, skipped, seconds = run_metrics(
        chosen,
        explicit=explicit,
        not_applicable=not_applicable,
        score=score,
        describe=describe,
    )
    meta: dict[str, Any] = {
        "rows": {side: n_rows.get(side) for side in _SIDES},
        "scored_columns": data.columns,
        "excluded_columns": data.excluded,
        "kinds": data.kinds,
        "target": data.target,
        "random_state": data.random_state,
        "max_rows": data.max_rows,
        "streamed": {
            "memory_budget": stream.plan.budget,
            "read_rows": stream.plan.read_rows,
            "sample_rows": size,
            "value_sample_size": next(iter(firsts["real"].sketches.values())).sample_size
            if firsts["real"].sketches
            else None,
            "passes": dict(stream.passes),
            "exact": [
                "column_shapes (categories; numbers with at most 10,000 distinct values)",
                "column_pair_trends",
                "exact_match_rate lookups (against every real row)",
            ],
            "approximate": (
                "column_shapes of number columns with more than 10,000 distinct values: from "
                "a seeded uniform sample of their values, within the per-column error_bound "
                "(details) with probability 1 - error_probability"
            ),
            "sampled": (
                "every other metric runs on seeded uniform row samples of each table "
                "(sizes in meta['sampling']); exact_match_rate queries the synthetic sample"
            ),
        },
    }
    meta["sampling"] = {**sampling, **data.sampling}
    meta["seconds"] = seconds
    return Report(results, info, skipped, meta)


def _how(metric: Metric, data: EvaluationData, n_rows: dict[str, int]) -> str:
    if type(metric) in (ColumnShapes, ColumnPairTrends):
        return "every row, streamed"
    if metric.name in ("exact_match_rate", "exact_match_rate_holdout"):
        queried = "synthetic" if metric.name == "exact_match_rate" else "holdout"
        return (
            f"{len(getattr(data, queried)):,} sampled {queried} rows looked up among all "
            f"{n_rows['real']:,} real rows"
        )
    return "seeded uniform row samples (meta['sampling'])"


def _check_holdout_is_new(data: EvaluationData, copies: np.ndarray) -> None:
    share = float(np.isin(row_hashes(data.holdout), copies).mean())
    if share > 0.5:
        raise EvaluationError(
            f"The holdout overlaps the training rows: {share:.0%} of sampled holdout rows are "
            "identical to a training row. The holdout must be real rows the generator never saw."
        )


def _refuse_other_shapes(real: Any, synthetic: Any, holdout: Any, context: Any) -> None:
    others = (SequenceDataset, RecordDataset, Mapping)
    named = [
        side
        for side, value in zip(_SIDES, (real, synthetic, holdout), strict=True)
        if isinstance(value, others)
    ]
    if named or context is not None:
        raise EvaluationError(
            f"A streamed evaluation scores single tables; {', '.join(named) or 'context'} "
            "holds sequences or related tables. Evaluate those in memory: pass "
            "SequenceDatasets or RecordDatasets built from frames (synthkit.load(...)) "
            "for real, synthetic and holdout."
        )


def _source(side: str, value: Any) -> StreamSource:
    """The stream of one input: Parquet files and batch sources as ``fit`` reads them."""
    if isinstance(value, pd.DataFrame):
        from synthkit.generators.streamed_source import BatchSource

        table = pa.Table.from_pandas(value, preserve_index=False)
        return BatchSource(lambda: table.to_batches(), name=f"the {side} frame")
    if not is_streamed(value) and not isinstance(value, (str, os.PathLike, list, tuple)):
        raise EvaluationError(
            f"{side} is a {type(value).__name__}; pass Parquet files (a path, glob, directory "
            "or list), a synthkit.batch_source(...) or a DataFrame."
        )
    try:
        return as_source(value)
    except DataError as error:
        raise EvaluationError(f"The {side} source: {error}") from None


def _probe(side: str, source: StreamSource) -> pd.DataFrame:
    """The source's first rows; an empty source is refused, naming it."""
    try:
        frames = source.frames(64)
        first = next(frames, None)
        frames.close()
    except DataError as error:
        raise EvaluationError(f"The {side} source: {error}") from None
    if first is None or not len(first):
        raise EvaluationError(
            f"The {side} source has no rows; pass a source with data (check the path or glob)."
        )
    return first


def _sample_size(plan: StreamPlan, sample_rows: int | None, max_rows: int, sides: int) -> int:
    """Rows of each row sample: as asked (default ``5 * max_rows``), within half the budget."""
    if sample_rows is not None and (
        isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 100
    ):
        raise ParameterError(f"sample_rows={sample_rows!r} must be an int >= 100.")
    wanted = 5 * max_rows if sample_rows is None else sample_rows
    held = plan.budget // 2 // sides // plan.row_bytes
    if held < min(wanted, _MIN_SAMPLE_ROWS):
        need = 2 * sides * min(wanted, _MIN_SAMPLE_ROWS) * plan.row_bytes
        raise ParameterError(
            f"memory_budget={plan.budget:,} bytes holds row samples of {held} rows, fewer than "
            f"{min(wanted, _MIN_SAMPLE_ROWS)}; raise it to at least {need:,} bytes."
        )
    return int(min(wanted, held))
