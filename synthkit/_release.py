"""Releases: fit, sample, evaluate and write synthetic data only when every privacy gate passes.

:func:`release` runs the whole path a privacy officer signs off: it fits a model,
samples, redraws any regenerated identifier that happens to equal a real one,
evaluates the result against a real holdout, and checks the gates. Only when every
gate passes does it write, atomically (files are staged in a hidden sibling
directory that is renamed at the end), a directory with the synthetic data, the
report (HTML and JSON) and a model card. When a gate fails nothing is written: no
directory and no partial file, and :class:`~synthkit.errors.ReleaseGateError` lists
each failed gate with its value and threshold; the error also carries every gate
checked (``error.gates``) and the evaluation report (``error.report``), so a refused
release can still be inspected.

Default gates (each overridable through ``gates=``; a gate whose metric could not be
computed fails rather than passing silently):

- ``exact_match_rate``: synthetic rows copying a training row are no more frequent
  than holdout rows copying one (``exact_match_rate_holdout``);
- ``dcr_share`` at most 0.55: synthetic rows are not markedly closer to training rows
  than to unseen ones;
- ``mia_auc`` at most 0.60: a distance-based membership attack does little better
  than chance;
- ``singling_out_risk``, ``linkability_risk``, ``inference_risk``: the upper bound of
  each risk's 95 % confidence interval at most 0.10 (the inference risk pools its
  secret columns, with the target as the independent unit, and needs at least 200
  holdout rows or entities; see :class:`~synthkit.evaluation.attacks.InferenceRisk`);
- ``identifier_leak`` at most 0: no string value seen only once in the training data
  is copied into the synthetic rows, whatever kind its column was given;
- ``pii_leak`` at most 0: no real value of an ``id`` or ``pii`` column appears in a
  cell of that column in the written data files, nor, for text values, as a word in
  the reports (a numeric key such as a patient number is checked in every data cell;
  the reports are made of counts and chart labels, which match such numbers by
  chance, and no metric writes an identifier's values);
- with ``save_model=True``, also ``likelihood_mia_auc`` at most 0.60 for models with a
  likelihood: the model file is an output too.

The gates bound what these attacks find on this data; they are evidence, not a
proof that no one can be re-identified. A formal guarantee comes from training
with ``epsilon=`` (differential privacy), stated in the model card with its unit.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthkit._release_subjects import (
    ReleaseSubject,
    never_learned,
    release_records,
    release_sequences,
    release_table,
)
from synthkit.errors import ParameterError, ReleaseGateError
from synthkit.metadata import Metadata
from synthkit.schema.records import RecordDataset
from synthkit.schema.sequences import SequenceDataset

__all__ = ["DEFAULT_GATES", "ReleaseResult", "release"]

#: Metric name to the largest value a release accepts. ``"holdout"`` for
#: ``exact_match_rate`` means "no more than ``exact_match_rate_holdout``".
DEFAULT_GATES: dict[str, float | str] = {
    "exact_match_rate": "holdout",
    "dcr_share": 0.55,
    "mia_auc": 0.60,
    "singling_out_risk": 0.10,
    "linkability_risk": 0.10,
    "inference_risk": 0.10,
    "identifier_leak": 0.0,
    "pii_leak": 0.0,
}
#: The extra gate on a model file written with the data.
MODEL_GATE = ("likelihood_mia_auc", 0.60)
# Risks are gated on the upper bound of their confidence interval.
_UPPER_BOUND_GATES = frozenset({"singling_out_risk", "linkability_risk", "inference_risk"})
# Real values this short are not looked for as words in the reports (too common).
_MIN_SCANNED_LENGTH = 4
_SCANNED_REPORTS = ("report.json", "report.html", "MODEL_CARD.md", "model_card.json")
_WORD = re.compile(r"[\w@.+'-]+")


@dataclass(frozen=True)
class GateCheck:
    """One gate of a release: the value compared, the largest allowed and the outcome."""

    metric: str
    value: float
    threshold: float
    passed: bool
    note: str = ""

    def line(self) -> str:
        """The gate in one line, as errors and the CLI print it."""
        verdict = "passed" if self.passed else "FAILED"
        note = f"; {self.note}" if self.note else ""
        return (
            f"{self.metric} = {self.value:.4g}, largest accepted {self.threshold:.4g}: "
            f"{verdict}{note}"
        )


@dataclass
class ReleaseResult:
    """What :func:`release` wrote.

    Attributes:
        path: The release directory.
        files: Names of the files in it.
        gates: Every gate checked, all passed.
        report: The evaluation report.
        card: The model card as a dict (also in ``model_card.json``).
    """

    path: Path
    files: list[str]
    gates: list[GateCheck]
    report: Any
    card: dict[str, Any] = field(default_factory=dict)


def release(
    real: pd.DataFrame | SequenceDataset | RecordDataset,
    output: str | Path,
    *,
    holdout: pd.DataFrame | SequenceDataset | RecordDataset,
    model: str = "ar",
    epsilon: float | None = None,
    delta: float | None = None,
    gates: Mapping[str, float | str | None] | None = None,
    n: int | None = None,
    metadata: Metadata | None = None,
    target: str | None = None,
    save_model: bool = False,
    random_state: int = 0,
    model_params: Mapping[str, Any] | None = None,
    context: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    keep: Sequence[str] = (),
) -> ReleaseResult:
    """Fit, sample, evaluate and write a synthetic release only if every gate passes.

    A table is released row by row (files ``synthetic.parquet`` and
    ``synthetic.csv``). Sequences (a :class:`~synthkit.SequenceDataset`: entities
    with event histories, optionally with one context row per entity) are released
    by entity (``events.*`` and ``context.*``): the privacy metrics and gates then
    compare whole entities, one patient with all their events being one unit. A
    database of related tables (a :class:`~synthkit.RecordDataset`) is released by root
    entity, one file pair per table (``<table>.parquet``, ``<table>.csv``); a holdout
    holds other root entities with everything hanging off them.

    Args:
        real: The real table, or the real sequences, to release a synthetic version of.
        output: A directory that must not exist yet; it appears only when every
            gate passes.
        holdout: Real rows (or entities, split by entity) of the same data the model
            never sees; the privacy metrics compare against them.
        model: Registered model name (a table model, or a sequence model for sequences).
        epsilon: Train with differential privacy at this ε (models that support it);
            ``None`` trains without.
        delta: δ of the guarantee (the model's default when ``None``).
        gates: Overrides of :data:`DEFAULT_GATES` (metric name to the largest
            accepted value; ``None`` removes a gate).
        n: Synthetic rows (entities for sequences, the scale of the top tables for
            databases); as many as ``real`` by default.
        metadata: Column kinds of a table; detected when omitted.
        target: Label column for the utility figures in the report.
        save_model: Also write the model file, gated by the likelihood attack too.
        random_state: Seed of the fit, the sample and the evaluation.
        model_params: Further constructor parameters of the model.
        context: Sequences only: one row per entity of ``real`` and ``holdout``
            (keyed by the sequence key), unless the datasets carry their own
            ``.context``: a ``{"real": ..., "holdout": ...}`` dict, or one table split
            by the holdout's keys (holdout entities without events then count as
            real ones: pass the dict to keep them in the holdout).
        keep: Databases only: public reference tables released unchanged.

    Returns:
        What was written.

    Raises:
        ReleaseGateError: When a gate fails; nothing is written then.
        ParameterError: For an existing ``output``, bad gates, ``real`` and
            ``holdout`` of different shapes, or options the data's shape lacks.

    Example:
        >>> import tempfile, pathlib, synthkit
        >>> from synthkit.datasets import load_adult
        >>> real, holdout = load_adult("train").head(800), load_adult("test").head(800)
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "release"
        >>> synthkit.release(real, out, holdout=holdout, model="tvae", gates={"dcr_share": 0.0},
        ...                  model_params={"epochs": 5, "verbose": False})
        Traceback (most recent call last):
        ...
        synthkit.errors.ReleaseGateError: The release was not written: ... gate(s) failed.
        ...
        >>> out.exists()
        False
    """
    output = Path(output)
    if output.exists():
        raise ParameterError(
            f"output={str(output)!r} already exists; a release goes to a new directory so "
            "nothing is overwritten. Choose another path or remove the old release."
        )
    thresholds = _thresholds(gates, save_model)
    params: dict[str, Any] = {"random_state": random_state, **(model_params or {})}
    if epsilon is not None:
        params["epsilon"] = epsilon
        if delta is not None:
            params["delta"] = delta
    if isinstance(real, SequenceDataset):
        subject = release_sequences(
            real, holdout, model, params, n, target, context, random_state, save_model
        )
    elif isinstance(real, RecordDataset):
        if context is not None:
            raise ParameterError("context=... belongs to sequences; a database holds its own.")
        subject = release_records(
            real, holdout, model, params, n, target, random_state, save_model, list(keep)
        )
    else:
        if context is not None:
            raise ParameterError(
                "context=... belongs to sequences; a table release takes the table alone."
            )
        subject = release_table(
            real, holdout, model, params, n, metadata, target, random_state, save_model
        )
    report = subject.report
    checks = [
        _check(report, name, limit) for name, limit in thresholds.items() if name != "pii_leak"
    ]
    if not all(check.passed for check in checks):
        raise _refused(checks, report)

    card = _model_card(subject, checks, random_state, epsilon)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        staging.chmod(0o755)  # mkdtemp's private mode would outlive the rename
        _write(staging, subject, card, save_model)
        if "pii_leak" in thresholds:
            leaks = _scan_for_real_values(staging, subject)
            check = GateCheck(
                "pii_leak",
                float(sum(leaks.values())),
                float(thresholds["pii_leak"]),
                sum(leaks.values()) <= float(thresholds["pii_leak"]),
                ", ".join(f"{where}: {count}" for where, count in leaks.items() if count),
            )
            checks.append(check)
            if not check.passed:
                raise _refused(checks, report)
            card["gates"] = [vars(c) for c in checks]
            _write_card(staging, card)
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ReleaseResult(output, sorted(p.name for p in output.iterdir()), checks, report, card)


# ------------------------------------------------------------------------- gates
def _thresholds(
    gates: Mapping[str, float | str | None] | None, save_model: bool
) -> dict[str, float | str]:
    merged: dict[str, Any] = dict(DEFAULT_GATES)
    if save_model:
        merged[MODEL_GATE[0]] = MODEL_GATE[1]
    for name, limit in (gates or {}).items():
        if limit is None:
            merged.pop(name, None)
            continue
        if name == "exact_match_rate" and limit == "holdout":
            merged[name] = limit
            continue
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or math.isnan(limit):
            raise ParameterError(
                f"gates[{name!r}]={limit!r} must be a number (the largest accepted value), "
                "or None to drop the gate."
            )
        merged[name] = float(limit)
    return merged


def _check(report: Any, name: str, limit: float | str) -> GateCheck:
    if name == "exact_match_rate" and limit == "holdout":
        if "exact_match_rate_holdout" not in report.results:
            return GateCheck(name, math.nan, math.nan, False, "holdout copy rate not computed")
        limit = float(report.results["exact_match_rate_holdout"].value)
        note = "the holdout's own copy rate"
    else:
        note = ""
    limit = float(limit)
    if name not in report.results:
        reason = report.skipped.get(name, "not computed")
        return GateCheck(name, math.nan, limit, False, f"not computed: {reason}")
    result = report.results[name]
    value = float(result.value)
    if name in _UPPER_BOUND_GATES and result.interval is not None:
        value = float(result.interval[1])
        note = "upper bound of the 95 % interval"
        low = float(result.interval[0])
        targets = _attempts(result.details)
        if low <= 0.0 and value > limit and targets:
            # No excess risk was measured; the bound is wide because the targets are few.
            note += (
                f"; the interval [{low:.3g}, {value:.3g}] includes 0: {targets} attack "
                "targets (the holdout's entities or rows) cannot bound it lower"
            )
    passed = not math.isnan(value) and value <= limit
    return GateCheck(name, value, limit, passed, note)


def _attempts(details: Mapping[str, Any]) -> int | None:
    """The attack's number of control targets (holdout rows or entities), from its details."""
    for key in ("control_targets", "attempts"):
        if key in details:
            return int(details[key])
    return None


def _refused(checks: list[GateCheck], report: Any) -> ReleaseGateError:
    """The error of a refused release, carrying every gate checked and the report."""
    error = ReleaseGateError(_failure_text(checks))
    error.gates = list(checks)  # type: ignore[attr-defined]
    error.report = report  # type: ignore[attr-defined]
    return error


def _failure_text(checks: list[GateCheck]) -> str:
    failed = [check.line() for check in checks if not check.passed]
    return (
        f"The release was not written: {len(failed)} gate(s) failed.\n  "
        + "\n  ".join(failed)
        + "\nTrain longer or with differential privacy (epsilon=...), pool more rare values, "
        "or review the thresholds with whoever signs the release."
    )


# ---------------------------------------------------------------- identifiers
def _scan_for_real_values(directory: Path, subject: ReleaseSubject) -> dict[str, int]:
    """Count real id/PII values found in the written data cells and (text values) report words."""
    found = {"data": 0, "reports": 0}
    for stem, real in subject.real.items():
        columns = never_learned(subject.metadata[stem])
        if not columns:
            continue
        written = [pd.read_parquet(directory / f"{stem}.parquet")]
        written.append(pd.read_csv(directory / f"{stem}.csv", dtype=str, keep_default_na=False))
        real_texts = {
            column: set(real[column].dropna().astype(str))
            for column in columns
            if column in real.columns
        }
        for frame in written:
            for column in columns:
                if column in frame.columns and column in real_texts:
                    cells = frame[column].dropna().astype(str)
                    found["data"] += int(cells[cells != ""].isin(real_texts[column]).sum())
    texts = [(directory / name).read_text(encoding="utf-8") for name in _SCANNED_REPORTS]
    words = {word for text in texts for word in _WORD.findall(text)}
    for stem, real in subject.real.items():
        for column in never_learned(subject.metadata[stem]):
            # Numeric keys are not looked for in the reports: 1,000 patient numbers
            # drawn from 1-17,563 match a chart's axis label by chance, not by leaking.
            if column not in real.columns or pd.api.types.is_numeric_dtype(real[column]):
                continue
            for value in real[column].dropna().astype(str).unique():
                # The word set rules most values out at once; the rest are matched whole.
                if len(value) >= _MIN_SCANNED_LENGTH and words.issuperset(_WORD.findall(value)):
                    pattern = re.compile(rf"(?<![\w@.+'-]){re.escape(value)}(?![\w@+'-])")
                    found["reports"] += int(any(pattern.search(text) for text in texts))
    return found


# -------------------------------------------------------------------- writing
def _write(directory: Path, subject: ReleaseSubject, card: dict[str, Any], model: bool) -> None:
    for stem, frame in subject.files.items():
        frame.to_parquet(directory / f"{stem}.parquet", index=False)
        frame.to_csv(directory / f"{stem}.csv", index=False)
    subject.report.to_json(directory / "report.json")
    subject.report.to_html(directory / "report.html")
    if model:
        subject.fitted.save(directory / "model.synthkit")
    _write_card(directory, card)


def _write_card(directory: Path, card: dict[str, Any]) -> None:
    (directory / "model_card.json").write_text(
        json.dumps(card, indent=2, default=_jsonable), encoding="utf-8"
    )
    (directory / "MODEL_CARD.md").write_text(_card_markdown(card), encoding="utf-8")


def _model_card(
    subject: ReleaseSubject, checks: list[GateCheck], seed: int, epsilon: float | None
) -> dict[str, Any]:
    import synthkit

    fitted = subject.fitted
    privacy: dict[str, Any] = {"unit": subject.unit, "differential_privacy": epsilon is not None}
    if epsilon is not None:
        privacy["epsilon_target"] = epsilon
        privacy["epsilon_spent"] = getattr(fitted, "epsilon_spent_", None)
        privacy["delta"] = getattr(fitted, "delta_", None)
        # How the budget was divided (preprocessing, training, one model per table).
        privacy["budget"] = _jsonable(getattr(fitted, "privacy_budget_", None))
    return {
        "synthkit_version": synthkit.__version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "data": subject.data,
        "model": {"name": fitted.name, "parameters": _plain(fitted.get_params())},
        "privacy": privacy,
        "seed": seed,
        "metrics": {name: _jsonable(value) for name, value in subject.report.to_dict().items()},
        "gates": [vars(check) for check in checks],
        "versions": _versions(),
    }


def _card_markdown(card: dict[str, Any]) -> str:
    privacy = card["privacy"]
    if privacy["differential_privacy"]:
        guarantee = (
            f"Trained with differential privacy: ε = {privacy['epsilon_spent']} spent of "
            f"{privacy['epsilon_target']}, δ = {privacy['delta']}, per {privacy['unit']}."
        )
    else:
        guarantee = (
            "Trained without differential privacy: the gates below are empirical checks, "
            "not a formal guarantee."
        )
    lines = [
        "# Model card",
        "",
        f"synthkit {card['synthkit_version']}, {card['created']}.",
        "",
        "## Data",
        *_data_lines(card["data"]),
        f"- never learned (regenerated): {', '.join(card['data']['never_learned']) or 'none'}",
        "",
        "## Model",
        f"- `{card['model']['name']}`, seed {card['seed']}",
        f"- parameters: `{json.dumps(card['model']['parameters'], default=_jsonable)}`",
        "",
        "## Privacy",
        f"- {guarantee}",
        "",
        "| gate | value | largest accepted | passed |",
        "|---|---|---|---|",
    ]
    for gate in card["gates"]:
        lines.append(
            f"| {gate['metric']} | {gate['value']:.4g} | {gate['threshold']:.4g} | "
            f"{'yes' if gate['passed'] else 'no'} |"
        )
    lines += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
    lines += [
        f"| {name} | {value:.4g} |" if isinstance(value, float) else f"| {name} | {value} |"
        for name, value in card["metrics"].items()
    ]
    lines += ["", "## Versions", ""]
    lines += [f"- {name} {version}" for name, version in card["versions"].items()]
    return "\n".join(lines) + "\n"


def _data_lines(data: dict[str, Any]) -> list[str]:
    if data["shape"] == "records":
        kept = set(data["kept"])
        return [
            f"- table `{name}`: real rows {rows['real_rows']}; synthetic rows "
            f"{rows['synthetic_rows']}" + (" (public, kept as it is)" if name in kept else "")
            for name, rows in data["tables"].items()
        ]
    if data["shape"] == "sequences":
        return [
            f"- sequences keyed by `{data['sequence_key']}`: real entities "
            f"{data['real_entities']} ({data['real_rows']} events); synthetic entities "
            f"{data['synthetic_entities']} ({data['synthetic_rows']} events)"
        ]
    return [f"- real rows: {data['real_rows']}; synthetic rows: {data['synthetic_rows']}"]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("synthkit", "torch", "numpy", "pandas", "scikit-learn", "pyarrow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in params.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
