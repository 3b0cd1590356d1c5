"""Data validation with great-expectations: build a suite from real data, run it on any frame."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthkit._files import atomic_write_text
from synthkit._registry import import_optional
from synthkit.errors import DataError, ParameterError
from synthkit.schema import SequenceDataset

if TYPE_CHECKING:
    import great_expectations as gx

__all__ = ["Failure", "ValidationResult", "build_suite", "load_suite", "save_suite", "validate"]

_MAX_LISTED = 20


def _gx(module: str = "great_expectations") -> Any:
    # great-expectations is an optional extra: say how to install it when missing.
    return import_optional(module, extra="validation", purpose="Data validation")


@dataclass(frozen=True)
class Failure:
    """One expectation that did not hold.

    Attributes:
        expectation: The great-expectations type, for example
            ``"expect_column_values_to_be_between"``.
        column: The column it checks (``None`` for table-level expectations).
        kwargs: The expectation's arguments (bounds, value sets, columns).
        unexpected_count: How many values broke it, when GX counts them.
        unexpected_values: A sample of the offending values.
        observed: The value GX observed (a type, a column list), if any.
    """

    expectation: str
    column: str | None
    kwargs: dict[str, Any]
    unexpected_count: int | None = None
    unexpected_values: list[Any] = field(default_factory=list)
    observed: Any = None

    def __str__(self) -> str:
        where = f" on column {self.column!r}" if self.column else ""
        count = f": {self.unexpected_count} unexpected value(s)" if self.unexpected_count else ""
        sample = f", e.g. {self.unexpected_values[:5]}" if self.unexpected_values else ""
        seen = f" (observed {self.observed!r})" if self.observed is not None else ""
        return f"{self.expectation}{where}{count}{sample}{seen}"


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of running a suite: overall success and each failed expectation.

    Attributes:
        success: Whether every expectation held.
        evaluated: Number of expectations run.
        failures: The expectations that did not hold, with what broke them.
    """

    success: bool
    evaluated: int
    failures: list[Failure]

    @property
    def failed_expectations(self) -> list[str]:
        """Names of the failed expectations as ``type(column)``."""
        return [f"{f.expectation}({f.column or ''})" for f in self.failures]

    def __str__(self) -> str:
        if self.success:
            return f"All {self.evaluated} expectations passed."
        lines = [f"{len(self.failures)} of {self.evaluated} expectations failed:"]
        return "\n".join(lines + [f"  - {failure}" for failure in self.failures])


def build_suite(
    data: pd.DataFrame | SequenceDataset,
    *,
    name: str = "synthkit",
    keys: Sequence[str | Sequence[str]] = (),
    max_categories: int = 50,
) -> gx.ExpectationSuite:
    """Build an expectation suite describing ``data``.

    For every column: its type, no missing values when it has none, the observed
    range (numbers and datetimes), and the set of values when it has at most
    ``max_categories`` distinct ones (text, categories, booleans). The table must
    have exactly these columns, and every key (a column, or a list of columns)
    must be unique. A sequence dataset adds its (entity, index) key.

    Args:
        data: The real data the suite describes.
        name: The suite's name.
        keys: Columns or column lists that must be unique.
        max_categories: Largest number of distinct values listed as a value set.

    Returns:
        A ``great_expectations.ExpectationSuite``.

    Example:
        >>> frame = pd.DataFrame({"id": [1, 2, 3], "age": [30, 41, 57], "sex": ["F", "M", "F"]})
        >>> suite = build_suite(frame, keys=["id"])
        >>> validate(frame, suite).success
        True
        >>> bad = frame.assign(age=[30, 41, 230])
        >>> validate(bad, suite).failed_expectations
        ['expect_column_values_to_be_between(age)']
    """
    gx = _gx()
    gxe = _gx("great_expectations.expectations")

    frame, keys = _frame_and_keys(data, keys)
    expectations: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[str(c) for c in frame.columns], exact_match=True
        )
    ]
    for column in frame.columns:
        expectations += _column_expectations(frame[column], str(column), max_categories)
    for key in keys:
        if isinstance(key, str):
            expectations.append(gxe.ExpectColumnValuesToBeUnique(column=key))
        else:
            expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(key)))
    return gx.ExpectationSuite(
        name=name, expectations=expectations, meta={"synthkit_dtypes": _dtypes(frame)}
    )


def _frame_and_keys(
    data: pd.DataFrame | SequenceDataset, keys: Sequence[str | Sequence[str]]
) -> tuple[pd.DataFrame, list[str | list[str]]]:
    keys = [k if isinstance(k, str) else list(k) for k in keys]
    if isinstance(data, SequenceDataset):
        if data.sequence_index is not None:
            keys.append([data.sequence_key, data.sequence_index])
        data = data.data
    if not isinstance(data, pd.DataFrame) or data.empty:
        raise DataError("build_suite needs a non-empty DataFrame (or SequenceDataset).")
    for key in keys:
        missing = [c for c in ([key] if isinstance(key, str) else key) if c not in data.columns]
        if missing:
            raise ParameterError(f"keys names {missing}, not columns of the data.")
    return data, keys


def _column_expectations(column: pd.Series, name: str, max_categories: int) -> list[Any]:
    gxe = _gx("great_expectations.expectations")

    out: list[Any] = [gxe.ExpectColumnValuesToBeOfType(column=name, type_=_gx_type(column))]
    present = column.dropna()
    if len(present) == len(column):
        out.append(gxe.ExpectColumnValuesToNotBeNull(column=name))
    if present.empty:
        return out
    dtype = column.dtype
    is_number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if is_number or pd.api.types.is_datetime64_any_dtype(dtype):
        low, high = _plain(present.min()), _plain(present.max())
        out.append(gxe.ExpectColumnValuesToBeBetween(column=name, min_value=low, max_value=high))
    elif present.nunique() <= max_categories:
        values = sorted(_plain(v) for v in pd.unique(present.to_numpy(dtype=object)))
        out.append(gxe.ExpectColumnValuesToBeInSet(column=name, value_set=values))
    return out


def _gx_type(column: pd.Series) -> str:
    # GX compares the name of the dtype's scalar type ("int64", "object_", "Timestamp").
    return column.dtype.type.__name__


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {str(name): str(dtype) for name, dtype in frame.dtypes.items()}


def save_suite(suite: gx.ExpectationSuite, path: str | os.PathLike[str]) -> None:
    """Write ``suite`` as JSON to ``path`` (atomically).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "suite.json"
        >>> save_suite(build_suite(pd.DataFrame({"x": [1, 2]})), path)
        >>> len(load_suite(path).expectations)
        4
    """
    payload = suite.to_json_dict()
    payload.pop("id", None)
    atomic_write_text(Path(path), json.dumps(payload, indent=2, sort_keys=True))


def load_suite(path: str | os.PathLike[str]) -> gx.ExpectationSuite:
    """Read a suite written by :func:`save_suite` (or by great-expectations itself).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "suite.json"
        >>> save_suite(build_suite(pd.DataFrame({"x": [1, 2]}), name="tiny"), path)
        >>> load_suite(path).name
        'tiny'
    """
    gx = _gx()

    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"No expectation suite at {os.fspath(path)}.") from None
    except json.JSONDecodeError as error:
        raise ParameterError(
            f"The suite file {os.fspath(path)} is not valid JSON "
            f"(line {error.lineno}): {error.msg}."
        ) from None
    if not isinstance(payload, dict) or "expectations" not in payload:
        raise ParameterError(f"{os.fspath(path)} is not an expectation suite (no 'expectations').")
    fields = ("name", "expectations", "meta", "notes", "suite_parameters")
    _ephemeral_context()
    return gx.ExpectationSuite(**{k: payload[k] for k in fields if k in payload})


def validate(
    data: pd.DataFrame | SequenceDataset, suite: gx.ExpectationSuite | str | os.PathLike[str]
) -> ValidationResult:
    """Run ``suite`` (or the suite saved at that path) on ``data``.

    Runs in an ephemeral great-expectations context: nothing is written to disk
    and no usage statistics are sent.

    Returns:
        A :class:`ValidationResult` naming every failed expectation.

    Example:
        >>> suite = build_suite(pd.DataFrame({"grade": ["A", "B", "A"]}))
        >>> result = validate(pd.DataFrame({"grade": ["A", "C"]}), suite)
        >>> result.success, result.failures[0].unexpected_values
        (False, ['C'])
    """
    if not hasattr(suite, "expectations"):
        suite = load_suite(suite)
    frame = data.data if isinstance(data, SequenceDataset) else data
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"validate() checks a DataFrame; got {type(data).__name__}.")
    batch = _ephemeral_batch(frame)
    outcome = batch.validate(suite, result_format="SUMMARY")
    failures = [_failure(result) for result in outcome.results if not result.success]
    return ValidationResult(
        success=bool(outcome.success), evaluated=len(outcome.results), failures=failures
    )


def _ephemeral_batch(frame: pd.DataFrame) -> Any:
    context = _ephemeral_context()
    source = context.data_sources.add_pandas("synthkit")
    definition = source.add_dataframe_asset("data").add_batch_definition_whole_dataframe("all")
    return definition.get_batch(batch_parameters={"dataframe": frame})


def _ephemeral_context() -> Any:
    """A fresh in-memory context: no project folder, no usage statistics, no progress bars."""
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _failure(result: Any) -> Failure:
    config = result.expectation_config
    details = result.result or {}
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
    unexpected = details.get("partial_unexpected_list") or []
    if result.exception_info and result.exception_info.get("raised_exception"):
        observed: Any = result.exception_info.get("exception_message")
    else:
        observed = details.get("observed_value")
    return Failure(
        expectation=config.type,
        column=kwargs.get("column"),
        kwargs=kwargs,
        unexpected_count=details.get("unexpected_count"),
        unexpected_values=[_plain(v) for v in unexpected[:_MAX_LISTED]],
        observed=observed,
    )
