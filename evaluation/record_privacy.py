"""Whole-entity copies: synthetic root entities identical to a training one, every table included.

A root entity (a patient) is its root row together with every row hanging off
it in every descendant table. Two entities are equal when their root rows are
equal and each descendant table holds the same rows for them, in any order
(keys left out: synthetic keys are new by design).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.data import row_hashes

if TYPE_CHECKING:
    from synthkit.evaluation.records import RecordEvaluationData

__all__ = ["EntityCopyRate", "multiset_hashes"]


def multiset_hashes(hashes: np.ndarray, owners: np.ndarray, size: int) -> np.ndarray:
    """One hash per owner of the multiset of ``hashes`` it owns (order does not matter).

    Args:
        hashes: ``uint64`` row hashes.
        owners: The owner position (``0..size-1``) of each row; negative for none.
        size: Number of owners.

    Example:
        >>> rows = np.array([7, 9, 9, 7], dtype=np.uint64)
        >>> found = multiset_hashes(rows, np.array([0, 0, 1, 1]), 3)
        >>> bool(found[0] == found[1]), bool(found[0] == found[2])
        (True, False)
    """
    # Mixing each hash before summing keeps sums of different multisets apart.
    mixed = pd.util.hash_array(hashes.astype(np.uint64))
    total = np.zeros(size, dtype=np.uint64)
    counts = np.zeros(size, dtype=np.uint64)
    kept = owners >= 0
    np.add.at(total, owners[kept], mixed[kept])
    np.add.at(counts, owners[kept], np.uint64(1))
    return pd.util.hash_pandas_object(
        pd.DataFrame({"sum": total, "count": counts}), index=False
    ).to_numpy()


def entity_hashes(data: RecordEvaluationData, side: str) -> np.ndarray:
    """One hash per root entity of ``side``: its root row and the rows hanging off it."""
    from synthkit.evaluation.record_inputs import descendant_paths
    from synthkit.evaluation.records import _prepared

    root = _prepared(data, side, data.root)
    parts = {"root": row_hashes(root) if root.shape[1] else np.zeros(len(root), np.uint64)}
    entities = data.root_entities(side)
    for table, path in descendant_paths(data.relationships, data.root).items():
        rows = _prepared(data, side, table)
        hashes = row_hashes(rows) if rows.shape[1] else np.zeros(len(rows), np.uint64)
        owners = pd.Index(entities.drop_duplicates()).get_indexer(data._root_keys(side, path))
        first = entities.drop_duplicates()
        per_unique = multiset_hashes(hashes, owners, len(first))
        parts[table] = pd.Series(per_unique, index=first).reindex(entities).to_numpy()
    return pd.util.hash_pandas_object(pd.DataFrame(parts), index=False).to_numpy()


class EntityCopyRate(Metric):
    """Share of synthetic root entities that copy a training entity whole.

    The root row and every row hanging off it (in every descendant table) must
    match a training entity's, keys left out. Details give the holdout's rate:
    how often an unseen real entity happens to equal a training one (entities
    without children and common root values do).
    """

    name = "entity_copy_rate"
    category = "privacy"
    direction = "lower"
    explanation = "Share of synthetic root entities equal to a training entity, all tables."
    shapes = ("records",)

    def score(self, data: RecordEvaluationData) -> MetricResult:
        """Hash every entity of each side and look synthetic ones up among training ones."""
        training = entity_hashes(data, "real")
        synthetic = entity_hashes(data, "synthetic")
        details: dict[str, object] = {"synthetic_entities": len(synthetic), "unit": data.unit}
        if data.holdout is not None:
            holdout = entity_hashes(data, "holdout")
            details["holdout_rate"] = float(np.isin(holdout, training).mean())
        return MetricResult(float(np.isin(synthetic, training).mean()), details=details)
