"""Read and write tables, sequences and nested records from files and databases.

``load`` and ``save`` pick a connector by URI scheme or file suffix from
:data:`connectors`; ``register_connector`` adds one, and third-party packages add
theirs through the ``synthkit.connectors`` entry-point group. The validation
functions build and run great-expectations suites.

The dataset shapes (``SequenceDataset``, ``RecordDataset``, ``Relationship``)
live in the core, :mod:`synthkit.schema`; connectors build and write them and
re-export them here.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> from synthkit.connectors import load, save
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "people.parquet"
    >>> save(pd.DataFrame({"age": [31, 45], "zip": ["02139", "10001"]}), path)
    >>> load(path).to_dict("list")
    {'age': [31, 45], 'zip': ['02139', '10001']}
"""

from synthkit.connectors._base import (
    Connector,
    ConnectorError,
    DatabaseError,
    FormatError,
    MissingSourceError,
    UnknownFormatError,
)
from synthkit.connectors.api import iter_batches, load, save
from synthkit.connectors.registry import connector_for, connectors, register_connector
from synthkit.connectors.validation import (
    ValidationResult,
    build_suite,
    load_suite,
    save_suite,
    validate,
)
from synthkit.schema import RecordDataset, RecordError, Relationship, SequenceDataset, SequenceError

__all__ = [
    "Connector",
    "ConnectorError",
    "DatabaseError",
    "FormatError",
    "MissingSourceError",
    "RecordDataset",
    "RecordError",
    "Relationship",
    "SequenceDataset",
    "SequenceError",
    "UnknownFormatError",
    "ValidationResult",
    "build_suite",
    "connector_for",
    "connectors",
    "iter_batches",
    "load",
    "load_suite",
    "register_connector",
    "save",
    "save_suite",
    "validate",
]
