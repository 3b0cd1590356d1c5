"""``evaluate``: run the requested metrics on one real/synthetic pair and build a Report."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from synthkit.errors import EvaluationError
from synthkit.evaluation.base import METRICS, Metric, MetricResult, metric_names
from synthkit.evaluation.data import EvaluationData
from synthkit.evaluation.report import Report
from synthkit.evaluation.sequences import SequenceEvaluationData
from synthkit.metadata import Metadata
from synthkit.schema.records import RecordDataset
from synthkit.schema.sequences import SequenceDataset

__all__ = ["evaluate", "run_metrics"]


def evaluate(
    real: pd.DataFrame | SequenceDataset | RecordDataset,
    synthetic: pd.DataFrame | SequenceDataset | RecordDataset | Mapping[str, pd.DataFrame],
    holdout: pd.DataFrame | SequenceDataset | RecordDataset | None = None,
    target: str | None = None,
    metadata: Metadata | None = None,
    metrics: Sequence[str | Metric] | None = None,
    *,
    random_state: int = 0,
    max_rows: int = 10_000,
    model: Any | None = None,
    context: pd.DataFrame | Mapping[str, pd.DataFrame | None] | None = None,
    memory_budget: int | str | None = None,
    sample_rows: int | None = None,
) -> Report:
    """Score how close, safe and useful ``synthetic`` is with respect to ``real``.

    Tables are scored row by row. Sequences (:class:`~synthkit.SequenceDataset`
    inputs: entities with event histories) are scored by entity: per-column
    shapes of event and context columns, lengths, gaps and coherence of the
    histories, and detection and privacy on one feature vector per entity, so
    the unit of privacy is an entity with all its events. Related tables
    (:class:`~synthkit.RecordDataset` inputs) are scored per table, per
    relationship and across tables (keys, children per parent, inter-table and
    k-hop trends), privacy on one feature vector per root entity (see
    :func:`~synthkit.evaluation.records.evaluate_records`). Metrics that do not
    apply to the data's shape are skipped with the reason.

    Args:
        real: The real rows (or sequences) the generator was fitted on.
        synthetic: The synthetic rows (or sequences).
        holdout: Real rows the generator never saw; privacy metrics and utility need
            it. For sequences, other entities than ``real``'s (split by entity).
        target: The label column for utility (train on synthetic, test on real).
            For sequences, a context column (one label per entity), predicted
            from per-entity features by the ``entity_*`` utility metrics.
        metadata: Column kinds; detected from ``real`` when omitted. Columns of
            kind id, pii and text are not scored (the report lists them).
        metrics: Names or :class:`Metric` instances; default every registered
            metric, skipping (with the reason) those whose inputs are missing.
        random_state: Seed for every subsample and model.
        max_rows: Cap on the rows a nearest-neighbour query side or detection
            classifier uses; sizes actually used are in ``report.meta["sampling"]``.
        model: The fitted model that made ``synthetic``; with a holdout, models
            that declare ``log_prob`` (``flow``, ``autoregressive``) also get the
            likelihood membership attack, which sees the model, not only its rows;
            for other models it is skipped with the reason.
        context: Sequences only: the real entities' context (one row per entity,
            keyed by the sequence key; training and holdout entities in one table,
            split by the holdout's keys), or a dict with ``"real"``, ``"synthetic"``
            and ``"holdout"`` tables. A side left out is read from that input's
            ``.context`` (as :class:`~synthkit.SequenceSynthesizer` samples carry).
            Entities of a context without events count as histories of length 0.
        memory_budget: Streamed tables only (any input given as Parquet files, a
            path, glob, directory or list, or a ``synthkit.batch_source(...)``):
            bytes, or text such as ``"256MB"``, of the tables held at once
            (default 256 MB). Column shapes and pair trends then read every row;
            other metrics run on seeded row samples (see
            :func:`~synthkit.evaluation.streamed.evaluate_streamed`).
        sample_rows: Streamed tables only: rows of each table's row sample
            (default ``5 * max_rows``, fewer where the budget cannot hold them).

    Returns:
        The :class:`Report`.

    Raises:
        EvaluationError: For inputs that cannot be scored (a sequence holdout split
            by row rather than by entity among them), or a named metric whose
            requirements (holdout, target) are missing or that does not apply to
            the data's shape.
        UnknownNameError: For a metric name that is not registered.

    Example:
        >>> import synthkit
        >>> from synthkit.datasets import load_adult
        >>> real = load_adult("train").head(2000)
        >>> report = synthkit.evaluate(real, real, metrics=["column_shapes", "column_pair_trends"])
        >>> report.to_dict()
        {'column_shapes': 1.0, 'column_pair_trends': 1.0}

        Sequences, with a holdout of other entities:

        >>> events = pd.DataFrame({"user": [1, 1, 2, 2, 2, 3, 4, 4],
        ...                        "day": [1, 3, 2, 2, 5, 4, 1, 6],
        ...                        "shop": list("abbaabab")})
        >>> train = synthkit.SequenceDataset(events[events.user <= 2], "user", "day")
        >>> hold = synthkit.SequenceDataset(events[events.user > 2], "user", "day")
        >>> report = synthkit.evaluate(train, train, holdout=hold,
        ...                            metrics=["length_similarity", "exact_match_rate"])
        >>> report.to_dict(), report.info["exact_match_rate"]["unit"]
        ({'length_similarity': 1.0, 'exact_match_rate': 1.0}, 'entity')
    """
    from synthkit.evaluation.streamed import evaluate_streamed, streams

    if streams(real, synthetic, holdout):
        return evaluate_streamed(
            real,
            synthetic,
            holdout,
            target,
            metadata,
            metrics,
            random_state=random_state,
            max_rows=max_rows,
            model=model,
            context=context,
            memory_budget=memory_budget,
            sample_rows=sample_rows,
        )
    if memory_budget is not None or sample_rows is not None:
        raise EvaluationError(
            "memory_budget and sample_rows apply to streamed evaluation (Parquet paths, a "
            "glob, a directory or a synthkit.batch_source(...)); drop them for in-memory data."
        )
    if isinstance(real, RecordDataset):
        return _records(
            real,
            synthetic,
            holdout,
            target,
            metadata,
            metrics,
            model,
            context,
            random_state=random_state,
            max_rows=max_rows,
        )
    sequences = isinstance(real, SequenceDataset)
    if not sequences:
        if isinstance(synthetic, (RecordDataset, Mapping)) or isinstance(holdout, RecordDataset):
            raise EvaluationError(
                "synthetic (or holdout) is a database of related tables but real is not; pass "
                "the real database as a RecordDataset too."
            )
        for name, value in (("synthetic", synthetic), ("holdout", holdout)):
            if isinstance(value, SequenceDataset):
                raise EvaluationError(
                    f"{name} is a SequenceDataset but real is not; pass the real sequences "
                    "as a SequenceDataset too, or tables for all three."
                )
        if context is not None:
            raise EvaluationError(
                "context applies to sequences only; pass SequenceDatasets, or drop context."
            )
    if sequences:
        data: EvaluationData | SequenceEvaluationData = SequenceEvaluationData(
            real,
            synthetic,
            holdout=holdout,
            context=context,
            metadata=metadata,
            random_state=random_state,
            max_rows=max_rows,
            model=model,
            target=target,
        )
        return _run(data, metrics, _sequence_meta(data, random_state, max_rows))
    data = EvaluationData(
        real,
        synthetic,
        holdout=holdout,
        target=target,
        metadata=metadata,
        random_state=random_state,
        max_rows=max_rows,
        model=model,
    )
    meta = {
        "rows": {
            "real": len(real),
            "synthetic": len(synthetic),
            "holdout": None if holdout is None else len(holdout),
        },
        "scored_columns": data.columns,
        "excluded_columns": data.excluded,
        "kinds": data.kinds,
        "target": target,
        "random_state": random_state,
        "max_rows": max_rows,
    }
    return _run(data, metrics, meta)


def _records(
    real: RecordDataset,
    synthetic: Any,
    holdout: Any,
    target: str | None,
    metadata: Metadata | None,
    metrics: Sequence[str | Metric] | None,
    model: Any | None,
    context: Any,
    **settings: int,
) -> Report:
    from synthkit.evaluation.records import evaluate_records

    given = {"target": target, "metadata": metadata, "model": model, "context": context}
    unused = [name for name, value in given.items() if value is not None]
    if unused:
        raise EvaluationError(
            f"{', '.join(unused)} do not apply to databases of related tables (each table's "
            "kinds come from the RecordDataset's metadata); drop them."
        )
    return evaluate_records(real, synthetic, holdout, metrics, **settings)


def _run(
    data: EvaluationData | SequenceEvaluationData,
    metrics: Sequence[str | Metric] | None,
    meta: dict[str, Any],
) -> Report:
    sequences = isinstance(data, SequenceEvaluationData)

    def not_applicable(metric: Metric) -> str | None:
        reason = metric.not_applicable(data)
        if reason is None and sequences and metric.sequence_view == "entities":
            reason = metric.not_applicable(data.entities)
        return reason

    def describe(metric: Metric, result: MetricResult) -> dict[str, object]:
        if sequences:
            return _sequence_info(metric)
        return {"unit": "row"} if metric.category == "privacy" else {}

    results, info, skipped, seconds = run_metrics(
        _resolve(metrics),
        explicit=metrics is not None,
        not_applicable=not_applicable,
        score=data.score if sequences else lambda metric: metric.score(data),
        describe=describe,
    )
    meta["sampling"] = dict(data.sampling)
    meta["seconds"] = seconds
    return Report(results, info, skipped, meta)


def run_metrics(
    chosen: Sequence[Metric],
    *,
    explicit: bool,
    not_applicable: Callable[[Metric], str | None],
    score: Callable[[Metric], MetricResult],
    describe: Callable[[Metric, MetricResult], Mapping[str, object]],
    keep_going: bool = False,
) -> tuple[dict[str, MetricResult], dict[str, dict[str, object]], dict[str, str], dict[str, float]]:
    """Score each metric that applies; the loop every data shape's evaluation shares.

    Args:
        chosen: The metrics to run, in order.
        explicit: Whether the user named them: then a metric that does not
            apply raises instead of being skipped with its reason.
        not_applicable: Why a metric cannot be scored on this data, or None.
        score: Scores one metric.
        describe: Entries added to (or replacing) a scored metric's info: its
            unit, an explanation in the data's words.
        keep_going: On a default run, a metric whose scoring raises
            ``EvaluationError`` is skipped with the error as its reason, so the
            other scores are kept.

    Returns:
        Results, info and skip reasons by metric name, and seconds per metric.

    Raises:
        EvaluationError: For a named metric that does not apply (or fails).

    Example:
        >>> from synthkit.evaluation.base import METRICS
        >>> real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
        >>> data = EvaluationData(real, real.copy())
        >>> results, info, skipped, _ = run_metrics(
        ...     [METRICS.get("column_shapes")()], explicit=True,
        ...     not_applicable=lambda m: m.not_applicable(data),
        ...     score=lambda m: m.score(data), describe=lambda m, r: {})
        >>> round(results["column_shapes"].value, 3), info["column_shapes"]["direction"], skipped
        (1.0, 'higher', {})
    """
    results: dict[str, MetricResult] = {}
    info: dict[str, dict[str, object]] = {}
    skipped: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for metric in chosen:
        reason = not_applicable(metric)
        if reason:
            if explicit:
                raise EvaluationError(f"Metric {metric.name!r} {reason}.")
            skipped[metric.name] = reason
            continue
        start = time.perf_counter()
        try:
            result = score(metric)
        except EvaluationError as error:
            if explicit or not keep_going:
                raise
            skipped[metric.name] = str(error)
            continue
        results[metric.name] = result
        seconds[metric.name] = round(time.perf_counter() - start, 3)
        info[metric.name] = {
            "category": metric.category,
            "direction": metric.direction,
            "explanation": metric.explanation,
            "requires": list(metric.requires),
            "params": metric.get_params(),
            **describe(metric, result),
        }
    return results, info, skipped, seconds


def _sequence_info(metric: Metric) -> dict[str, str]:
    """The unit a metric compares on sequences, and its explanation in those words."""
    if metric.sequence_view == "entities":
        # Table metrics speak of rows; on sequences each of their rows is an entity.
        words = re.sub(r"\brows\b", "entities", metric.explanation)
        words = re.sub(r"\brow\b", "entity", words)
        return {
            "unit": "entity",
            "explanation": f"{words} Unit: an entity with all its events (a feature vector).",
        }
    if metric.sequence_view == "tables":
        return {"unit": "event (event columns) and entity (context columns)"}
    return {"unit": "entity"}


def _sequence_meta(
    data: SequenceEvaluationData, random_state: int, max_rows: int
) -> dict[str, Any]:
    sides = [s for s in ("real", "synthetic", "holdout") if data.sequences[s] is not None]
    return {
        "shape": "sequences",
        "unit": "entity",
        "sequence_key": data.key,
        "sequence_index": data.index,
        "rows": {s: len(data.sequences[s]) if s in sides else None for s in data.sequences},
        "entities": {s: len(data.lengths(s)) if s in sides else None for s in data.sequences},
        "scored_columns": data.events.columns,
        "context_columns": [] if data.context is None else data.context.columns,
        "entity_features": data.entities.columns,
        "excluded_columns": data.events.excluded,
        "kinds": data.events.kinds,
        "target": data.target,
        "random_state": random_state,
        "max_rows": max_rows,
    }


def _resolve(metrics: Sequence[str | Metric] | None) -> list[Metric]:
    if metrics is None:
        return [METRICS.get(name)() for name in metric_names()]
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    resolved: list[Metric] = []
    for entry in metrics:
        if isinstance(entry, Metric):
            resolved.append(entry)
        elif isinstance(entry, str):
            resolved.append(METRICS.get(entry)())
        else:
            raise EvaluationError(
                f"metrics must hold metric names or Metric instances; got {entry!r}."
            )
    names = [m.name for m in resolved]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise EvaluationError(f"metrics names {repeated} more than once; list each metric once.")
    return resolved
