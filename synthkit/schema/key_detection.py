"""Propose primary and foreign keys for related tables from names, uniqueness and containment.

A primary key is a column that is unique and never missing, holds whole numbers
or text, and looks like a key: named ``id``, ``<table>_id`` or
``<singular>_id``, ending in ``id``/``key``/``code``, or pointed at by another
table's column. A foreign key is a child column of the same kind whose values
lie in a parent's key: by name (the parent key's own name, ``<parent>_id``) with
at least half its values found there, or, for text, under any name with at
least 90% found (``flights.origin`` in ``airports.faa``). Containment below 100%
means orphans: the proposal says how many, and building refuses them unless
``orphans="drop"`` or ``"null"``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synthkit.schema._record_checks import value_kind
from synthkit.schema.relationship import Relationship

if TYPE_CHECKING:
    from synthkit.schema.records import RecordDataset

__all__ = ["ForeignKeyFinding", "KeyProposal", "detect_keys"]

NAMED_CONTAINMENT = 0.5
UNNAMED_CONTAINMENT = 0.9
_KEY_SUFFIXES = ("id", "key", "code")
_MAX_PAIRS = 40


@dataclass(frozen=True)
class ForeignKeyFinding:
    """What detection saw for one proposed foreign key.

    Attributes:
        relationship: The proposed link.
        containment: Share of the child's set keys found in the parent's key.
        orphans: Child rows whose set key is not in the parent.
        missing: Child rows with no key (no parent, not orphans).
        example: One orphan key value, if any.
        by_name: Whether the column's name matched the parent key (else values only).
    """

    relationship: Relationship
    containment: float
    orphans: int
    missing: int
    example: object | None
    by_name: bool

    def __str__(self) -> str:
        link = self.relationship
        text = (
            f"{link.child}.{link.child_key} -> {link.parent}.{link.parent_key}: "
            f"{self.containment:.1%} of set keys found"
            f"{'' if self.by_name else ' (values only; names differ)'}"
        )
        if self.orphans:
            text += f", {self.orphans} orphan row(s) (for example {self.example!r})"
        if self.missing:
            text += f", {self.missing} row(s) without a key"
        return text


@dataclass
class KeyProposal:
    """Proposed keys of related tables, to confirm or edit before building the dataset.

    Attributes:
        primary_keys: Table name to proposed primary key column.
        relationships: Proposed links, children in table order.
        findings: Containment and orphans of each proposed link.
        unlinked: Tables no proposed relationship links.
        rejected: Text columns under another name with too few values in a key.
        table_names: The tables looked at.
        composite: Table name to a pair of columns unique together that another
            table also holds: a composite key, which relationships do not take
            (build one key column; see :class:`Relationship`).

    Example:
        >>> import pandas as pd
        >>> tables = {
        ...     "airports": pd.DataFrame({"faa": ["EWR", "JFK", "LGA"]}),
        ...     "flights": pd.DataFrame({"origin": ["EWR", "JFK", "EWR"],
        ...                              "dest": ["LGA", "JFK", "SJU"]}),
        ... }
        >>> proposal = detect_keys(tables)
        >>> print(proposal)
        Primary keys: airports.faa; flights: none
        Foreign keys:
          flights.origin -> airports.faa: 100.0% of set keys found (values only; names differ)
        Left out (under 90% found): flights.dest -> airports.faa: 66.7%
        >>> proposal.relationships.append(Relationship("airports", "flights", "faa", "dest"))
        >>> proposal.build(tables, orphans="null").tables["flights"]["dest"].tolist()
        ['LGA', 'JFK', nan]
    """

    primary_keys: dict[str, str]
    relationships: list[Relationship]
    findings: list[ForeignKeyFinding] = field(default_factory=list)
    unlinked: list[str] = field(default_factory=list)
    composite: dict[str, tuple[str, str]] = field(default_factory=dict)
    rejected: list[ForeignKeyFinding] = field(default_factory=list)
    table_names: list[str] = field(default_factory=list)

    def build(
        self,
        tables: Mapping[str, pd.DataFrame],
        *,
        orphans: str = "raise",
        independent: Sequence[str] | None = None,
        root: str | None = None,
    ) -> RecordDataset:
        """Build the :class:`RecordDataset` with these keys.

        Args:
            tables: The tables the proposal was made for.
            orphans: ``"raise"``, ``"drop"`` or ``"null"`` (see :class:`RecordDataset`).
            independent: Tables on their own; default: those no relationship links.
            root: The table at the top of the nesting, if several have no parent.
        """
        from synthkit.schema.records import RecordDataset

        linked = {r.parent for r in self.relationships} | {r.child for r in self.relationships}
        if independent is None:
            independent = [name for name in tables if name not in linked]
        return RecordDataset(
            tables,
            self.relationships,
            primary_keys=self.primary_keys,
            orphans=orphans,
            independent=independent if self.relationships else (),
            root=root,
        )

    def __str__(self) -> str:
        keys = [f"{t}.{k}" for t, k in self.primary_keys.items()]
        keyless = [f"{t}: none" for t in self.table_names if t not in self.primary_keys]
        lines = [f"Primary keys: {'; '.join(keys + keyless)}", "Foreign keys:"]
        lines += [f"  {finding}" for finding in self.findings] or ["  none found"]
        if self.rejected:
            lines.append(
                f"Left out (under {UNNAMED_CONTAINMENT:.0%} found): "
                + "; ".join(
                    f"{r.relationship.child}.{r.relationship.child_key} -> "
                    f"{r.relationship.parent}.{r.relationship.parent_key}: {r.containment:.1%}"
                    for r in self.rejected
                )
            )
        if self.unlinked and self.relationships:
            lines.append(f"Not linked (built as independent tables): {', '.join(self.unlinked)}")
        for table, pair in self.composite.items():
            lines.append(
                f"Composite key of {table!r}: {pair} is unique together and found in another "
                "table; relationships take one column, so build one key column in both "
                "tables to relate them."
            )
        if any(finding.orphans for finding in self.findings):
            lines.append(
                "Orphans are refused when building: build(tables, orphans='drop') drops "
                "those rows, orphans='null' blanks their key."
            )
        return "\n".join(lines)


def detect_keys(tables: Mapping[str, pd.DataFrame]) -> KeyProposal:
    """Propose primary and foreign keys for ``tables`` (see the module's rules).

    Example:
        >>> import pandas as pd
        >>> patients = pd.DataFrame({"id": [1, 2, 3], "age": [57, 67, 41]})
        >>> labs = pd.DataFrame({"id": [1, 1, 3], "days": [0, 2, 9]})
        >>> proposal = detect_keys({"patients": patients, "labs": labs})
        >>> proposal.primary_keys, [str(f) for f in proposal.findings]
        ({'patients': 'id'}, ['labs.id -> patients.id: 100.0% of set keys found'])
    """
    names = list(tables)
    # Each column's kind once: inferring it scans the column.
    kinds = {where: value_kind(tables[where[0]][where[1]]) for where in _all_columns(tables)}
    candidates = {name: _key_candidates(name, frame) for name, frame in tables.items()}
    present: dict[tuple[str, str], pd.Series] = {}  # value counts per child column
    links: list[tuple[float, ForeignKeyFinding]] = []
    rejected: list[ForeignKeyFinding] = []
    for parent, keys in candidates.items():
        for key in keys:
            for child in names:
                if child == parent:
                    continue
                for column in tables[child].columns:
                    finding = _match(tables, parent, key, child, column, candidates, kinds, present)
                    if finding is None:
                        continue
                    needed = NAMED_CONTAINMENT if finding.by_name else UNNAMED_CONTAINMENT
                    if finding.containment >= needed:
                        links.append((_strength(finding), finding))
                    elif finding.containment >= NAMED_CONTAINMENT:
                        rejected.append(finding)
    primary_keys = _choose_keys(tables, candidates, [f for _, f in links])
    chosen = [
        (strength, f)
        for strength, f in links
        if primary_keys.get(f.relationship.parent) == f.relationship.parent_key
    ]
    findings = _without_cycles(_one_parent_per_column(chosen))
    position = {(name, column): i for i, (name, column) in enumerate(_all_columns(tables))}
    findings.sort(key=lambda f: position[(f.relationship.child, f.relationship.child_key)])
    relationships = [f.relationship for f in findings]
    linked = {r.parent for r in relationships} | {r.child for r in relationships}
    kept = {(f.relationship.child, f.relationship.child_key) for f in findings}
    return KeyProposal(
        primary_keys=primary_keys,
        relationships=relationships,
        findings=findings,
        unlinked=[name for name in names if name not in linked],
        composite=_composite_keys(tables, primary_keys),
        rejected=[
            f
            for f in rejected
            if (f.relationship.child, f.relationship.child_key) not in kept
            and primary_keys.get(f.relationship.parent) == f.relationship.parent_key
        ],
        table_names=names,
    )


def _all_columns(tables: Mapping[str, pd.DataFrame]) -> list[tuple[str, str]]:
    return [(name, column) for name, frame in tables.items() for column in frame.columns]


def _key_candidates(name: str, frame: pd.DataFrame) -> list[str]:
    """Columns unique and never missing that hold whole numbers or text."""
    out = []
    for column in frame.columns:
        values = frame[column]
        if not len(values) or values.isna().any() or not values.is_unique:
            continue
        kind = value_kind(values)
        if kind == "number" and not _whole(values):
            continue
        if kind in ("number", "text"):
            out.append(column)
    return out


def _whole(values: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(values.dtype):
        return True
    numbers = pd.to_numeric(values.dropna(), errors="coerce")
    return bool(np.all(np.mod(numbers, 1) == 0))


def _singulars(table: str) -> set[str]:
    name = table.lower()
    out = {name}
    if name.endswith("ies"):
        out.add(name[:-3] + "y")
    if name.endswith("es"):
        out.add(name[:-2])
    if name.endswith("s"):
        out.add(name[:-1])
    return out


def _own_key_name(table: str, column: str) -> bool:
    """``id``, ``<table>_id``, ``<singular>_id`` (or without the underscore)."""
    lowered = column.lower()
    return lowered == "id" or any(lowered in (f"{s}_id", f"{s}id") for s in _singulars(table))


def _name_score(column: str, parent: str, key: str) -> int:
    """How well ``column`` is named for pointing at ``parent.key``.

    2: after the parent table (``<singular>_<key>``, ``<singular>_id``); 1: the
    key's own name (``id``, ``tailnum``) or ending in it (``origin_faa``); 0: unrelated.
    """
    lowered, key = column.lower(), key.lower()
    if any(lowered in (f"{s}_{key}", f"{s}_id", f"{s}id") for s in _singulars(parent)):
        return 2
    # Any "<x>_id" would match every table keyed by a plain "id"; only a specific key name counts.
    if lowered == key or (key != "id" and lowered.endswith(f"_{key}")):
        return 1
    return 0


def _match(
    tables: Mapping[str, pd.DataFrame],
    parent: str,
    key: str,
    child: str,
    column: str,
    candidates: Mapping[str, list[str]],
    kinds: Mapping[tuple[str, str], str],
    present: dict[tuple[str, str], pd.Series],
) -> ForeignKeyFinding | None:
    values = tables[child][column]
    kind = kinds[(child, column)]
    if kind != kinds[(parent, key)] or kind not in ("number", "text"):
        return None
    name_score = _name_score(column, parent, key)
    if name_score < 2 and column in candidates[child] and _own_key_name(child, column):
        return None  # the child's own key ("id" of two tables), not a pointer to the parent
    by_name = name_score > 0
    if not by_name and kind != "text":
        return None  # numbers under unrelated names fall in any id range by chance
    if (child, column) not in present:
        # One pass per column: its distinct values and how many rows hold each, in
        # order of first appearance (so the example orphan is the first one met).
        present[(child, column)] = values.value_counts(sort=False)
    counts = present[(child, column)]
    if len(counts) < 2 and not by_name:
        return None
    total = int(counts.sum())
    if not total:
        return None
    found = counts.index.isin(tables[parent][key])
    # A unique child column that also holds the parent's every key is a one-to-one
    # link; the table listed first is taken as the parent.
    one_to_one = column in candidates[child] and tables[parent][key].isin(counts.index).all()
    if one_to_one and list(tables).index(child) < list(tables).index(parent):
        return None
    orphans = int(counts[~found].sum())
    example = counts.index[~found][0] if orphans else None
    return ForeignKeyFinding(
        relationship=Relationship(parent, child, key, column),
        containment=float(counts[found].sum() / total),
        orphans=orphans,
        missing=len(values) - total,
        example=example.item() if hasattr(example, "item") else example,
        by_name=by_name,
    )


def _strength(finding: ForeignKeyFinding) -> float:
    link = finding.relationship
    return finding.containment + _name_score(link.child_key, link.parent, link.parent_key)


def _choose_keys(
    tables: Mapping[str, pd.DataFrame],
    candidates: Mapping[str, list[str]],
    findings: list[ForeignKeyFinding],
) -> dict[str, str]:
    referenced = {(f.relationship.parent, f.relationship.parent_key) for f in findings}
    referencing = {(f.relationship.child, f.relationship.child_key) for f in findings}
    out = {}
    for name, columns in candidates.items():
        scored = []
        for position, column in enumerate(columns):
            if (name, column) in referencing and not _own_key_name(name, column):
                continue  # another table's key, unique here by chance (one row per parent)
            score = 0
            if _own_key_name(name, column):
                score += 4
            elif column.lower().endswith(_KEY_SUFFIXES):
                score += 2
            if (name, column) in referenced:
                score += 3
            if value_kind(tables[name][column]) == "text" and not _code_like(tables[name][column]):
                score -= 1  # free text (names with spaces) is rarely a key
            scored.append((score, -position, column))
        best = max(scored, default=None)
        if best is not None and best[0] >= 2:
            out[name] = best[2]
    return out


def _code_like(values: pd.Series) -> bool:
    text = values.astype(str)
    return bool((~text.str.contains(r"\s")).all() and text.str.len().max() <= 24)


def _one_parent_per_column(
    links: list[tuple[float, ForeignKeyFinding]],
) -> list[tuple[float, ForeignKeyFinding]]:
    best: dict[tuple[str, str], tuple[float, ForeignKeyFinding]] = {}
    for strength, finding in links:
        where = (finding.relationship.child, finding.relationship.child_key)
        if where not in best or strength > best[where][0]:
            best[where] = (strength, finding)
    return list(best.values())


def _without_cycles(links: list[tuple[float, ForeignKeyFinding]]) -> list[ForeignKeyFinding]:
    """Keep the strongest links first, skipping any that would make a table its own ancestor."""
    kept: list[ForeignKeyFinding] = []
    for _, finding in sorted(links, key=lambda pair: -pair[0]):
        link = finding.relationship
        if not _reaches(kept, link.parent, link.child) and link.parent != link.child:
            kept.append(finding)
    return kept


def _reaches(findings: list[ForeignKeyFinding], start: str, target: str) -> bool:
    """Whether ``target`` is an ancestor of ``start`` (walking child -> parent)."""
    seen, frontier = set(), [start]
    while frontier:
        name = frontier.pop()
        if name == target:
            return True
        seen.add(name)
        frontier += [
            f.relationship.parent
            for f in findings
            if f.relationship.child == name and f.relationship.parent not in seen
        ]
    return False


def _composite_keys(
    tables: Mapping[str, pd.DataFrame], primary_keys: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """Pairs of columns unique together in a keyless table and present in another table."""
    out = {}
    for name, frame in tables.items():
        if name in primary_keys or not len(frame):
            continue
        shared = [
            c
            for c in frame.columns
            if any(c in other.columns for o, other in tables.items() if o != name)
        ]
        distinct = {c: frame[c].nunique() for c in shared if not frame[c].hasnans}
        for pair in itertools.islice(itertools.combinations(distinct, 2), _MAX_PAIRS):
            columns = list(pair)
            # Fewer value combinations than rows cannot be unique; skip the scan.
            possible = distinct[pair[0]] * distinct[pair[1]] >= len(frame)
            if possible and not frame.duplicated(columns).any():
                out[name] = pair
                break
    return out
