"""Evaluation of related tables (records): per-table, per-relationship and per-root-entity views.

A database of related tables (patients with their lab tests and clinical
events) is scored in four views, reusing the table and sequence evaluations:

* each table on its own, as a table is scored (key columns are not scored);
* each relationship as sequences: the children of one parent are its history,
  the parent row its context (lengths are children per parent);
* the keys and the trends across tables
  (:mod:`synthkit.evaluation.record_fidelity`);
* privacy and detection on one feature vector per root entity: the root row
  (a patient) with aggregates of every table hanging off it (row count, mean
  and standard deviation of numbers, category shares: nothing that depends on
  row order), and whole-entity copies
  (:mod:`synthkit.evaluation.record_privacy`). One root entity with everything
  that hangs off it is the unit of privacy.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import EvaluationError
from synthkit.evaluation.base import METRICS, Metric, MetricResult, metric_names
from synthkit.evaluation.data import SCORED_KINDS, EvaluationData, row_hashes
from synthkit.evaluation.evaluate import _resolve as resolve_metrics
from synthkit.evaluation.evaluate import run_metrics
from synthkit.evaluation.record_fidelity import (
    AggregateTrends,
    CardinalitySimilarity,
    InterTableTrends,
    KHopTrends,
    PrimaryKeyUniqueness,
    ReferentialIntegrity,
    relationship_label,
    valid_foreign_keys,
)
from synthkit.evaluation.record_inputs import (
    Tables,
    check_split_by_root,
    checked_index,
    checked_tables,
    choose_root,
    descendant_paths,
    key_columns,
    table_metadata,
)
from synthkit.evaluation.record_privacy import EntityCopyRate
from synthkit.evaluation.report import Report
from synthkit.evaluation.sequences import SIDES, SequenceEvaluationData, entity_features
from synthkit.metadata import Metadata
from synthkit.schema.records import RecordDataset
from synthkit.schema.relationship import Relationship
from synthkit.schema.sequences import SequenceDataset

__all__ = ["RECORD_METRICS", "RecordEvaluationData", "evaluate_records"]

#: Metrics written for records, in report order (not in the table/sequence registry).
RECORD_METRICS: dict[str, type[Metric]] = {
    cls.name: cls
    for cls in (
        ReferentialIntegrity,
        PrimaryKeyUniqueness,
        CardinalitySimilarity,
        InterTableTrends,
        AggregateTrends,
        KHopTrends,
        EntityCopyRate,
    )
}

# Sequence metrics already reported under a record name (lengths are cardinality).
_REPORTED_AS = {"length_similarity": "cardinality_similarity"}
# Category shares per root entity are kept for this many most frequent real levels.
_SHARE_LEVELS = 10


class RecordEvaluationData:
    """Real, synthetic and holdout databases checked against each other, ready for metrics.

    The synthetic database (and the holdout) must have the real one's tables,
    columns and relationships; it may be a :class:`~synthkit.RecordDataset` or a
    plain dict of tables (as other tools return them), read with the real
    database's keys. Its keys are not required to hold: referential integrity
    measures them. The holdout holds other root entities than the real database
    (split by root entity, never by row).

    Attributes:
        shape: ``"records"``.
        unit: ``"root entity"``: one root row with every row hanging off it.
        root: The table whose rows are the root entities.
        relationships: The real database's relationships.
        primary_keys: Table name to its primary key column.
        entities: One feature vector per root entity as an :class:`EvaluationData`
            (holdout included), for detection and privacy metrics.

    Raises:
        EvaluationError: Naming the table, column or relationship that differs.

    Example:
        >>> import synthkit
        >>> patients = pd.DataFrame({"id": [1, 2, 3], "age": [40, 61, 57]})
        >>> labs = pd.DataFrame({"id": [1, 1, 3], "value": [4.5, 5.0, 7.5]})
        >>> db = synthkit.RecordDataset({"patients": patients, "labs": labs},
        ...                             [synthkit.Relationship("patients", "labs", "id", "id")])
        >>> data = RecordEvaluationData(db, db)
        >>> data.root, data.entities.columns
        ('patients', ['age', 'labs.count', 'labs.value:mean', 'labs.value:std'])
    """

    shape = "records"
    unit = "root entity"
    target = None
    model = None

    def __init__(
        self,
        real: RecordDataset,
        synthetic: RecordDataset | Tables,
        holdout: RecordDataset | Tables | None = None,
        random_state: int = 0,
        max_rows: int = 10_000,
        root: str | None = None,
        sequence_index: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(real, RecordDataset):
            raise EvaluationError(
                f"real must be a RecordDataset for a records evaluation; got {type(real).__name__}."
            )
        self.random_state, self.max_rows = int(random_state), int(max_rows)
        self.relationships: list[Relationship] = list(real.relationships)
        self.primary_keys = dict(real.primary_keys)
        self._tables = {"real": dict(real.tables)}
        for side, value in (("synthetic", synthetic), ("holdout", holdout)):
            if value is not None:
                self._tables[side] = checked_tables(side, value, real)
        self.holdout = self._tables.get("holdout")
        self.root, self.root_note = choose_root(real, root)
        self.key_columns = key_columns(real)
        self._split_by_key = self.holdout is not None and check_split_by_root(
            real, self.holdout, self.root, self.primary_keys.get(self.root)
        )
        self.metadata = {name: table_metadata(real, name, self.key_columns) for name in real.tables}
        self.sequence_index = checked_index(real, sequence_index, self.metadata)
        self.sampling: dict[str, str] = {}
        self._views: dict[str, Any] = {}
        self._table_data = {name: self._build_table(name) for name in real.tables}
        self._entities: EvaluationData | None = None

    # -------------------------------------------------------------- access
    @property
    def entities(self) -> EvaluationData:
        """One feature vector per root entity (built on first use: only privacy reads it)."""
        if self._entities is None:
            self._entities = self._root_entities()
        return self._entities

    @property
    def tables(self) -> list[str]:
        """Table names, in the real database's order."""
        return list(self._tables["real"])

    def raw(self, side: str, table: str) -> pd.DataFrame:
        """The ``side`` (``"real"``, ``"synthetic"``, ``"holdout"``) rows of ``table``, as given."""
        return self._tables[side][table]

    def table(self, name: str) -> EvaluationData:
        """``name``'s real and synthetic rows, scored columns only, in the given row order."""
        return self._table_data[name]

    @property
    def histories(self) -> list[Relationship]:
        """Each child table's owner relationship, scored as each parent's history.

        The owner is the child's only parent, or else its first relationship
        listed (as ``RecordSynthesizer`` takes it by default); other references
        (a flight's destination airport) are scored for keys, cardinality and
        trends only. Children with nothing but keys have no history to score.
        """
        owners: dict[str, Relationship] = {}
        for link in self.relationships:
            owners.setdefault(link.child, link)
        return [r for r in owners.values() if self.table(r.child).columns]

    def relationship_view(self, link: Relationship) -> SequenceEvaluationData:
        """The relationship as sequences: each parent's children are its history.

        The parent's scored columns are the context (parents without children
        are histories of length 0); children with a broken foreign key are left
        out; the relationship's ``order`` column (a list position), when it has
        one, orders them.
        """
        label = relationship_label(link)
        if label not in self._views:
            self._views[label] = self._build_relationship(link)
        return self._views[label]

    def joined(self, side: str, path: Sequence[Relationship]) -> pd.DataFrame:
        """The bottom table's rows joined with the top table's up a foreign-key path.

        Columns are the scored columns of both ends, named ``table.column``;
        rows whose chain breaks are dropped; at most ``max_rows`` rows are kept.
        """
        bottom, top = path[-1].child, path[0].parent
        rows = np.arange(len(self.raw(side, bottom)))
        positions = rows
        for link in reversed(path):
            keys = self.raw(side, link.child)[link.child_key].to_numpy()[positions]
            parent_keys = self.raw(side, link.parent)[link.parent_key]
            # A repeated synthetic primary key joins its first row (uniqueness is scored apart).
            lookup = pd.Index(parent_keys[~parent_keys.duplicated()])
            found = lookup.get_indexer(keys)
            first = np.flatnonzero(~parent_keys.duplicated().to_numpy())
            rows, positions = rows[found >= 0], first[found[found >= 0]]
        keep = self._positions(len(rows), f"{side} {bottom} joined up to {top}")
        frames = [
            getattr(self.table(bottom), side).iloc[rows[keep]].add_prefix(f"{bottom}."),
            getattr(self.table(top), side).iloc[positions[keep]].add_prefix(f"{top}."),
        ]
        return pd.concat([f.reset_index(drop=True) for f in frames], axis=1)

    def score(self, metric: Metric) -> MetricResult:
        """Score ``metric`` on the view it declares: tables, relationships or root entities."""
        if "records" in metric.shapes:
            return metric.score(self)
        if metric.sequence_view == "tables" or _per_table_worst(metric):
            return self._score_tables(metric)
        if metric.sequence_view == "entities":
            result = metric.score(self.entities)
            return MetricResult(
                result.value, result.interval, {**result.details, "unit": self.unit}
            )
        return self._score_relationships(metric)

    def not_applicable(self, metric: Metric) -> str | None:
        """Why ``metric`` cannot score these records, or ``None`` if it can."""
        if "records" in metric.shapes:
            return metric.not_applicable(self)
        if metric.sequence_view == "tables" or _per_table_worst(metric):
            scored = [t for t in self.tables if not isinstance(self.table(t), _KeysOnly)]
            reasons = {metric.not_applicable(self.table(name)) for name in scored}
            return None if None in reasons else reasons.pop()
        if metric.sequence_view == "entities":
            return metric.not_applicable(self.entities)
        if "sequences" in metric.shapes and self.histories:
            reasons = {metric.not_applicable(self.relationship_view(r)) for r in self.histories}
            return None if None in reasons else reasons.pop()
        if "sequences" in metric.shapes:
            return (
                "needs a relationship whose child has columns besides its keys: it scores "
                "each parent's children as a history"
            )
        return f"scores {' and '.join(metric.shapes)} data only, not records"

    # -------------------------------------------------------------- scoring
    def _score_tables(self, metric: Metric) -> MetricResult:
        per_table, tables, weights = {}, {}, {}
        worst = _per_table_worst(metric)
        kept = [name for name in self.tables if worst and self._kept(name)]
        for name in self.tables:
            data = self._leak_view(name) if worst else self.table(name)
            if name in kept or isinstance(data, _KeysOnly) or metric.not_applicable(data):
                continue
            result = metric.score(data)
            per_table[name], tables[name] = result.value, result.details
            weights[name] = len(data.columns)
        values = np.array([per_table[n] for n in per_table], dtype=float)
        sizes = np.array([weights[n] for n in per_table], dtype=float)
        known = ~np.isnan(values)
        if not known.any():
            value = float("nan")
        elif _per_table_worst(metric):
            # A leak is a worst case: the worst table, never an average clean tables dilute.
            value = float(
                values[known].max() if metric.direction == "lower" else values[known].min()
            )
        else:
            value = float(np.average(values[known], weights=sizes[known]))
        details = {"per_table": per_table, "tables": tables, "unit": "row of each table"}
        if kept:
            details["kept_tables"] = kept
        return MetricResult(value, details=details)

    def _kept(self, name: str) -> bool:
        """A reference table without parents, given back as it is (public lookups: airports)."""
        if name == self.root or any(link.child == name for link in self.relationships):
            return False
        real, synthetic = self.raw("real", name), self.raw("synthetic", name)
        return real.shape == synthetic.shape and real.reset_index(drop=True).equals(
            synthetic.reset_index(drop=True)
        )

    def _leak_view(self, name: str) -> EvaluationData:
        """The table without its foreign keys: they copy their parents' keys by design."""
        foreign = {link.child_key for link in self.relationships if link.child == name}
        own = self.table(name)
        if not foreign or isinstance(own, _KeysOnly):
            return own
        key = f"leak view {name}"
        if key not in self._views:
            real, synthetic = self.raw("real", name), self.raw("synthetic", name)
            kept = [c for c in real.columns if c not in foreign]
            self._views[key] = EvaluationData(
                real.loc[:, kept],
                synthetic.loc[:, kept],
                metadata=_subset(self.metadata[name], kept),
                random_state=self.random_state,
                max_rows=self.max_rows,
            )
        return self._views[key]

    def _score_relationships(self, metric: Metric) -> MetricResult:
        per_link, links = {}, {}
        for link in self.histories:
            view = self.relationship_view(link)
            if metric.not_applicable(view):
                continue
            result = metric.score(view)
            per_link[relationship_label(link)] = result.value
            links[relationship_label(link)] = result.details
        finite = [v for v in per_link.values() if not np.isnan(v)]
        return MetricResult(
            float(np.mean(finite)) if finite else float("nan"),
            details={"per_relationship": per_link, "relationships": links, "unit": "parent row"},
        )

    # ------------------------------------------------------------ building
    def _positions(self, total: int, purpose: str) -> np.ndarray:
        if total <= self.max_rows:
            return np.arange(total)
        self.sampling[purpose] = f"{self.max_rows:,} of {total:,} rows"
        rng = np.random.default_rng([self.random_state, zlib.crc32(purpose.encode())])
        return np.sort(rng.choice(total, size=self.max_rows, replace=False))

    def _build_table(self, name: str) -> EvaluationData:
        real, synthetic = self.raw("real", name), self.raw("synthetic", name)
        metadata = self.metadata[name]
        kinds = {c: metadata.kind(c) for c in real.columns}
        if not any(kind in SCORED_KINDS for kind in kinds.values()):
            return _KeysOnly(real, synthetic, kinds)  # type: ignore[return-value]
        try:
            return EvaluationData(
                real,
                synthetic,
                metadata=self.metadata[name],
                random_state=self.random_state,
                max_rows=self.max_rows,
            )
        except EvaluationError as error:
            raise EvaluationError(f"Table {name!r}: {error}") from error

    def _build_relationship(self, link: Relationship) -> SequenceEvaluationData:
        sequences, contexts = {}, {}
        parent_columns = self.table(link.parent).columns
        # The parent's key becomes the sequence key, named as the child's foreign key.
        renamed = [c for c in parent_columns if c != link.child_key]
        for side in ("real", "synthetic"):
            child, parent = self._keyed(side, link.child), self._keyed(side, link.parent)
            parent = parent[~parent[link.parent_key].duplicated() & parent[link.parent_key].notna()]
            child = child[valid_foreign_keys(child[link.child_key], parent[link.parent_key])]
            # A list position orders the children; as an index its gaps would all be 1.
            index = self.sequence_index.get(link.child)
            order = [link.child_key] + ([link.order] if link.order in child.columns else [])
            child = child.sort_values(
                order if index is None else [link.child_key, index], kind="stable"
            )
            keys = [c for c in self.key_columns[link.child] if c != link.child_key]
            sequences[side] = SequenceDataset(
                child.drop(columns=[c for c in keys if c in child.columns]), link.child_key, index
            )
            contexts[side] = parent.loc[:, [link.parent_key, *renamed]].rename(
                columns={link.parent_key: link.child_key}
            )
        try:
            return SequenceEvaluationData(
                sequences["real"],
                sequences["synthetic"],
                context=contexts,
                metadata=_subset(self.metadata[link.child], sequences["real"].data.columns),
                random_state=self.random_state,
                max_rows=self.max_rows,
            )
        except EvaluationError as error:
            raise EvaluationError(f"Relationship {relationship_label(link)}: {error}") from error

    def root_entities(self, side: str) -> pd.Index:
        """The root key of each root row of ``side``, in row order (positions without a key)."""
        rows = self.raw(side, self.root)
        key = self.primary_keys.get(self.root)
        return pd.Index(rows[key]) if key is not None else pd.RangeIndex(len(rows))

    def _keyed(self, side: str, table: str) -> pd.DataFrame:
        """Scored columns as the table view parsed them (zones dropped), beside every key."""
        raw = self.raw(side, table)
        keys = [c for c in raw.columns if c in self.key_columns[table]]
        frame = _prepared(self, side, table)
        return pd.concat([raw.loc[:, keys].reset_index(drop=True), frame], axis=1)

    def _root_entities(self) -> EvaluationData:
        """One feature vector per root entity: root columns and aggregates of each descendant."""
        root_data = self.table(self.root)
        descendants = descendant_paths(self.relationships, self.root)
        frames = {}
        for side in self._tables:
            prepared = _prepared(self, side, self.root)
            entities = self.root_entities(side)
            parts = [prepared.set_axis(entities)]
            for table, path in descendants.items():
                data = self.table(table)
                owners = self._root_keys(side, path)
                known = ~pd.isna(owners)
                shares = {
                    c: data.real[c].value_counts().index[:_SHARE_LEVELS].tolist()
                    for c in data.discrete_columns
                }
                rows, owners = _canonical_order(_prepared(self, side, table)[known], owners[known])
                features = entity_features(
                    rows,
                    owners,
                    entities.drop_duplicates(),
                    data.numeric_columns,
                    shares,
                ).reindex(entities)
                features = features.rename(columns={"events:count": "count"})
                features["count"] = features["count"].fillna(0)
                # First and last values depend on row order, which related tables do not keep.
                order_bound = features.columns.str.endswith((":first", ":last"))
                features = features.loc[:, ~order_bound]
                parts.append(features.add_prefix(f"{table}."))
            frames[side] = pd.concat(parts, axis=1)
        columns = {name: {"kind": "numerical"} for name in frames["real"].columns}
        columns.update({c: root_data.metadata.column(c) for c in root_data.columns})
        settings = {"metadata": Metadata(columns), "random_state": self.random_state}
        settings["max_rows"] = self.max_rows
        holdout = frames.get("holdout")
        try:
            if holdout is None or not self._split_by_key:
                return EvaluationData(frames["real"], frames["synthetic"], holdout, **settings)
            # Disjoint root keys prove the split by entity; look-alike entities (planes of
            # one model without flights) are natural, not a holdout taken from training.
            data = EvaluationData(frames["real"], frames["synthetic"], **settings)
            data.holdout = EvaluationData(frames["real"], holdout, **settings).synthetic
            data.original["holdout"] = holdout
            return data
        except EvaluationError as error:
            raise EvaluationError(f"Per-root-entity feature vectors: {error}") from error

    def _root_keys(self, side: str, path: Sequence[Relationship]) -> np.ndarray:
        """For each row of the path's bottom table, the key of the root entity it hangs off."""
        values = self.raw(side, path[-1].child)[path[-1].child_key].to_numpy(dtype=object)
        for link in reversed(path[:-1]):
            parent = self.raw(side, link.child)
            parent = parent[~parent[path_key(path, link)].duplicated()]
            mapping = pd.Series(
                parent[link.child_key].to_numpy(), index=parent[path_key(path, link)]
            )
            values = mapping.reindex(values).to_numpy(dtype=object)
        return values


def _per_table_worst(metric: Metric) -> bool:
    """Worst-case checks (identifier leaks: ``worst_of_tables``) take the worst table."""
    return metric.worst_of_tables


def _canonical_order(rows: pd.DataFrame, owners: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows sorted by owner, then by content, so equal entities sum their numbers alike.

    Related tables keep no row order; sorting makes a copied entity's aggregates
    equal to the last bit, whatever order its rows came in.
    """
    if not len(rows):
        return rows, owners
    content = row_hashes(rows) if rows.shape[1] else np.zeros(len(rows), np.uint64)
    order = np.lexsort((content, pd.factorize(owners)[0]))
    return rows.iloc[order], owners[order]


def _subset(metadata: Metadata, columns: Sequence[str]) -> Metadata:
    """The entries of ``columns`` only (a child's other foreign keys are left out of its view)."""
    return Metadata({c: metadata.column(c) for c in columns})


def path_key(path: Sequence[Relationship], link: Relationship) -> str:
    """The key column of ``link``'s child that the next relationship down the path points at."""
    position = list(path).index(link)
    return path[position + 1].parent_key


def _prepared(data: RecordEvaluationData, side: str, table: str) -> pd.DataFrame:
    """Scored columns of ``table`` for ``side``, parsed as the table view parses them.

    Datetimes with a time zone become UTC without one, so aggregates count them
    in seconds like any other datetime.
    """
    view = data.table(table)
    if side != "holdout":
        return utc_naive(getattr(view, side))
    frame = data.raw("holdout", table).loc[:, view.columns].reset_index(drop=True)
    for column in view.columns:
        if pd.api.types.is_datetime64_any_dtype(view.real[column]):
            frame[column] = pd.to_datetime(frame[column], errors="coerce", format="mixed")
    return utc_naive(frame)


def utc_naive(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every time-zone-aware datetime column converted to UTC, zone dropped.

    Example:
        >>> frame = pd.DataFrame({"t": pd.to_datetime(["2013-01-01T10:00:00Z"])})
        >>> str(utc_naive(frame)["t"].dtype)
        'datetime64[ns]'
    """
    aware = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    if not aware:
        return frame
    out = frame.copy()
    for column in aware:
        out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


class _KeysOnly:
    """Stands for a table with nothing to score but its keys (a lookup of codes and names).

    It still counts for keys, cardinality and as one end of a join; per-table
    metrics leave it out and the report lists its columns as not scored.
    """

    columns: list[str] = []
    numeric_columns: list[str] = []
    discrete_columns: list[str] = []

    def __init__(self, real: pd.DataFrame, synthetic: pd.DataFrame, kinds: dict[str, str]):
        self.real = pd.DataFrame(index=pd.RangeIndex(len(real)))
        self.synthetic = pd.DataFrame(index=pd.RangeIndex(len(synthetic)))
        self.excluded = dict(kinds)


# ----------------------------------------------------------------- evaluate
def evaluate_records(
    real: RecordDataset,
    synthetic: RecordDataset | Tables,
    holdout: RecordDataset | Tables | None = None,
    metrics: Sequence[str | Metric] | None = None,
    *,
    random_state: int = 0,
    max_rows: int = 10_000,
    root: str | None = None,
    sequence_index: Mapping[str, str] | None = None,
) -> Report:
    """Score a synthetic database of related tables against the real one.

    ``synthkit.evaluate`` calls this for :class:`~synthkit.RecordDataset` inputs.
    Every table is scored as a table (per-column shapes and pair trends, keys
    left out); every relationship as sequences (children per parent, coherence
    of each parent's children); across tables: referential integrity,
    primary-key uniqueness, cardinality, inter-table, aggregate and k-hop trends;
    detection and privacy on one feature vector per root entity (the unit of
    privacy: one root row with every row hanging off it).

    Args:
        real: The real database the generator was fitted on.
        synthetic: The synthetic database, or a dict of its tables (read with
            ``real``'s keys and relationships).
        holdout: Real root entities the generator never saw, with every row
            hanging off them (split by root entity); privacy metrics need it.
        metrics: Names or :class:`Metric` instances; default every record metric
            and every registered metric that applies, skipping (with the reason)
            those that need a missing input.
        random_state: Seed for every subsample and model.
        max_rows: Cap on the rows a join, a nearest-neighbour side or a classifier
            uses; sizes actually used are in ``report.meta["sampling"]``.
        root: The table whose rows are the unit of privacy; default the
            database's root, or else the table without a parent that most tables
            hang off (then the largest). The report states it.
        sequence_index: Child table to the number or date column that orders
            its rows within a parent (``{"labs": "days"}``, as
            ``RecordSynthesizer.fit`` takes it): its children are then
            histories with gaps (``gap_similarity``); otherwise a nested list's
            position, or the row order, orders them.

    Returns:
        The :class:`Report`; :meth:`Report.by_table` and
        :meth:`Report.by_relationship` give the per-table and per-relationship
        scores.

    Raises:
        EvaluationError: For databases whose tables, columns or relationships
            differ, a holdout that shares root entities with ``real``, or a named
            metric that does not apply.

    Example:
        >>> import synthkit
        >>> patients = pd.DataFrame({"id": [1, 2, 3, 4], "age": [40, 61, 57, 33]})
        >>> labs = pd.DataFrame({"id": [1, 1, 3, 4], "value": [4.5, 5.0, 7.5, 6.0]})
        >>> db = synthkit.RecordDataset({"patients": patients, "labs": labs},
        ...                             [synthkit.Relationship("patients", "labs", "id", "id")])
        >>> broken = {"patients": patients, "labs": labs.assign(id=[1, 1, 3, 9])}
        >>> report = evaluate_records(db, broken, metrics=["referential_integrity"])
        >>> report.to_dict(), report.by_relationship()["referential_integrity"].tolist()
        ({'referential_integrity': 0.75}, [0.75])
    """
    data = RecordEvaluationData(
        real,
        synthetic,
        holdout=holdout,
        random_state=random_state,
        max_rows=max_rows,
        root=root,
        sequence_index=sequence_index,
    )
    explicit = metrics is not None
    # Parts of a record metric scored under another name are run only when named.
    chosen = [
        m for m in _resolve(metrics) if explicit or _REPORTED_AS.get(m.name, m.name) == m.name
    ]
    results, info, skipped, seconds = run_metrics(
        chosen,
        explicit=explicit,
        not_applicable=data.not_applicable,
        score=data.score,
        describe=lambda metric, result: {
            "explanation": _explanation(metric),
            "unit": result.details.get("unit") or _unit(metric),
        },
        # A default run keeps the other scores; the report says why one is missing.
        keep_going=True,
    )
    return Report(results, info, skipped, _meta(data, seconds))


def _explanation(metric: Metric) -> str:
    """Table metrics scored on root entities speak of entities, not rows."""
    if metric.sequence_view != "entities":
        return metric.explanation
    words = re.sub(r"\brows\b", "root entities", metric.explanation)
    return re.sub(r"\brow\b", "root entity", words)


def _unit(metric: Metric) -> str:
    if "records" in metric.shapes:
        return "relationship or table (see details)"
    if metric.sequence_view == "tables" or _per_table_worst(metric):
        return "row of each table"
    if metric.sequence_view == "entities":
        return "root entity"
    return "parent with its children, per relationship"


def _resolve(metrics: Sequence[str | Metric] | None) -> list[Metric]:
    if metrics is None:
        names = list(RECORD_METRICS) + metric_names()
        return [RECORD_METRICS[n]() if n in RECORD_METRICS else METRICS.get(n)() for n in names]
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    # Record metrics are not in the table/sequence registry: instantiate them here.
    return resolve_metrics(
        [
            RECORD_METRICS[entry]() if isinstance(entry, str) and entry in RECORD_METRICS else entry
            for entry in metrics
        ]
    )


def _meta(data: RecordEvaluationData, seconds: dict[str, float]) -> dict[str, Any]:
    sides = [s for s in SIDES if s in data._tables]
    return {
        "shape": "records",
        "unit": data.unit,
        "root": data.root,
        "privacy_unit": (
            f"one {data.root!r} row with every row hanging off it "
            f"({', '.join(descendant_paths(data.relationships, data.root)) or 'no other table'}), "
            f"as one feature vector; root chosen as {data.root_note}"
        ),
        "tables": {
            name: {
                "rows": {s: len(data.raw(s, name)) for s in sides},
                "primary_key": data.primary_keys.get(name),
                "scored_columns": data.table(name).columns,
                "excluded_columns": data.table(name).excluded,
            }
            for name in data.tables
        },
        "relationships": [
            {**link.to_dict(), "label": relationship_label(link)} for link in data.relationships
        ],
        "rows": {
            s: sum(len(data.raw(s, t)) for t in data.tables) if s in sides else None for s in SIDES
        },
        "entities": {s: len(data.root_entities(s)) if s in sides else None for s in SIDES},
        "entity_features": [] if data._entities is None else data._entities.columns,
        "scored_columns": [f"{t}.{c}" for t in data.tables for c in data.table(t).columns],
        "sampling": {
            **data.sampling,
            **{
                f"root entities: {k}": v
                for k, v in ({} if data._entities is None else data._entities.sampling).items()
            },
        },
        "seconds": seconds,
        "random_state": data.random_state,
        "max_rows": data.max_rows,
    }
