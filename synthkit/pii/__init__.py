"""Personal data in one place: the PII type registry, id patterns, the Luhn check, regeneration.

- :mod:`~synthkit.pii.registry`: every PII type with its SDV sdtype, the column-name
  words that announce it, its value pattern and its generator.
- :mod:`~synthkit.pii.ids`: id patterns, described from real keys and generated anew.
- :mod:`~synthkit.pii.luhn`: the card-number checksum.
- :mod:`~synthkit.pii.fake`: regeneration of ``pii``, ``id`` and ``text`` columns.
"""

from __future__ import annotations

from synthkit.pii.fake import fake_text, fake_values, regenerate
from synthkit.pii.ids import describe_ids, generate_ids
from synthkit.pii.registry import NAME_PARTS, PII_TYPES, PiiType

__all__ = [
    "NAME_PARTS",
    "PII_TYPES",
    "PiiType",
    "describe_ids",
    "fake_text",
    "fake_values",
    "generate_ids",
    "regenerate",
]
