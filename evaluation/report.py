"""The evaluation Report: scores with direction and explanation, JSON, a table, HTML and gates."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthkit._files import atomic_write_text
from synthkit.errors import EvaluationError, ParameterError
from synthkit.evaluation.base import METRICS, MetricResult, is_better

__all__ = ["Gate", "GateResults", "Report"]

_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Gate:
    """The outcome of one threshold check.

    Attributes:
        metric: The metric name.
        value: Its score (``nan`` when it was not computed).
        threshold: A number (read in the metric's direction) or a ``(low, high)`` range.
        passed: Whether the score meets the threshold.
        reason: Why it failed, in words.
    """

    metric: str
    value: float
    threshold: float | tuple[float, float]
    passed: bool
    reason: str = ""


class GateResults(dict):
    """Gates by metric name; ``passed`` is true when every gate passed."""

    @property
    def passed(self) -> bool:
        """Whether every gate passed."""
        return all(gate.passed for gate in self.values())

    @property
    def failures(self) -> list[Gate]:
        """The gates that failed."""
        return [gate for gate in self.values() if not gate.passed]


class Report:
    """Scores of one evaluation, with what each means and how it was computed.

    Args:
        results: Metric name to its :class:`MetricResult`.
        info: Metric name to ``{"category", "direction", "explanation", "requires"}``.
        skipped: Metric name to the reason it was not computed.
        meta: How the evaluation ran (row counts, columns left out, subsample sizes).

    Example:
        >>> import pandas as pd, synthkit
        >>> real = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": list("abab")})
        >>> report = synthkit.evaluate(real, real, metrics=["column_shapes"])
        >>> report.to_dict()
        {'column_shapes': 1.0}
        >>> report.check({"column_shapes": 0.9}).passed
        True
    """

    def __init__(
        self,
        results: Mapping[str, MetricResult],
        info: Mapping[str, Mapping[str, Any]],
        skipped: Mapping[str, str] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.results = dict(results)
        self.info = {name: dict(entry) for name, entry in info.items()}
        self.skipped = dict(skipped or {})
        self.meta = dict(meta or {})

    # ----------------------------------------------------------------- access
    def to_dict(self) -> dict[str, float]:
        """Map metric name to score."""
        return {name: result.value for name, result in self.results.items()}

    @property
    def details(self) -> dict[str, dict[str, Any]]:
        """Map metric name to its breakdown (per column, pair, attack or model)."""
        return {name: result.details for name, result in self.results.items()}

    @property
    def intervals(self) -> dict[str, tuple[float, float]]:
        """Map metric name to its confidence interval, for metrics that have one."""
        return {n: r.interval for n, r in self.results.items() if r.interval is not None}

    def __getitem__(self, name: str) -> float:
        if name not in self.results:
            raise KeyError(self._missing(name))
        return self.results[name].value

    def __contains__(self, name: object) -> bool:
        return name in self.results

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={_short(value)}" for name, value in self.to_dict().items())
        return f"Report({shown})"

    def to_frame(self) -> pd.DataFrame:
        """One row per metric: category, score, interval, direction and explanation."""
        rows = []
        for name, result in self.results.items():
            info = self.info.get(name, {})
            low, high = result.interval if result.interval is not None else (np.nan, np.nan)
            rows.append(
                {
                    "metric": name,
                    "category": info.get("category"),
                    "value": result.value,
                    "low": low,
                    "high": high,
                    "direction": info.get("direction"),
                    "explanation": info.get("explanation"),
                }
            )
        return pd.DataFrame(
            rows,
            columns=["metric", "category", "value", "low", "high", "direction", "explanation"],
        ).set_index("metric")

    def by_table(self) -> pd.DataFrame:
        """Databases of related tables: one row per table, one column per metric scored per table.

        Example:
            >>> Report({"column_shapes": MetricResult(0.9, details={"per_table": {"a": 0.9}})},
            ...        {}).by_table()
                   column_shapes
            table
            a                0.9
        """
        return self._breakdown("per_table", "table")

    def by_relationship(self) -> pd.DataFrame:
        """Databases of related tables: one row per relationship (``child.key -> parent``).

        Columns are the metrics scored per relationship (integrity, cardinality,
        trends, coherence); :meth:`to_dict` holds their worst or mean value.
        """
        return self._breakdown("per_relationship", "relationship")

    def _breakdown(self, key: str, label: str) -> pd.DataFrame:
        columns = {
            name: result.details[key]
            for name, result in self.results.items()
            if isinstance(result.details.get(key), Mapping)
        }
        frame = pd.DataFrame(columns, dtype=float)
        frame.index.name = label
        return frame

    # ------------------------------------------------------------------ gates
    def check(self, thresholds: Mapping[str, float | tuple[float, float]]) -> GateResults:
        """Check scores against thresholds, for pipelines.

        A number is read in the metric's direction: a minimum for "higher is
        better", a maximum for "lower is better", and a largest allowed distance
        from the best value for metrics with a target value (``dcr_share: 0.55``
        passes 0.45 to 0.55). A ``(low, high)`` pair is an explicit range.

        Args:
            thresholds: Metric name to threshold.

        Returns:
            Gates by metric name; ``.passed`` is true when all pass.

        Raises:
            UnknownNameError: For a name no metric has.
            ParameterError: For a threshold that is not a number or a pair.

        Example:
            >>> report = Report({"dcr_share": MetricResult(0.53)},
            ...                 {"dcr_share": {"direction": 0.5}})
            >>> gates = report.check({"dcr_share": 0.55})
            >>> gates.passed, gates["dcr_share"].reason
            (True, '')
        """
        if not isinstance(thresholds, Mapping):
            raise ParameterError(
                "thresholds must be a dict of metric name to threshold, "
                f"got {type(thresholds).__name__}."
            )
        gates = GateResults()
        for name, threshold in thresholds.items():
            if name not in self.results and name not in self.skipped and name not in self.info:
                METRICS.canonical(name)
            gates[name] = self._gate(name, threshold)
        return gates

    def _gate(self, name: str, threshold: Any) -> Gate:
        bounds = _threshold(name, threshold)
        if name not in self.results:
            reason = f"not computed ({self.skipped.get(name, 'not requested')})"
            return Gate(name, float("nan"), bounds, False, reason)
        value = self.results[name].value
        if isinstance(bounds, tuple):
            passed = not math.isnan(value) and bounds[0] <= value <= bounds[1]
            reason = "" if passed else f"{_short(value)} is outside [{bounds[0]}, {bounds[1]}]"
            return Gate(name, value, bounds, passed, reason)
        direction = self.info.get(name, {}).get("direction", "higher")
        if direction == "reference":
            raise ParameterError(
                f"{name!r} is a baseline, not a score with a direction; gate it with a "
                f"(low, high) pair, e.g. {{{name!r}: (0.0, {bounds})}}."
            )
        passed = is_better(direction, value, bounds)
        reason = (
            ""
            if passed
            else f"{_short(value)} does not meet {bounds} ({_direction_words(direction)})"
        )
        return Gate(name, value, bounds, passed, reason)

    # ------------------------------------------------------------ persistence
    def to_json(self, path: str | Path | None = None) -> str:
        """Return the report as JSON text (nan as null), also written atomically to ``path``."""
        payload = {
            "format_version": _FORMAT_VERSION,
            "scores": self.to_dict(),
            "metrics": {
                name: {
                    **self.info.get(name, {}),
                    "value": result.value,
                    "interval": result.interval,
                    "details": result.details,
                }
                for name, result in self.results.items()
            },
            "skipped": self.skipped,
            "meta": self.meta,
        }
        text = json.dumps(_jsonable(payload), indent=2, allow_nan=False)
        if path is not None:
            atomic_write_text(Path(path), text)
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> Report:
        """Read a report written by :meth:`to_json` (a path or the JSON text)."""
        text = str(source)
        try:
            if not text.lstrip().startswith("{"):
                text = Path(source).read_text(encoding="utf-8")
            payload = json.loads(text)
            results, info = {}, {}
            for name, entry in payload["metrics"].items():
                value = entry.pop("value")
                interval = entry.pop("interval")
                details = entry.pop("details")
                results[name] = MetricResult(
                    float("nan") if value is None else float(value),
                    None if interval is None else (interval[0], interval[1]),
                    details,
                )
                info[name] = entry
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise EvaluationError(
                f"Cannot read a report from {str(source)[:200]!r}: {error}."
            ) from error
        return cls(results, info, payload.get("skipped"), payload.get("meta"))

    def to_html(self, path: str | Path | None = None) -> str:
        """Render one self-contained HTML page (inline SVG plots), also written to ``path``.

        The page has a scorecard, per-column distributions real against
        synthetic, a heatmap of pairwise trend differences, the privacy figures
        with their intervals and the utility table.
        """
        from synthkit.evaluation.html import render

        page = render(self)
        if path is not None:
            atomic_write_text(Path(path), page)
        return page

    def _missing(self, name: str) -> str:
        if name in self.skipped:
            return f"{name!r} was not computed: {self.skipped[name]}."
        return f"{name!r} is not in this report; it has {sorted(self.results)}."


def _threshold(name: str, threshold: Any) -> float | tuple[float, float]:
    if isinstance(threshold, (int, float, np.integer, np.floating)) and not isinstance(
        threshold, bool
    ):
        return float(threshold)
    if (
        isinstance(threshold, (tuple, list))
        and len(threshold) == 2
        and all(isinstance(t, (int, float, np.integer, np.floating)) for t in threshold)
    ):
        low, high = sorted(float(t) for t in threshold)
        return (low, high)
    raise ParameterError(
        f"The threshold for {name!r} is {threshold!r}; use a number or a (low, high) pair."
    )


def _direction_words(direction: Any) -> str:
    if direction == "higher":
        return "higher is better"
    if direction == "lower":
        return "lower is better"
    return f"closest to {direction} is best"


def _short(value: float) -> str:
    return (
        "nan"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.4g}"
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if value is None or isinstance(value, str):
        return value
    return str(value)
