"""Dataset shapes and their keys: sequences, related tables and their relationships.

These are core concepts: connectors build and write them, models read them.
``SequenceDataset`` holds long-format events keyed by entity; ``RecordDataset``
holds related tables linked by :class:`Relationship`; ``MultiTableMetadata`` is
their metadata (each table's ``Metadata`` plus the relationships), convertible to
and from JSON and SDV's multi-table format.

Example:
    >>> import pandas as pd
    >>> from synthkit.schema import SequenceDataset
    >>> events = pd.DataFrame({"user": [1, 1, 2], "day": [3, 5, 1], "spent": [9.5, 3.0, 4.25]})
    >>> SequenceDataset(events, "user", "day").lengths().tolist()
    [2, 1]
"""

from synthkit.schema.key_detection import KeyProposal, detect_keys
from synthkit.schema.multitable import MultiTableMetadata
from synthkit.schema.records import RecordDataset, RecordError
from synthkit.schema.relationship import Relationship
from synthkit.schema.sequences import SequenceDataset, SequenceError

__all__ = [
    "KeyProposal",
    "MultiTableMetadata",
    "RecordDataset",
    "RecordError",
    "Relationship",
    "SequenceDataset",
    "SequenceError",
    "detect_keys",
]
