"""A reversible frame transform that lets every model keep the metadata's rules.

Before the column transforms are fitted, each rule rewrites the column(s) it
derives into a representation in which the rule cannot be broken:

* an inequality's later column becomes its gap from the earlier one (clamped at
  zero, or at the smallest real gap when strict, for a rule every real row obeys;
  a detected rule held by fewer rows keeps the real gaps, negative ones included);
* a range's middle column becomes the fraction of the way between its bounds;
* a sum's total becomes its residual from the sum of the parts (zero when the
  rule holds, so nothing is learned);
* a fixed combination becomes one joint category (in its first column; the others
  become constant);
* a formula's column becomes a flag of whether it is present: its values are
  computed back from the decoded columns its expression reads.

Decoding runs the steps backwards, in an order where every column a step reads
is already decoded. Column names stay the same, so the encoder's layout,
conditions and regenerated columns need no change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import ConditionError
from synthkit.metadata import Metadata
from synthkit.processing.columns import (
    CategoricalTransform,
    ColumnTransform,
    NumericTransform,
    transform_from_state,
)
from synthkit.rules._core import (
    FixedCombinations,
    Formula,
    Inequality,
    Range,
    Rule,
    RuleError,
    Sum,
    gap_to_number,
    rule_from_dict,
    rule_shares,
    share_held,
)

__all__ = ["RuleTransform"]

_LOG = logging.getLogger("synthkit")

# A detected rule (share < 1) refuses data that obeys it this much less often.
_SOFT_TOLERANCE = 0.02


def _enforced(rule: Rule) -> bool:
    return rule.share is None or float(rule.share) >= 1.0


class RuleTransform:
    """The fitted frame transform of a metadata's rules (see the module docstring).

    Args:
        steps: One fitted step per transformed rule, in decoding order.
        checked: Rules a step could not take (their column is already derived by
            another rule); sampling keeps them by bounded rejection.

    Example:
        >>> import pandas as pd
        >>> from synthkit.metadata import Metadata
        >>> df = pd.DataFrame({"start": [1, 5, 2, 8], "stop": [3, 9, 2, 10]})
        >>> md = Metadata.detect(df).add_rule("inequality", low="start", high="stop")
        >>> rules = RuleTransform.fit(df, md)
        >>> rules.forward(df)["stop"].tolist()
        [2.0, 4.0, 0.0, 2.0]
        >>> rules.inverse(rules.forward(df)).equals(df)
        True
    """

    def __init__(self, steps: list[_Step], checked: list[Rule]) -> None:
        self.steps = steps
        self.checked = checked

    # ---------------------------------------------------------------------- fit
    @classmethod
    def fit(
        cls, data: pd.DataFrame, metadata: Metadata, clip: bool = True, rare_threshold: int = 0
    ) -> RuleTransform | None:
        """Check the rules against the real data and fit their steps (None without rules).

        ``clip`` keeps decoded numbers inside the real range; a fixed combination
        seen in fewer than ``rare_threshold`` rows is not kept (its rows count as
        the most common combination), so no rare real value reaches the state.
        A formula is a definition: real rows that deviate from it are logged, not
        refused, and synthetic rows take the expression's result.

        Raises:
            RuleError: If a rule other than a formula is not met by the data, a rule
                names a column that is not learned, or the rules form a cycle.
        """
        rules = list(getattr(metadata, "rules", []))
        if not rules:
            return None
        from synthkit.rules._core import check_rule

        columns = metadata.columns
        for i, rule in enumerate(rules):
            check_rule(rule, columns, rules[:i])
            _check_data(rule, data, columns)
        derived: dict[str, Rule] = {}
        transformed: list[Rule] = []
        checked: list[Rule] = []
        # A formula's column is only ever its expression's result: formulas claim
        # their columns first, so a range's implied bound order is checked instead.
        candidates = _with_range_bounds(rules, data, columns)
        for rule in sorted(candidates, key=lambda r: not isinstance(r, Formula)):
            clash = [c for c in rule.derived if c in derived]
            if clash or any(a in rule.derived for a in rule.anchors):
                checked.append(rule)
                continue
            transformed.append(rule)
            for column in rule.derived:
                derived[column] = rule
        order = _decoding_order(transformed)
        steps = [_fit_step(rule, data, columns, clip, rare_threshold) for rule in order]
        return cls(steps, [r for r in checked if _enforced(r)])

    # ---------------------------------------------------------------- queries
    @property
    def columns(self) -> set[str]:
        """Columns whose model representation a step changes."""
        return {c for step in self.steps for c in step.rule.derived}

    def model_metadata(self, metadata: Metadata) -> Metadata:
        """The metadata of the transformed frame the column transforms are fitted on."""
        columns = {name: dict(entry) for name, entry in metadata.columns.items()}
        for step in self.steps:
            columns.update(step.model_entries())
        return Metadata(columns)

    def source_transform(self, column: str) -> ColumnTransform | None:
        """The real column's description (for conditions on a transformed column).

        Raises:
            ConditionError: For a formula's column: its values are computed, never
                learned, so conditions go on the columns its expression reads.
        """
        for step in self.steps:
            if isinstance(step, _FormulaStep) and column == step.rule.column:
                raise ConditionError(
                    f"Cannot condition on column {column!r}: rule {step.rule.describe()} "
                    "computes it from the drawn rows. Condition on the columns it reads "
                    f"({', '.join(step.rule.anchors)}) instead."
                )
            if column in step.sources:
                return step.sources[column]
        return None

    # ---------------------------------------------------------------- transform
    def forward(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame in model representation (derived columns rewritten)."""
        out = frame.copy()
        for step in self.steps:
            for column, values in step.forward(frame).items():
                out[column] = values
        return out

    def inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The real representation of a decoded model frame."""
        out = frame.copy()
        for step in self.steps:
            for column, values in step.inverse(out).items():
                out[column] = values.set_axis(out.index)
        return out

    # ------------------------------------------------------------- persistence
    def state(self) -> dict[str, Any]:
        """JSON-ready state :meth:`from_state` reads."""
        return {
            "steps": [step.state() for step in self.steps],
            "checked": [rule.to_dict() for rule in self.checked],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> RuleTransform | None:
        """Rebuild from :meth:`state` output (None stays None)."""
        if not state:
            return None
        steps = [_STEPS[s["rule"]["kind"]].from_state(s) for s in state["steps"]]
        return cls(steps, [rule_from_dict(r) for r in state["checked"]])


def _with_range_bounds(
    rules: list[Rule], data: pd.DataFrame, columns: Mapping[str, Any]
) -> list[Rule]:
    """The rules, each enforced range preceded by the ordering of its bounds.

    A range can only hold where its low bound is not above its high bound, so the
    high bound is learned as its gap from the low one. Rows without the middle
    value may break that order in real data; then it is kept as the share seen.
    """
    out: list[Rule] = []
    stated = {(r.low, r.high) for r in rules if isinstance(r, Inequality)}
    for rule in rules:
        if isinstance(rule, Range) and _enforced(rule) and (rule.low, rule.high) not in stated:
            bounds = Inequality(rule.low, rule.high)
            share = share_held(bounds, data, columns)
            out.append(bounds if share >= 1.0 else Inequality(rule.low, rule.high, share=share))
            stated.add((rule.low, rule.high))
        out.append(rule)
    return out


# ----------------------------------------------------------------------- checking
def _check_data(rule: Rule, data: pd.DataFrame, columns: Mapping[str, Any]) -> None:
    applies, holds = rule_shares(rule, data, columns)
    if not applies.any():
        return
    if isinstance(rule, Formula):
        _report_formula(rule, applies, holds)
        return
    share = float(holds.sum() / applies.sum())
    needed = 1.0 if _enforced(rule) else float(rule.share) - _SOFT_TOLERANCE
    if share < needed:
        broken = int(applies.sum() - holds.sum())
        first = data.index[applies & ~holds][:3].tolist()
        raise RuleError(
            f"The data breaks rule {rule.describe()} in {broken} of {int(applies.sum())} rows "
            f"({100 * (1 - share):.2f} % violating; e.g. rows {first}); the rule asks for "
            f"{100 * needed:.1f} % to obey it. Fix those rows, drop the rule from "
            "metadata.rules, or declare it with share=<the real share> to learn it as a "
            "tendency."
        )


def _report_formula(rule: Formula, applies: np.ndarray, holds: np.ndarray) -> None:
    """A formula is a definition: real rows that deviate from it are noted, not refused."""
    broken = int(applies.sum() - holds.sum())
    if broken:
        _LOG.info(
            "Rule %s: %d of %d real rows deviate from it (rounding, for instance); "
            "synthetic rows compute %r from the formula.",
            rule.describe(),
            broken,
            int(applies.sum()),
            rule.column,
        )


def _decoding_order(rules: list[Rule]) -> list[Rule]:
    """Rules sorted so that each one's anchors are decoded before it."""
    derived_by = {c: r for r in rules for c in r.derived}
    order: list[Rule] = []
    pending = list(rules)
    while pending:
        ready = [
            r
            for r in pending
            if all(derived_by.get(a) is None or derived_by[a] in order for a in r.anchors)
        ]
        if not ready:
            raise RuleError(
                f"The rules {[r.describe() for r in pending]} depend on each other in a cycle; "
                "drop one of them."
            )
        order.extend(ready)
        pending = [r for r in pending if r not in ready]
    return order


# -------------------------------------------------------------------------- steps
class _Step:
    rule: Rule
    sources: dict[str, ColumnTransform]

    def model_entries(self) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def forward(self, frame: pd.DataFrame) -> dict[str, Any]:
        raise NotImplementedError

    def inverse(self, frame: pd.DataFrame) -> dict[str, pd.Series]:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _sources_state(self) -> dict[str, Any]:
        return {c: t.state() for c, t in self.sources.items()}


def _numeric(column: str, data: pd.DataFrame, columns: Mapping[str, Any], clip: bool):
    transform = NumericTransform.describe(column, data[column], dict(columns[column]))
    transform.info["clip"] = clip
    return transform


def _float(transform: NumericTransform, series: pd.Series) -> np.ndarray:
    return transform.values(series)


class _GapStep(_Step):
    """``high`` as ``(high - low) / unit``; a missing ``low`` counts as ``ref``."""

    def __init__(
        self, rule: Inequality, sources, unit: float, ref: float, floor: float, ceil: float
    ):
        self.rule, self.sources = rule, sources
        self.unit, self.ref, self.floor, self.ceil = unit, ref, floor, ceil

    @classmethod
    def fit(cls, rule: Inequality, data, columns, clip) -> _GapStep:
        low = _numeric(rule.low, data, columns, clip)
        high = _numeric(rule.high, data, columns, clip)
        if low.info["datetime"]:
            unit = float(min(low.info["unit_ns"], high.info["unit_ns"]))
        else:
            unit = 1.0
        a, b = _float(low, data[rule.low]), _float(high, data[rule.high])
        observed = a[~np.isnan(a)]
        ref = float(np.median(observed)) if len(observed) else 0.0
        if low.info["datetime"]:
            ref = float(np.round(ref / unit) * unit)
        gaps = (b - a)[~np.isnan(a) & ~np.isnan(b)] / unit
        floor, ceil = -np.inf, np.inf
        if _enforced(rule):
            floor = 0.0
            if rule.strict:
                # The smallest gap that stays positive after rounding: one unit for
                # datetimes and integers, else the smallest real positive gap.
                whole = low.info["datetime"] or (low.info["integer"] and high.info["integer"])
                positive = gaps[gaps > 0]
                floor = 1.0 if whole or not len(positive) else float(positive.min())
            is_datetime = bool(low.info["datetime"])
            if rule.min_gap is not None:
                floor = max(floor, gap_to_number(rule, rule.min_gap, is_datetime) / unit)
            if rule.max_gap is not None:
                ceil = gap_to_number(rule, rule.max_gap, is_datetime) / unit
        return cls(rule, {rule.high: high, rule.low: low}, unit, ref, floor, ceil)

    def model_entries(self) -> dict[str, dict[str, Any]]:
        return {self.rule.high: {"kind": "numerical"}}

    def forward(self, frame: pd.DataFrame) -> dict[str, Any]:
        a = _float(self.sources[self.rule.low], frame[self.rule.low])
        b = _float(self.sources[self.rule.high], frame[self.rule.high])
        gap = (b - np.where(np.isnan(a), self.ref, a)) / self.unit
        if self.unit != 1.0:
            gap = np.round(gap)
        return {self.rule.high: gap}

    def inverse(self, frame: pd.DataFrame) -> dict[str, pd.Series]:
        from synthkit.processing.columns import to_float

        gap = to_float(self.rule.high, frame[self.rule.high])
        a = _float(self.sources[self.rule.low], frame[self.rule.low])
        present = ~np.isnan(a)
        with np.errstate(invalid="ignore"):
            bounded = np.clip(gap, self.floor, self.ceil)
        gap = np.where(present & ~np.isnan(gap), bounded, gap)
        b = np.where(present, a, self.ref) + gap * self.unit
        return {self.rule.high: self.sources[self.rule.high].decode_values(b)}

    def state(self) -> dict[str, Any]:
        return {
            "rule": self.rule.to_dict(),
            "sources": self._sources_state(),
            "unit": self.unit,
            "ref": self.ref,
            "floor": _finite(self.floor),
            "ceil": _finite(self.ceil),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _GapStep:
        return cls(
            rule_from_dict(state["rule"]),
            _sources(state),
            state["unit"],
            state["ref"],
            _infinite(state["floor"], -np.inf),
            _infinite(state["ceil"], np.inf),
        )


class _RangeStep(_Step):
    """``column`` as its fraction of the way from ``low`` to ``high``."""

    def __init__(self, rule: Range, sources, low_ref: float, high_ref: float):
        self.rule, self.sources = rule, sources
        self.low_ref, self.high_ref = low_ref, high_ref

    @classmethod
    def fit(cls, rule: Range, data, columns, clip) -> _RangeStep:
        sources = {c: _numeric(c, data, columns, clip) for c in rule.columns}
        x = _float(sources[rule.column], data[rule.column])
        lows = np.concatenate([x, _float(sources[rule.low], data[rule.low])])
        highs = np.concatenate([x, _float(sources[rule.high], data[rule.high])])
        return cls(rule, sources, float(np.nanmin(lows)), float(np.nanmax(highs)))

    def model_entries(self) -> dict[str, dict[str, Any]]:
        return {self.rule.column: {"kind": "numerical"}}

    def _bounds(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        low = _float(self.sources[self.rule.low], frame[self.rule.low])
        high = _float(self.sources[self.rule.high], frame[self.rule.high])
        present = ~np.isnan(low) & ~np.isnan(high)
        low = np.where(np.isnan(low), self.low_ref, low)
        high = np.where(np.isnan(high), np.maximum(self.high_ref, low), high)
        return low, high, present

    def forward(self, frame: pd.DataFrame) -> dict[str, Any]:
        low, high, _ = self._bounds(frame)
        x = _float(self.sources[self.rule.column], frame[self.rule.column])
        width = high - low
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.where(width != 0, (x - low) / np.where(width != 0, width, 1.0), x - low)
        return {self.rule.column: fraction}

    def inverse(self, frame: pd.DataFrame) -> dict[str, pd.Series]:
        from synthkit.processing.columns import to_float

        low, high, present = self._bounds(frame)
        fraction = to_float(self.rule.column, frame[self.rule.column])
        if _enforced(self.rule):
            with np.errstate(invalid="ignore"):
                clamped = np.clip(fraction, 0.0, 1.0)
            fraction = np.where(present & ~np.isnan(fraction), clamped, fraction)
        width = high - low
        x = np.where(width != 0, low + fraction * width, low + fraction)
        target = self.sources[self.rule.column]
        if target.info["datetime"]:
            unit = target.info["unit_ns"]
            x = np.round(x / unit) * unit
        if _enforced(self.rule):  # rounding must not step outside the bounds
            x = np.where(present & ~np.isnan(x), np.clip(x, low, high), x)
        return {self.rule.column: target._to_column(x)}

    def state(self) -> dict[str, Any]:
        return {
            "rule": self.rule.to_dict(),
            "sources": self._sources_state(),
            "low_ref": self.low_ref,
            "high_ref": self.high_ref,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _RangeStep:
        return cls(
            rule_from_dict(state["rule"]), _sources(state), state["low_ref"], state["high_ref"]
        )


class _SumStep(_Step):
    """``total`` as its residual from the sum of the parts (missing parts count 0)."""

    def __init__(self, rule: Sum, sources):
        self.rule, self.sources = rule, sources

    @classmethod
    def fit(cls, rule: Sum, data, columns, clip) -> _SumStep:
        return cls(rule, {c: _numeric(c, data, columns, clip) for c in rule.columns})

    def model_entries(self) -> dict[str, dict[str, Any]]:
        return {self.rule.total: {"kind": "numerical"}}

    def _parts(self, frame: pd.DataFrame) -> np.ndarray:
        parts = [_float(self.sources[p], frame[p]) for p in self.rule.parts]
        return np.nansum(np.stack(parts), axis=0)

    def _round(self, x: np.ndarray) -> np.ndarray:
        info = self.sources[self.rule.total].info
        decimals = 0 if info["integer"] else info["decimals"]
        return np.round(x, decimals) if decimals is not None else x

    def forward(self, frame: pd.DataFrame) -> dict[str, Any]:
        total = _float(self.sources[self.rule.total], frame[self.rule.total])
        return {self.rule.total: self._round(total - self._parts(frame))}

    def inverse(self, frame: pd.DataFrame) -> dict[str, pd.Series]:
        from synthkit.processing.columns import to_float

        residual = to_float(self.rule.total, frame[self.rule.total])
        if _enforced(self.rule):
            residual = np.where(np.isnan(residual), residual, 0.0)
        total = self._parts(frame) + residual
        return {self.rule.total: self.sources[self.rule.total]._to_column(total)}

    def state(self) -> dict[str, Any]:
        return {"rule": self.rule.to_dict(), "sources": self._sources_state()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _SumStep:
        return cls(rule_from_dict(state["rule"]), _sources(state))


class _CombinationStep(_Step):
    """The columns as one joint category: the index of their combination."""

    def __init__(self, rule: FixedCombinations, sources, combos: np.ndarray):
        self.rule, self.sources = rule, sources
        self.combos = np.asarray(combos, dtype=np.int64).reshape(-1, len(rule.columns))
        self._sizes = np.array([len(sources[c].categories) for c in rule.columns], dtype=np.int64)
        self._keys = self._key(self.combos)
        self._order = np.argsort(self._keys)

    @classmethod
    def fit(
        cls, rule: FixedCombinations, data, columns, clip, rare_threshold: int = 0
    ) -> _CombinationStep:
        members = list(rule.columns)
        # How many rows share each row's combination (missing counts as a value).
        factors = np.stack(
            [pd.factorize(data[c], use_na_sentinel=False)[0] for c in members], axis=1
        )
        _, inverse, counts = np.unique(factors, axis=0, return_inverse=True, return_counts=True)
        per_row = counts[inverse.reshape(-1)]
        kept = per_row >= rare_threshold
        if not kept.any():  # keep the most common combination
            kept = per_row == per_row.max()
        rows = data[kept]
        sources = {c: CategoricalTransform.describe(c, rows[c], 0) for c in members}
        codes = np.stack([sources[c].codes(rows[c]) for c in members], axis=1)
        combos, counts = np.unique(codes, axis=0, return_counts=True)
        # The most frequent combination first: unknown combinations map to it.
        combos = combos[np.argsort(-counts, kind="stable")]
        return cls(rule, sources, combos)

    def _key(self, codes: np.ndarray) -> np.ndarray:
        key = np.zeros(len(codes), dtype=np.int64)
        for j, size in enumerate(self._sizes):
            key = key * int(size) + codes[:, j]
        return key

    def model_entries(self) -> dict[str, dict[str, Any]]:
        return {c: {"kind": "categorical"} for c in self.rule.columns}

    def forward(self, frame: pd.DataFrame) -> dict[str, Any]:
        codes = np.stack([self.sources[c].codes(frame[c]) for c in self.rule.columns], axis=1)
        keys = self._key(codes)
        sorted_keys = self._keys[self._order]
        position = np.clip(np.searchsorted(sorted_keys, keys), 0, len(sorted_keys) - 1)
        found = sorted_keys[position] == keys
        index = np.where(found, self._order[position], 0)
        first, *rest = self.rule.columns
        out: dict[str, Any] = {first: index.astype(np.int64)}
        for column in rest:
            out[column] = np.zeros(len(frame), dtype=np.int64)
        return out

    def inverse(self, frame: pd.DataFrame) -> dict[str, pd.Series]:
        index = pd.to_numeric(frame[self.rule.columns[0]]).to_numpy(dtype=np.int64)
        codes = self.combos[np.clip(index, 0, len(self.combos) - 1)]
        return {
            c: self.sources[c].decode_codes(codes[:, j]) for j, c in enumerate(self.rule.columns)
        }

    def state(self) -> dict[str, Any]:
        return {
            "rule": self.rule.to_dict(),
            "sources": self._sources_state(),
            "combos": self.combos.tolist(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _CombinationStep:
        return cls(rule_from_dict(state["rule"]), _sources(state), np.asarray(state["combos"]))


class _FormulaStep(_Step):
    """``column`` as whether it is present; its values are the expression's result.

    The state holds the rule and the column's dtype only: no real value.
    """

    def __init__(self, rule: Formula, dtype: str, integer: bool):
        self.rule, self.sources = rule, {}
        self.dtype, self.integer = dtype, integer

    @classmethod
    def fit(cls, rule: Formula, data, columns, clip) -> _FormulaStep:
        dtype = data[rule.column].dtype
        # A categorical dtype would store the real values as its categories.
        name = "float64" if isinstance(dtype, pd.CategoricalDtype) else str(dtype)
        integer = bool(columns[rule.column].get("integer")) or pd.api.types.is_integer_dtype(dtype)
        return cls(rule, name, integer)

    def model_entries(self) -> dict[str, dict[str, Any]]:
        return {self.rule.column: {"kind": "boolean"}}

    def forward(self, frame: pd.DataFrame) -> dict[str, Any]:
        from synthkit.processing.columns import to_float

        return {self.rule.column: ~np.isnan(to_float(self.rule.column, frame[self.rule.column]))}

    def inverse(self, frame: pd.DataFrame) -> dict[str, pd.Series]:
        from synthkit.processing.columns import restore_dtype, to_float

        values = {c: to_float(c, frame[c]) for c in self.rule.anchors}
        result = self.rule.evaluate(values)
        if self.integer:
            result = np.round(result)
        drawn = frame[self.rule.column]
        present = drawn.notna().to_numpy() & drawn.fillna(False).astype(bool).to_numpy()
        result = np.where(present & np.isfinite(result), result, np.nan)
        return {self.rule.column: restore_dtype(pd.Series(result), {"dtype": self.dtype})}

    def state(self) -> dict[str, Any]:
        return {"rule": self.rule.to_dict(), "dtype": self.dtype, "integer": self.integer}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _FormulaStep:
        return cls(rule_from_dict(state["rule"]), state["dtype"], state["integer"])


_STEPS: dict[str, type] = {
    "inequality": _GapStep,
    "range": _RangeStep,
    "sum": _SumStep,
    "fixed_combinations": _CombinationStep,
    "formula": _FormulaStep,
}


def _fit_step(
    rule: Rule, data: pd.DataFrame, columns: Mapping[str, Any], clip: bool, rare_threshold: int
) -> _Step:
    if isinstance(rule, FixedCombinations):
        return _CombinationStep.fit(rule, data, columns, clip, rare_threshold)
    return _STEPS[rule.kind].fit(rule, data, columns, clip)


def _sources(state: Mapping[str, Any]) -> dict[str, ColumnTransform]:
    return {c: transform_from_state(c, s) for c, s in state["sources"].items()}


def _finite(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _infinite(value: float | None, default: float) -> float:
    return default if value is None else float(value)
