"""Fidelity across related tables: keys, children per parent and trends along foreign-key paths.

These metrics read :class:`~synthkit.evaluation.records.RecordEvaluationData`
(real and synthetic databases of related tables) and apply to records only:

* referential integrity and primary-key uniqueness: the synthetic keys hold;
* cardinality: how many children each parent has (sequence lengths, reused
  from the sequence evaluation, parents without children counting 0);
* inter-table trends (sdmetrics' ``InterTableTrends``): each child row joined
  with its parent, pairs of one parent column and one child column scored as
  single-table column pair trends are;
* aggregate trends: a parent's columns against its children's aggregates
  (count, mean of each number, share of each category);
* k-hop trends (ClavaDDPM's long-range measure): the same pairs between a table
  and its grandparent (2 hops) or deeper ancestors, joined along the path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.fidelity import (
    _numbers_and_bins,
    contingency_similarity,
    correlation_similarity,
    ks_complement,
)
from synthkit.evaluation.sequences import entity_features
from synthkit.schema.relationship import Relationship

if TYPE_CHECKING:
    from synthkit.evaluation.records import RecordEvaluationData

__all__ = [
    "AggregateTrends",
    "CardinalitySimilarity",
    "InterTableTrends",
    "KHopTrends",
    "PrimaryKeyUniqueness",
    "ReferentialIntegrity",
    "children_per_parent",
    "foreign_key_paths",
    "pair_trends",
    "valid_foreign_keys",
]

# Category shares kept per child column in aggregate trends (most frequent real levels).
_SHARE_LEVELS = 10


def relationship_label(link: Relationship) -> str:
    """Name a relationship by the child's foreign key and the parent it points at.

    Example:
        >>> relationship_label(Relationship("patients", "labs", "id", "patient_id"))
        'labs.patient_id -> patients'
    """
    return f"{link.child}.{link.child_key} -> {link.parent}"


def valid_foreign_keys(child_keys: pd.Series, parent_keys: pd.Series) -> np.ndarray:
    """Whether each foreign key points at an existing parent key (missing keys are invalid).

    Example:
        >>> valid_foreign_keys(pd.Series([1, 2, 7, None]), pd.Series([1, 2, 3])).tolist()
        [True, True, False, False]
    """
    return (child_keys.isin(parent_keys.dropna()) & child_keys.notna()).to_numpy()


def foreign_key_paths(relationships: Sequence[Relationship], hops: int) -> list[list[Relationship]]:
    """Every chain of ``hops`` relationships going down from an ancestor to a descendant.

    Example:
        >>> links = [Relationship("a", "b", "id", "a_id"), Relationship("b", "c", "id", "b_id")]
        >>> [[link.child for link in path] for path in foreign_key_paths(links, 2)]
        [['b', 'c']]
    """
    paths: list[list[Relationship]] = [[link] for link in relationships]
    for _ in range(hops - 1):
        paths = [
            [*path, link]
            for path in paths
            for link in relationships
            if link.parent == path[-1].child and link.child not in {p.parent for p in path}
        ]
    return paths


def pair_trends(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    numeric: set[str],
) -> list[dict[str, Any]]:
    """Score column pairs as sdmetrics' single-table column pair trends do.

    Two number columns: correlation similarity (Pearson). Any other pair:
    contingency similarity, numbers cut into 10 equal-width bins of the real
    range first, the end bins open (synthetic values beyond the real range fall
    in them), as sdmetrics' ``discretize_column`` does.

    Example:
        >>> real = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": [1.0, 2, 3, 5], "c": list("aabb")})
        >>> [round(p["score"], 3) for p in pair_trends(real, real, [("x", "y"), ("x", "c")],
        ...                                            {"x", "y"})]
        [1.0, 1.0]
    """
    used = {column for pair in pairs for column in pair}
    numbers = [c for c in real.columns if c in numeric and c in used]
    real, real_bins = _numbers_and_bins(real.loc[:, sorted(used)], numbers)
    synthetic, synthetic_bins = _numbers_and_bins(synthetic.loc[:, sorted(used)], numbers)
    for column in numbers:
        synthetic_bins[column] = _binned_as_real(real[column], synthetic[column])
    scored = []
    for first, second in pairs:
        entry: dict[str, Any] = {"column_1": first, "column_2": second}
        if first in real_bins and second in real_bins:
            score, r_real, r_synthetic = correlation_similarity(
                real[[first, second]], synthetic[[first, second]]
            )
            entry.update(
                metric="CorrelationSimilarity",
                real_correlation=r_real,
                synthetic_correlation=r_synthetic,
            )
        else:
            frames = [
                pd.DataFrame({c: bins.get(c, frame[c]) for c in (first, second)})
                for frame, bins in ((real, real_bins), (synthetic, synthetic_bins))
            ]
            score = contingency_similarity(*frames) if len(frames[1]) else float("nan")
            entry["metric"] = "ContingencySimilarity"
        entry["score"] = score
        scored.append(entry)
    return scored


def _binned_as_real(real: pd.Series, synthetic: pd.Series) -> pd.Series:
    """Synthetic numbers in the real column's bins (``_numbers_and_bins``'s edges, ends open).

    Binning each side on its own range would let one far synthetic value move
    every synthetic bin, so bin k would not mean the same values on both sides.

    Example:
        >>> _binned_as_real(pd.Series([0.0, 10.0]), pd.Series([5.0, 100.0, -3.0])).tolist()
        [6, 11, 1]
    """
    values = real.to_numpy(dtype=np.float64)
    finite = values[~np.isnan(values)]
    edges = np.histogram_bin_edges(finite) if finite.size else np.array([0.0, 1.0])
    # The same ids as the real side's digitize: beyond the top edge (with missing values)
    # the last id, below the bottom edge the first.
    binned = np.maximum(np.digitize(synthetic.to_numpy(dtype=np.float64), bins=edges), 1)
    return pd.Series(binned, index=synthetic.index)


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if v is not None and not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


class ReferentialIntegrity(Metric):
    """Share of synthetic foreign keys that point at an existing parent, worst relationship.

    Must be 1.0: a child whose parent does not exist cannot be loaded into a
    database with its foreign keys declared. Details give each relationship's
    share and an example of a broken key.
    """

    name = "referential_integrity"
    category = "fidelity"
    direction = "higher"
    explanation = "Share of synthetic foreign keys pointing at an existing parent (worst link)."
    shapes = ("records",)

    def score(self, data: RecordEvaluationData) -> MetricResult:
        """Check every foreign key of every synthetic child table."""
        per_link: dict[str, float] = {}
        broken: dict[str, dict[str, Any]] = {}
        for link in data.relationships:
            child = data.raw("synthetic", link.child)
            parent = data.raw("synthetic", link.parent)
            valid = valid_foreign_keys(child[link.child_key], parent[link.parent_key])
            label = relationship_label(link)
            per_link[label] = float(valid.mean()) if valid.size else 1.0
            if not valid.all():
                example = child[link.child_key].to_numpy()[~valid][0]
                broken[label] = {
                    "invalid_rows": int((~valid).sum()),
                    "rows": int(valid.size),
                    "example": example.item() if hasattr(example, "item") else example,
                }
        value = min(per_link.values()) if per_link else 1.0
        return MetricResult(
            value,
            details={"per_relationship": per_link, "broken": broken, "unit": "child row"},
        )


class PrimaryKeyUniqueness(Metric):
    """Share of synthetic primary-key values that are present and unique, worst table."""

    name = "primary_key_uniqueness"
    category = "fidelity"
    direction = "higher"
    explanation = "Share of synthetic rows whose primary key is present and unique (worst table)."
    shapes = ("records",)

    def score(self, data: RecordEvaluationData) -> MetricResult:
        """Count missing and repeated primary keys of every synthetic table."""
        per_table: dict[str, float] = {}
        for table, key in data.primary_keys.items():
            values = data.raw("synthetic", table)[key]
            bad = values.isna() | values.duplicated(keep=False)
            per_table[table] = float(1.0 - bad.mean()) if len(values) else 1.0
        value = min(per_table.values()) if per_table else 1.0
        return MetricResult(value, details={"per_table": per_table, "unit": "row"})


def children_per_parent(child_keys: pd.Series, parent_keys: pd.Series) -> np.ndarray:
    """Number of children of each parent, in the parents' order (0 for parents without any).

    Children pointing at no parent are not counted.

    Example:
        >>> children_per_parent(pd.Series(["b", "c", "c", "x"]), pd.Series(list("abc"))).tolist()
        [0, 1, 2]
    """
    counts = child_keys.value_counts()
    return counts.reindex(parent_keys.to_numpy(), fill_value=0).to_numpy()


class CardinalitySimilarity(Metric):
    """One minus the KS statistic of children per parent, averaged over relationships.

    Each relationship is compared as a sequence evaluation compares lengths:
    the children of one parent are its history, and parents without children
    count 0. Children whose foreign key is broken are left out (referential
    integrity counts them). Details give each relationship's score and the
    worst one.
    """

    name = "cardinality_similarity"
    category = "fidelity"
    direction = "higher"
    explanation = "How alike the number of children per parent is (1 - KS), per relationship."
    shapes = ("records",)

    def score(self, data: RecordEvaluationData) -> MetricResult:
        """Compare children per parent of every relationship."""
        per_link: dict[str, float] = {}
        mean_children: dict[str, dict[str, float]] = {}
        no_children: dict[str, dict[str, float]] = {}
        for link in data.relationships:
            label = relationship_label(link)
            counts = {
                side: children_per_parent(
                    data.raw(side, link.child)[link.child_key],
                    data.raw(side, link.parent)[link.parent_key].drop_duplicates(),
                )
                for side in ("real", "synthetic")
            }
            per_link[label] = ks_complement(
                pd.Series(counts["real"]), pd.Series(counts["synthetic"])
            )
            mean_children[label] = {s: float(c.mean()) for s, c in counts.items()}
            no_children[label] = {s: float((c == 0).mean()) for s, c in counts.items()}
        return MetricResult(
            _mean(list(per_link.values())),
            details={
                "per_relationship": per_link,
                "worst": min(per_link.values(), default=float("nan")),
                "mean_children": mean_children,
                "no_children_share": no_children,
                "unit": "parent row",
            },
        )


def _path_pairs(data: RecordEvaluationData, path: Sequence[Relationship]) -> list[dict[str, Any]]:
    """Pairs (top table column, bottom table column) on bottom rows joined up the path."""
    top, bottom = path[0].parent, path[-1].child
    frames = [data.joined(side, path) for side in ("real", "synthetic")]
    top_columns = [f"{top}.{c}" for c in data.table(top).columns]
    bottom_columns = [f"{bottom}.{c}" for c in data.table(bottom).columns]
    numeric = {f"{top}.{c}" for c in data.table(top).numeric_columns}
    numeric |= {f"{bottom}.{c}" for c in data.table(bottom).numeric_columns}
    pairs = [(a, b) for a in top_columns for b in bottom_columns]
    if not pairs or not len(frames[0]):
        return []
    scored = pair_trends(frames[0], frames[1], pairs, numeric)
    for entry in scored:
        entry.update(parent_table=top, child_table=bottom, hops=len(path))
        entry["column_1"] = entry["column_1"][len(top) + 1 :]
        entry["column_2"] = entry["column_2"][len(bottom) + 1 :]
    return scored


class _RelationshipTrends(Metric):
    """Pairs scored per relationship, averaged over all pairs of all relationships."""

    category = "fidelity"
    direction = "higher"
    shapes = ("records",)
    unit = "row"

    def not_applicable(self, data: RecordEvaluationData) -> str | None:
        """Skip databases without a relationship."""
        return super().not_applicable(data) or (
            None if data.relationships else "needs at least one relationship"
        )

    def pairs(self, data: RecordEvaluationData, link: Relationship) -> list[dict[str, Any]]:
        """The scored column pairs of one relationship."""
        raise NotImplementedError

    def score(self, data: RecordEvaluationData) -> MetricResult:
        """Score the column pairs of every relationship."""
        pairs: list[dict[str, Any]] = []
        per_link: dict[str, float] = {}
        for link in data.relationships:
            label = relationship_label(link)
            scored = self.pairs(data, link)
            per_link[label] = _mean([p["score"] for p in scored])
            pairs += [{**p, "relationship": label} for p in scored]
        return MetricResult(
            _mean([p["score"] for p in pairs]),
            details={"per_relationship": per_link, "pairs": pairs, "unit": self.unit},
        )


class InterTableTrends(_RelationshipTrends):
    """Trends between a parent's columns and its children's columns, as sdmetrics measures them.

    For each relationship, every child row is joined with its parent row; each
    pair of one parent column and one child column is scored as single-table
    column pair trends score it (correlation similarity for two numbers,
    contingency similarity otherwise). The score averages all pairs of all
    relationships; children moved to other parents lose it.
    """

    name = "inter_table_trends"
    explanation = "How alike parent-column / child-column trends are over child rows joined."
    unit = "child row"

    def pairs(self, data: RecordEvaluationData, link: Relationship) -> list[dict[str, Any]]:
        """Parent-column / child-column pairs over the child rows joined with their parent."""
        return _path_pairs(data, [link])


class KHopTrends(Metric):
    """Column-pair trends between a table and its ancestors 2 or more relationships up.

    ClavaDDPM's long-range measure: for every foreign-key path of ``k >= 2``
    relationships, the bottom table's rows are joined with every table up the
    path, and pairs of one top-table column and one bottom-table column are
    scored as column pair trends. Details average the pairs per hop count; the
    score is the mean of those per-hop averages.
    """

    name = "k_hop_trends"
    category = "fidelity"
    direction = "higher"
    explanation = "How alike trends between a table and its grandparent (and deeper) are."
    shapes = ("records",)

    def not_applicable(self, data: RecordEvaluationData) -> str | None:
        """Skip databases without a grandparent table."""
        reason = super().not_applicable(data)
        if reason is None and not foreign_key_paths(data.relationships, 2):
            reason = "needs a foreign-key path of 2 relationships or more (a grandparent table)"
        return reason

    def score(self, data: RecordEvaluationData) -> MetricResult:
        """Score every path of 2 hops and more, pooled per hop count."""
        per_hop: dict[str, float] = {}
        per_path: dict[str, float] = {}
        pairs: list[dict[str, Any]] = []
        hops = 2
        while paths := foreign_key_paths(data.relationships, hops):
            found: list[float] = []
            for path in paths:
                scored = _path_pairs(data, path)
                label = " -> ".join([path[-1].child, *(link.parent for link in reversed(path))])
                per_path[label] = _mean([p["score"] for p in scored])
                found += [p["score"] for p in scored]
                pairs += [{**p, "path": label} for p in scored]
            per_hop[str(hops)] = _mean(found)
            hops += 1
        return MetricResult(
            _mean(list(per_hop.values())),
            details={"per_hop": per_hop, "per_path": per_path, "pairs": pairs, "unit": "row"},
        )


def _aggregates(
    data: RecordEvaluationData, side: str, link: Relationship, shares: Mapping[str, list[Any]]
) -> pd.DataFrame:
    """The parent rows' scored columns beside their children's count, means and shares."""
    from synthkit.evaluation.records import utc_naive

    parent = data.table(link.parent)
    child = data.table(link.child)
    parents = getattr(parent, side)
    children = utc_naive(getattr(child, side))
    keys = data.raw(side, link.child)[link.child_key].to_numpy()
    parent_keys = pd.Index(data.raw(side, link.parent)[link.parent_key])
    features = entity_features(
        children,
        keys,
        parent_keys.drop_duplicates(),
        child.numeric_columns,
        shares,
    )
    wanted = [
        c for c in features.columns if c == "events:count" or c.endswith(":mean") or ":share=" in c
    ]
    features = features[wanted].rename(columns={"events:count": "count"})
    features = features.reindex(parent_keys).reset_index(drop=True)
    features.columns = [f"{link.child}.{c}" for c in features.columns]
    return pd.concat([parents.add_prefix(f"{link.parent}."), features], axis=1)


class AggregateTrends(_RelationshipTrends):
    """Trends between a parent's columns and its children's aggregates.

    For each relationship and each parent row: the number of children, the mean
    of each numeric child column and the share of each of the 10 most frequent
    real levels of each categorical child column. Each pair of one parent
    column and one aggregate is scored as column pair trends (parents without
    children have count 0 and no means). This catches what the row-level join of
    :class:`InterTableTrends` does not: how many children a parent has, as a
    function of the parent.
    """

    name = "aggregate_trends"
    explanation = "How alike trends between a parent's columns and its children's aggregates are."
    unit = "parent row"

    def pairs(self, data: RecordEvaluationData, link: Relationship) -> list[dict[str, Any]]:
        """Parent-column / child-aggregate pairs over the parent rows."""
        child = data.table(link.child)
        shares = {
            c: child.real[c].value_counts().index[:_SHARE_LEVELS].tolist()
            for c in child.discrete_columns
        }
        real = _aggregates(data, "real", link, shares)
        synthetic = _aggregates(data, "synthetic", link, shares)
        parent_columns = [f"{link.parent}.{c}" for c in data.table(link.parent).columns]
        aggregate_columns = [c for c in real.columns if c.startswith(f"{link.child}.")]
        numeric = set(aggregate_columns) | {
            f"{link.parent}.{c}" for c in data.table(link.parent).numeric_columns
        }
        return pair_trends(
            real, synthetic, [(a, b) for a in parent_columns for b in aggregate_columns], numeric
        )
