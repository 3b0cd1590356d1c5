"""Propose the rules a real table obeys: inequalities and fixed combinations.

Cheap by design: at most :data:`SAMPLE_ROWS` rows, one vectorized comparison per
pair of same-kind columns, and only pairs worth a rule — columns whose central
ranges (5th to 95th percentile) overlap, since a pair ordered by its ranges alone
(``age < fnlwgt``) says nothing about the rows. Rules implied by others
(``a < c`` when ``a < b`` and ``b < c`` are found) are left out, and no column is
the later column of two rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.rules._core import FixedCombinations, Inequality, Rule, column_values

__all__ = ["MIN_SHARE", "SAMPLE_ROWS", "propose_rules"]

#: An inequality is proposed when at least this share of non-null rows obeys it.
MIN_SHARE = 0.97
#: Detection looks at no more rows than this.
SAMPLE_ROWS = 5_000
# Ties this common make "a >= b" mostly "a == b": not a rule worth keeping.
_MAX_TIES = 0.5
# A fixed combination's columns must each have at most this many values, and
# every combination must be seen this many times on average.
_MAX_COMBINATION_VALUES = 1_000
_MIN_ROWS_PER_COMBINATION = 5


def propose_rules(data: pd.DataFrame, metadata: Any) -> list[Rule]:
    """The rules ``data`` obeys, for :meth:`Metadata.detect` to record.

    Example:
        >>> start = np.arange(200) % 37
        >>> df = pd.DataFrame({"tstart": start, "tstop": start + 1 + np.arange(200) % 11})
        >>> from synthkit.metadata import Metadata
        >>> propose_rules(df, Metadata.detect(df, rules=False))
        [Inequality(tstop > tstart (held by 100.0 % of real rows))]
    """
    sample = data.sample(SAMPLE_ROWS, random_state=0) if len(data) > SAMPLE_ROWS else data
    rules: list[Rule] = []
    for kind in ("numerical", "datetime"):
        rules.extend(_inequalities(sample, metadata, metadata.columns_of_kind(kind)))
    rules.extend(_combinations(data, metadata))
    return rules


def _inequalities(data: pd.DataFrame, metadata: Any, columns: list[str]) -> list[Inequality]:
    if len(columns) < 2:
        return []
    values = np.stack([column_values(data, c, metadata.columns[c]) for c in columns], axis=1)
    with np.errstate(invalid="ignore"):
        low_q = np.nanquantile(values, 0.05, axis=0)
        high_q = np.nanquantile(values, 0.95, axis=0)
    found: list[tuple[float, Inequality]] = []
    for i in range(len(columns)):
        # Compare column i with every later column at once: [rows, later columns].
        later = values[:, i + 1 :]
        both = ~np.isnan(values[:, i : i + 1]) & ~np.isnan(later)
        count = both.sum(axis=0)
        with np.errstate(invalid="ignore"):
            less = ((values[:, i : i + 1] < later) & both).sum(axis=0)
            greater = ((values[:, i : i + 1] > later) & both).sum(axis=0)
        for offset, j in enumerate(range(i + 1, len(columns))):
            n = int(count[offset])
            overlap = low_q[i] <= high_q[j] and low_q[j] <= high_q[i]
            # A rule on the few rows where both are present is not worth proposing.
            if n < max(20, 0.1 * len(data)) or not overlap:
                continue
            if not _same_unit(metadata, columns[i], columns[j]):
                continue
            ties = n - int(less[offset]) - int(greater[offset])
            if ties / n > _MAX_TIES:
                continue
            for lt, low, high in ((less, i, j), (greater, j, i)):
                strict_share = int(lt[offset]) / n
                loose_share = (int(lt[offset]) + ties) / n
                if strict_share >= MIN_SHARE:
                    rule = Inequality(columns[low], columns[high], True, share=_round(strict_share))
                elif loose_share >= MIN_SHARE:
                    rule = Inequality(columns[low], columns[high], False, share=_round(loose_share))
                else:
                    continue
                found.append((rule.share, rule))
    return _prune([rule for _, rule in sorted(found, key=lambda item: -item[0])])


def _same_unit(metadata: Any, a: str, b: str) -> bool:
    """Counts compare with counts and measures with measures (age in years vs kilos)."""
    entry_a, entry_b = metadata.columns[a], metadata.columns[b]
    if entry_a["kind"] == "datetime":
        return True
    return bool(entry_a.get("integer")) == bool(entry_b.get("integer"))


def _prune(rules: list[Inequality]) -> list[Inequality]:
    """Drop implied rules (transitive) and keep one rule per later column."""
    pairs = {(r.low, r.high) for r in rules}
    kept: list[Inequality] = []
    highs: set[str] = set()
    for rule in rules:
        implied = any(
            (rule.low, mid) in pairs and (mid, rule.high) in pairs
            for mid in {r.high for r in rules}
        )
        if implied or rule.high in highs:
            continue
        # A column that is the later one of a kept rule cannot also anchor it back.
        if any(k.low == rule.high and k.high == rule.low for k in kept):
            continue
        kept.append(rule)
        highs.add(rule.high)
    return kept


def _combinations(data: pd.DataFrame, metadata: Any) -> list[FixedCombinations]:
    """Groups of categorical columns where one column determines the others exactly."""
    columns = [
        c
        for c in metadata.columns_of_kind("categorical")
        if 2 <= data[c].nunique(dropna=False) <= _MAX_COMBINATION_VALUES
    ]
    if len(columns) < 2:
        return []
    codes = {c: pd.factorize(data[c], use_na_sentinel=False)[0] for c in columns}
    sizes = {c: int(codes[c].max()) + 1 for c in columns}
    # determines[a] = columns whose value is a function of a's value.
    groups: list[set[str]] = []
    for a in columns:
        if len(data) / sizes[a] < _MIN_ROWS_PER_COMBINATION:
            continue
        for b in columns:
            if a == b or sizes[b] >= sizes[a]:
                continue
            pairs = np.unique(codes[a] * sizes[b] + codes[b])
            if len(pairs) == sizes[a]:  # each value of a meets exactly one value of b
                merged = [g for g in groups if a in g or b in g]
                group = {a, b}.union(*merged)
                groups = [g for g in groups if g not in merged] + [group]
    order = {c: i for i, c in enumerate(metadata.columns)}
    return [FixedCombinations(tuple(sorted(g, key=order.__getitem__)), share=1.0) for g in groups]


def _round(share: float) -> float:
    return float(np.floor(share * 10_000) / 10_000)
