"""Generative models of tables, registered by name."""

from synthkit.generators.base import BaseSynthesizer, Synthesizer
from synthkit.generators.persistence import load_model
from synthkit.generators.registry import GENERATORS

__all__ = ["GENERATORS", "BaseSynthesizer", "Synthesizer", "load_model"]
