"""The registry of record model classes by name.

It lives apart from the model classes so that ``RecordSynthesizer("ar")`` and
persistence (which rebuilds a saved model by its name) both read it without
importing each other.

Example:
    >>> from synthkit.generators.records.registry import RECORD_GENERATORS
    >>> RECORD_GENERATORS.names()
    ['ar']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthkit._registry import Registry

if TYPE_CHECKING:
    from synthkit.generators.records.base import RecordSynthesizer

__all__ = ["RECORD_GENERATORS"]

#: Registry of record models by name; third parties add theirs through the
#: ``synthkit.record_generators`` entry-point group.
RECORD_GENERATORS: Registry[type[RecordSynthesizer]] = Registry(
    "record generator", "synthkit.record_generators"
)

RECORD_GENERATORS.register(
    "ar", "synthkit.generators.records.ar:RecordARSynthesizer", aliases=("autoregressive",)
)
