"""Rule objects: what columns of a row must obey between them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthkit.errors import RuleError

__all__ = [
    "RULE_KINDS",
    "FixedCombinations",
    "Inequality",
    "Range",
    "Rule",
    "RuleError",
    "Sum",
    "make_rule",
    "rule_from_dict",
    "rule_shares",
    "share_held",
]


def _share_text(share: float | None) -> str:
    return "" if share is None else f" (held by {100 * share:.1f} % of real rows)"


@dataclass(frozen=True)
class Inequality:
    """``high >= low`` in every row where both are present (``>`` when ``strict``).

    Both columns are numerical, or both datetime. ``min_gap`` and ``max_gap``
    bound ``high - low`` (numbers, or timedelta strings such as ``"1 days"`` for
    datetimes). ``share`` is None for a declared rule, which every real row must
    obey; a detected rule records the share of real rows that obey it, and models
    reproduce that share.

    Example:
        >>> Inequality("tstart", "tstop", strict=True)
        Inequality(tstop > tstart)
    """

    low: str
    high: str
    strict: bool = False
    min_gap: float | str | None = None
    max_gap: float | str | None = None
    share: float | None = None
    kind: ClassVar[str] = "inequality"

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns the rule reads."""
        return (self.low, self.high)

    @property
    def derived(self) -> tuple[str, ...]:
        """Columns a model learns through the rule instead of on their own."""
        return (self.high,)

    @property
    def anchors(self) -> tuple[str, ...]:
        """Columns the derived ones are computed from."""
        return (self.low,)

    def describe(self) -> str:
        """The rule as a short formula."""
        text = f"{self.high} {'>' if self.strict else '>='} {self.low}"
        bounds = []
        if self.min_gap is not None:
            bounds.append(f"gap >= {self.min_gap}")
        if self.max_gap is not None:
            bounds.append(f"gap <= {self.max_gap}")
        return text + (f" ({', '.join(bounds)})" if bounds else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {"kind": self.kind, "low": self.low, "high": self.high}
        out["strict"] = self.strict
        for name in ("min_gap", "max_gap", "share"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    def __repr__(self) -> str:
        return f"Inequality({self.describe()}{_share_text(self.share)})"


@dataclass(frozen=True)
class FixedCombinations:
    """The columns only take the combinations of values seen together in the real data.

    For categorical or boolean columns such as ``(zip, city, state)``.

    Example:
        >>> FixedCombinations(("city", "state"))
        FixedCombinations(city, state)
    """

    columns: tuple[str, ...]
    share: float | None = None
    kind: ClassVar[str] = "fixed_combinations"

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))

    @property
    def derived(self) -> tuple[str, ...]:
        return self.columns

    @property
    def anchors(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        """The rule in words."""
        return f"only seen combinations of ({', '.join(self.columns)})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {"kind": self.kind, "columns": list(self.columns)}
        if self.share is not None:
            out["share"] = self.share
        return out

    def __repr__(self) -> str:
        return f"FixedCombinations({', '.join(self.columns)})"


@dataclass(frozen=True)
class Range:
    """``low <= column <= high`` in every row where the three are present.

    Example:
        >>> Range("min_price", "price", "max_price")
        Range(min_price <= price <= max_price)
    """

    low: str
    column: str
    high: str
    share: float | None = None
    kind: ClassVar[str] = "range"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.low, self.column, self.high)

    @property
    def derived(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def anchors(self) -> tuple[str, ...]:
        return (self.low, self.high)

    def describe(self) -> str:
        """The rule as a short formula."""
        return f"{self.low} <= {self.column} <= {self.high}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "low": self.low,
            "column": self.column,
            "high": self.high,
        }
        if self.share is not None:
            out["share"] = self.share
        return out

    def __repr__(self) -> str:
        return f"Range({self.describe()}{_share_text(self.share)})"


@dataclass(frozen=True)
class Sum:
    """``total = sum(parts)`` in every row (missing parts count as 0).

    Example:
        >>> Sum("total", ("net", "tax"))
        Sum(total = net + tax)
    """

    total: str
    parts: tuple[str, ...] = field(default=())
    share: float | None = None
    kind: ClassVar[str] = "sum"

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.total, *self.parts)

    @property
    def derived(self) -> tuple[str, ...]:
        return (self.total,)

    @property
    def anchors(self) -> tuple[str, ...]:
        return self.parts

    def describe(self) -> str:
        """The rule as a short formula."""
        return f"{self.total} = {' + '.join(self.parts)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {"kind": self.kind, "total": self.total, "parts": list(self.parts)}
        if self.share is not None:
            out["share"] = self.share
        return out

    def __repr__(self) -> str:
        return f"Sum({self.describe()}{_share_text(self.share)})"


Rule = Inequality | FixedCombinations | Range | Sum

_CLASSES: dict[str, type] = {
    "inequality": Inequality,
    "fixed_combinations": FixedCombinations,
    "range": Range,
    "sum": Sum,
}

#: Every rule kind, by the name :meth:`Metadata.add_rule` takes.
RULE_KINDS = tuple(_CLASSES)

_KINDS_ALLOWED = {
    "inequality": ("numerical", "datetime"),
    "range": ("numerical", "datetime"),
    "sum": ("numerical",),
    "fixed_combinations": ("categorical", "boolean"),
}


def make_rule(kind: str | Rule, **params: Any) -> Rule:
    """Build a rule from its kind name and parameters (or return a rule object as is).

    Raises:
        RuleError: For an unknown kind or parameters the kind does not take.

    Example:
        >>> make_rule("sum", total="total", parts=["net", "tax"])
        Sum(total = net + tax)
    """
    if isinstance(kind, (Inequality, FixedCombinations, Range, Sum)):
        if params:
            raise RuleError(
                f"Pass either a rule object or a kind with parameters, not both: {params}."
            )
        return kind
    if kind not in _CLASSES:
        raise RuleError(f"Unknown rule kind {kind!r}; use one of {', '.join(RULE_KINDS)}.")
    cls = _CLASSES[kind]
    try:
        rule = cls(**params)
    except TypeError as error:
        fields = [f for f in cls.__dataclass_fields__]  # type: ignore[attr-defined]
        raise RuleError(
            f"A {kind!r} rule takes the parameters {fields}; got {sorted(params)} ({error})."
        ) from None
    _check_shape(rule)
    return rule


def _check_shape(rule: Rule) -> None:
    names = list(rule.columns)
    if not all(isinstance(c, str) and c for c in names):
        raise RuleError(f"Rule {rule.describe()}: columns must be non-empty names, got {names}.")
    if len(set(names)) != len(names):
        raise RuleError(f"Rule {rule.describe()} names a column twice: {names}.")
    if isinstance(rule, FixedCombinations) and len(names) < 2:
        raise RuleError(f"A fixed combination needs at least two columns, got {names}.")
    if isinstance(rule, Sum) and not rule.parts:
        raise RuleError(f"A sum rule needs parts, e.g. parts=['a', 'b']; got {rule.parts!r}.")
    if rule.share is not None and not (0.0 < float(rule.share) <= 1.0):
        raise RuleError(f"Rule {rule.describe()}: share={rule.share!r} must lie in (0, 1].")


def rule_from_dict(data: Mapping[str, Any]) -> Rule:
    """Build a rule from its :meth:`to_dict` form.

    Example:
        >>> rule_from_dict({"kind": "range", "low": "a", "column": "x", "high": "b"})
        Range(a <= x <= b)
    """
    if not isinstance(data, Mapping) or "kind" not in data:
        raise RuleError(f"A rule entry needs a 'kind', got {data!r}.")
    params = {k: v for k, v in data.items() if k != "kind"}
    return make_rule(data["kind"], **params)


def check_rule(
    rule: Rule, columns: Mapping[str, Mapping[str, Any]], others: Sequence[Rule]
) -> None:
    """Check that a rule fits the columns' kinds and does not clash with ``others``.

    Raises:
        RuleError: Naming the rule, the column and the fix.
    """
    allowed = _KINDS_ALLOWED[rule.kind]
    kinds = set()
    for column in rule.columns:
        if column not in columns:
            raise RuleError(
                f"Rule {rule.describe()} names column {column!r}, which is not in the "
                f"metadata; known columns: {list(columns)}."
            )
        kind = columns[column]["kind"]
        if kind in ("id", "pii", "text"):
            raise RuleError(
                f"Rule {rule.describe()} names column {column!r} of kind {kind!r}: such columns "
                "are never learned, so no model can keep a rule on them. Drop the rule, or "
                f"override the kind, e.g. metadata.update_column({column!r}, kind='categorical')."
            )
        if kind not in allowed:
            raise RuleError(
                f"Rule {rule.describe()} needs {' or '.join(allowed)} columns, but {column!r} is "
                f"{kind!r}. Change the column's kind or the rule."
            )
        kinds.add(kind)
    if rule.kind in ("inequality", "range") and len(kinds) > 1:
        raise RuleError(
            f"Rule {rule.describe()} compares columns of different kinds {sorted(kinds)}; "
            "compare numbers with numbers and datetimes with datetimes."
        )
    for gap in ("min_gap", "max_gap"):
        value = getattr(rule, gap, None)
        if value is not None:
            gap_to_number(rule, value, "datetime" in kinds)
    for other in others:
        if other == rule:
            raise RuleError(f"Rule {rule.describe()} is already in the metadata.")


def gap_to_number(rule: Rule, value: Any, is_datetime: bool) -> float:
    """A gap bound in the rule's units: a number, or nanoseconds for datetimes."""
    if is_datetime:
        try:
            return float(pd.Timedelta(value).value)
        except (TypeError, ValueError):
            raise RuleError(
                f"Rule {rule.describe()}: the gap bound {value!r} is not a duration; use a "
                "timedelta string such as '1 days' or '2h'."
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise RuleError(f"Rule {rule.describe()}: the gap bound {value!r} must be a number.")
    return float(value)


def column_values(frame: pd.DataFrame, column: str, entry: Mapping[str, Any]) -> np.ndarray:
    """A numerical or datetime column as float64 (datetimes in UTC nanoseconds), NaN for missing.

    Values that do not parse count as missing: this only measures how often a rule
    holds; the encoder reports unparsable values when it is fitted. Pandas only, so
    detection does not load the model stack.
    """
    series = frame[column]
    if entry["kind"] != "datetime":
        if pd.api.types.is_bool_dtype(series.dtype):
            series = series.astype("float64")
        return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        if pd.api.types.is_numeric_dtype(series.dtype):
            series = series.astype("Int64").astype("string")
        series = pd.to_datetime(series, format=entry.get("format"), errors="coerce")
    if series.dt.tz is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    nanos = series.astype("datetime64[ns]").to_numpy().astype("int64").astype("float64")
    nanos[series.isna().to_numpy()] = np.nan
    return nanos


def rule_shares(
    rule: Rule, frame: pd.DataFrame, columns: Mapping[str, Mapping[str, Any]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, whether the rule applies (every column it reads present) and whether it holds.

    Fixed combinations always hold on the frame that defines them; this checks the
    other kinds.
    """
    n = len(frame)
    if isinstance(rule, FixedCombinations):
        return np.ones(n, dtype=bool), np.ones(n, dtype=bool)
    values = {c: column_values(frame, c, columns[c]) for c in rule.columns}
    if isinstance(rule, Sum):
        applies = ~np.isnan(values[rule.total])
        total = np.nansum(np.stack([values[p] for p in rule.parts]), axis=0)
        scale = np.maximum(np.abs(values[rule.total]), 1.0)
        holds = np.abs(values[rule.total] - total) <= 1e-9 * scale
        return applies, holds & applies
    applies = np.ones(n, dtype=bool)
    for column in rule.columns:
        applies &= ~np.isnan(values[column])
    with np.errstate(invalid="ignore"):
        if isinstance(rule, Range):
            holds = (values[rule.low] <= values[rule.column]) & (
                values[rule.column] <= values[rule.high]
            )
        else:
            gap = values[rule.high] - values[rule.low]
            holds = gap > 0 if rule.strict else gap >= 0
            is_datetime = columns[rule.low]["kind"] == "datetime"
            if rule.min_gap is not None:
                holds &= gap >= gap_to_number(rule, rule.min_gap, is_datetime)
            if rule.max_gap is not None:
                holds &= gap <= gap_to_number(rule, rule.max_gap, is_datetime)
    return applies, holds & applies


def share_held(rule: Rule, frame: pd.DataFrame, columns: Mapping[str, Mapping[str, Any]]) -> float:
    """Share of the rows the rule applies to that obey it (1.0 when it applies to none)."""
    applies, holds = rule_shares(rule, frame, columns)
    return float(holds.sum() / applies.sum()) if applies.any() else 1.0
