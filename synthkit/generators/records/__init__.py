"""Generative models of related tables (record data), registered by name."""

from synthkit.generators.records.base import RecordSynthesizer
from synthkit.generators.records.registry import RECORD_GENERATORS

__all__ = ["RECORD_GENERATORS", "RecordSynthesizer"]
