"""synthkit: synthetic data for privacy and fraud use cases.

The public API is the handful of names below; everything else is private.

Example:
    >>> import synthkit
    >>> from synthkit.datasets import load_adult
    >>> real = load_adult().sample(2000, random_state=0)
    >>> model = synthkit.Synthesizer("tvae", epochs=1, verbose=False, random_state=0)
    >>> synthetic = model.fit(real).sample(100, random_state=0)
    >>> list(synthetic.columns) == list(real.columns)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthkit import errors
from synthkit.errors import SynthkitError
from synthkit.metadata import IdentifierLearnedWarning, Metadata

if TYPE_CHECKING:
    from synthkit._release import release
    from synthkit.connectors import iter_batches, load, save
    from synthkit.connectors.api import batch_source
    from synthkit.evaluation import evaluate
    from synthkit.generators import Synthesizer, load_model
    from synthkit.generators.distributed import fit_distributed
    from synthkit.generators.records import RecordSynthesizer
    from synthkit.generators.sequential import SequenceSynthesizer
    from synthkit.schema import MultiTableMetadata, RecordDataset, Relationship, SequenceDataset
    from synthkit.schema.splitting import holdout_split

__all__ = [
    "IdentifierLearnedWarning",
    "Metadata",
    "MultiTableMetadata",
    "RecordDataset",
    "RecordSynthesizer",
    "Relationship",
    "SequenceDataset",
    "SequenceSynthesizer",
    "Synthesizer",
    "SynthkitError",
    "batch_source",
    "errors",
    "evaluate",
    "fit_distributed",
    "holdout_split",
    "iter_batches",
    "load",
    "load_model",
    "release",
    "save",
]

__version__ = "0.1.0"

# Heavy layers (torch models, connectors, metrics) load on first use, so
# ``import synthkit`` stays fast.
_LAZY = {
    "Synthesizer": "synthkit.generators",
    "load_model": "synthkit.generators",
    "SequenceSynthesizer": "synthkit.generators.sequential",
    "RecordSynthesizer": "synthkit.generators.records",
    "fit_distributed": "synthkit.generators.distributed",
    "load": "synthkit.connectors",
    "iter_batches": "synthkit.connectors",
    "batch_source": "synthkit.connectors.api",
    "save": "synthkit.connectors",
    "evaluate": "synthkit.evaluation",
    "release": "synthkit._release",
    "SequenceDataset": "synthkit.schema",
    "RecordDataset": "synthkit.schema",
    "Relationship": "synthkit.schema",
    "MultiTableMetadata": "synthkit.schema",
    "holdout_split": "synthkit.schema.splitting",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'synthkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
