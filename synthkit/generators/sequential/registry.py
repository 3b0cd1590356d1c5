"""The registry of sequence model classes by name.

It lives apart from the model classes so that ``SequenceSynthesizer("ar")`` and
persistence (which rebuilds a saved model by its name) both read it without
importing each other.

Example:
    >>> from synthkit.generators.sequential.registry import SEQUENCE_GENERATORS
    >>> SEQUENCE_GENERATORS.names()
    ['ar']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthkit._registry import Registry

if TYPE_CHECKING:
    from synthkit.generators.sequential.base import SequenceSynthesizer

__all__ = ["SEQUENCE_GENERATORS"]

#: Registry of sequence models by name; third parties add theirs through the
#: ``synthkit.sequence_generators`` entry-point group.
SEQUENCE_GENERATORS: Registry[type[SequenceSynthesizer]] = Registry(
    "sequence generator", "synthkit.sequence_generators"
)

SEQUENCE_GENERATORS.register(
    "ar", "synthkit.generators.sequential.ar:SequenceARSynthesizer", aliases=("autoregressive",)
)
