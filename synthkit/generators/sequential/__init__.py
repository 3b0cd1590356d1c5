"""Generative models of entities with event histories (sequences), registered by name."""

from synthkit.generators.sequential.base import SequenceSynthesizer, SyntheticSequences
from synthkit.generators.sequential.registry import SEQUENCE_GENERATORS

__all__ = ["SEQUENCE_GENERATORS", "SequenceSynthesizer", "SyntheticSequences"]
