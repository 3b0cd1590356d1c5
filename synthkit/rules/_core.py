"""Rule objects: what columns of a row must obey between them."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthkit.errors import RuleError

__all__ = [
    "RULE_KINDS",
    "FixedCombinations",
    "Formula",
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


# ---------------------------------------------------------------------- formulas
# Arithmetic a formula may use; anything else in an expression is refused, so a
# model file read from disk never runs code.
_OPERATORS: dict[type, Callable[..., np.ndarray]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
    ast.FloorDiv: np.floor_divide,
    ast.USub: np.negative,
    ast.UAdd: np.positive,
}
# name: (function, fewest arguments, most arguments or None for any number)
_FUNCTIONS: dict[str, tuple[Callable[..., np.ndarray], int, int | None]] = {
    "abs": (np.abs, 1, 1),
    "exp": (np.exp, 1, 1),
    "log": (np.log, 1, 1),
    "sqrt": (np.sqrt, 1, 1),
    "round": (np.round, 1, 2),
    "min": (lambda *xs: np.minimum.reduce(np.broadcast_arrays(*xs)), 2, None),
    "max": (lambda *xs: np.maximum.reduce(np.broadcast_arrays(*xs)), 2, None),
}
_QUOTED = re.compile(r"`([^`]*)`")


@dataclass(frozen=True)
class _Expression:
    """A checked expression tree; ``quoted`` maps stand-in names to backtick-quoted columns."""

    tree: ast.expr
    quoted: dict[str, str]
    names: tuple[str, ...]

    def column(self, node: ast.Name) -> str:
        return self.quoted.get(node.id, node.id)

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(self._value(self.tree, values), dtype=np.float64)

    def _value(self, node: ast.expr, values: Mapping[str, np.ndarray]) -> Any:
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[self.column(node)]
        if isinstance(node, ast.UnaryOp):
            return _OPERATORS[type(node.op)](self._value(node.operand, values))
        if isinstance(node, ast.BinOp):
            left, right = self._value(node.left, values), self._value(node.right, values)
            return _OPERATORS[type(node.op)](left, right)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        function = _FUNCTIONS[node.func.id][0]
        if node.func.id == "round" and len(node.args) == 2:
            digits = node.args[1]
            assert isinstance(digits, ast.Constant)
            return function(self._value(node.args[0], values), int(digits.value))
        return function(*(self._value(arg, values) for arg in node.args))


def _parse_expression(column: str, expression: str) -> _Expression:
    """Parse and check a formula's expression (see :class:`Formula`)."""
    if not isinstance(expression, str) or not expression.strip():
        raise RuleError(
            f"Formula for {column!r}: expression must be a non-empty string such as "
            f"'weight / (height / 100) ** 2', got {expression!r}."
        )
    quoted: dict[str, str] = {}
    prefix = "_q"
    while prefix in expression:  # stand-ins must not meet a name written in the text
        prefix += "_"

    def stand_in(match: re.Match[str]) -> str:
        name = f"{prefix}{len(quoted)}"
        quoted[name] = match.group(1)
        return f" {name} "

    source = _QUOTED.sub(stand_in, expression)
    if "`" in source or "" in quoted.values():
        raise RuleError(
            f"Formula for {column!r}: {expression!r} has an unmatched or empty backtick; "
            "quote a column name that is not a Python identifier as `case.id`."
        )
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except (SyntaxError, RecursionError, ValueError) as error:
        raise RuleError(
            f"Formula for {column!r}: {expression!r} is not an arithmetic expression ({error}); "
            "write it like 'weight / (height / 100) ** 2'."
        ) from None
    parsed = _Expression(tree, quoted, ())
    names = tuple(dict.fromkeys(_checked_names(column, parsed, tree)))
    if not names:
        raise RuleError(
            f"Formula for {column!r}: {expression!r} reads no column; name the columns it is "
            "computed from."
        )
    if column in names:
        raise RuleError(
            f"Formula for {column!r}: {expression!r} reads {column!r} itself; a derived column "
            "is computed from other columns only."
        )
    return _Expression(tree, quoted, names)


def _checked_names(column: str, parsed: _Expression, node: ast.expr) -> list[str]:
    """The column names ``node`` reads, in order; raises on anything but arithmetic."""
    if isinstance(node, ast.Constant) and _is_number(node.value):
        return []
    if isinstance(node, ast.Name):
        return [parsed.column(node)]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _checked_names(column, parsed, node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return [
            *_checked_names(column, parsed, node.left),
            *_checked_names(column, parsed, node.right),
        ]
    if isinstance(node, ast.Call) and _allowed_call(node):
        return [name for arg in node.args for name in _checked_names(column, parsed, arg)]
    part = ast.unparse(node)
    for stand_in, name in parsed.quoted.items():
        part = part.replace(stand_in, f"`{name}`")
    raise RuleError(
        f"Formula for {column!r}: {part!r} is not allowed in an expression. Use column names, "
        "numbers, + - * / ** // and parentheses, and the functions "
        f"{', '.join(sorted(_FUNCTIONS))}; quote other column names as `case.id`."
    )


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return bool(np.isfinite(float(value)))
    except OverflowError:
        return False


def _allowed_call(node: ast.Call) -> bool:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
        return False
    if any(isinstance(arg, ast.Starred) for arg in node.args):
        return False
    _, fewest, most = _FUNCTIONS[node.func.id]
    if len(node.args) < fewest or (most is not None and len(node.args) > most):
        return False
    if node.func.id == "round" and len(node.args) == 2:  # digits: a whole number literal
        digits = node.args[1]
        return isinstance(digits, ast.Constant) and type(digits.value) is int
    return True


@dataclass(frozen=True)
class Formula:
    """``column = expression``: a column computed from others in every row.

    The expression is arithmetic over column names and numbers: ``+ - * / ** //``,
    unary minus, parentheses and the functions ``abs``, ``exp``, ``log``, ``sqrt``,
    ``round`` (``round(x)`` or ``round(x, 2)``), ``min`` and ``max``. Quote a column
    name that is not a Python identifier in backticks (`` `case.id` * 2 ``). It is
    parsed, never run as code. Every column involved is numerical.

    A formula is a definition: models learn only in which rows the column is
    present, and compute its value from the drawn columns it reads (rounded to
    ``decimals`` when given, to whole numbers for an integer column). Real rows
    that deviate from it (rounding, typos) do not stop a fit, and their
    deviations are not kept. The value is missing where a column it reads is
    missing or the result is not finite. Formulas are only declared, never
    detected, and keep no real value, so differentially private fits keep them.

    Example:
        >>> rule = Formula("bmi", "weight / (height / 100) ** 2", decimals=1)
        >>> rule
        Formula(bmi = weight / (height / 100) ** 2, decimals=1)
        >>> rule.anchors
        ('weight', 'height')
        >>> rule.evaluate({"weight": np.array([80.0]), "height": np.array([180.0])})
        array([24.7])
    """

    column: str
    expression: str
    decimals: int | None = None
    share: ClassVar[float | None] = None
    kind: ClassVar[str] = "formula"
    _parsed: _Expression = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise RuleError(f"A formula needs a column name to derive, got {self.column!r}.")
        decimals = self.decimals
        if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int)):
            raise RuleError(
                f"Formula for {self.column!r}: decimals={decimals!r} must be a whole number "
                "of decimal places, such as 1, or None to keep every digit."
            )
        object.__setattr__(self, "_parsed", _parse_expression(self.column, self.expression))

    @property
    def columns(self) -> tuple[str, ...]:
        """Columns the rule reads: the derived one, then those its expression reads."""
        return (self.column, *self.anchors)

    @property
    def derived(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def anchors(self) -> tuple[str, ...]:
        return self._parsed.names

    def evaluate(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The expression over float arrays of the anchor columns, rounded to ``decimals``."""
        result = self._parsed.evaluate(values)
        return result if self.decimals is None else np.round(result, self.decimals)

    def describe(self) -> str:
        """The rule as a short formula."""
        return f"{self.column} = {self.expression}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "column": self.column,
            "expression": self.expression,
        }
        if self.decimals is not None:
            out["decimals"] = self.decimals
        return out

    def __repr__(self) -> str:
        decimals = "" if self.decimals is None else f", decimals={self.decimals}"
        return f"Formula({self.describe()}{decimals})"


Rule = Inequality | FixedCombinations | Range | Sum | Formula

_CLASSES: dict[str, type] = {
    "inequality": Inequality,
    "fixed_combinations": FixedCombinations,
    "range": Range,
    "sum": Sum,
    "formula": Formula,
}

#: Every rule kind, by the name :meth:`Metadata.add_rule` takes.
RULE_KINDS = tuple(_CLASSES)

_KINDS_ALLOWED = {
    "inequality": ("numerical", "datetime"),
    "range": ("numerical", "datetime"),
    "sum": ("numerical",),
    "formula": ("numerical",),
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
    if isinstance(kind, (Inequality, FixedCombinations, Range, Sum, Formula)):
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
        fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
        fields = [name for name, f in fields.items() if f.init]
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
        _check_formula_clash(rule, other)


def _check_formula_clash(rule: Rule, other: Rule) -> None:
    """A formula's column is computed from its expression: no other rule may derive it."""
    if not isinstance(rule, Formula) and not isinstance(other, Formula):
        return
    shared = sorted(set(rule.derived) & set(other.derived))
    if shared:
        raise RuleError(
            f"Rule {rule.describe()} derives column {shared[0]!r}, which rule "
            f"{other.describe()} already derives; a formula's column is computed from its "
            "expression alone. Drop one of the two rules."
        )


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
    if isinstance(rule, Formula):
        return _formula_shares(rule, values)
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


def _formula_shares(
    rule: Formula, values: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows with every column present; those whose value is the expression's result.

    A value equal to the result rounded (to ``decimals``, or to a whole number in a
    column of whole numbers) also counts as holding.
    """
    actual = values[rule.column]
    applies = ~np.isnan(actual)
    for column in rule.anchors:
        applies &= ~np.isnan(values[column])
    computed = rule.evaluate(values)
    observed = actual[~np.isnan(actual)]
    whole = bool(len(observed)) and bool((observed == np.round(observed)).all())
    digits = rule.decimals if rule.decimals is not None else (0 if whole else None)
    with np.errstate(invalid="ignore"):
        scale = np.maximum(np.abs(computed), 1.0)
        holds = np.abs(actual - computed) <= 1e-9 * scale
        if digits is not None:
            holds |= np.abs(actual - np.round(computed, digits)) <= 1e-9 * scale
    return applies, holds & applies


def share_held(rule: Rule, frame: pd.DataFrame, columns: Mapping[str, Mapping[str, Any]]) -> float:
    """Share of the rows the rule applies to that obey it (1.0 when it applies to none)."""
    applies, holds = rule_shares(rule, frame, columns)
    return float(holds.sum() / applies.sum()) if applies.any() else 1.0
