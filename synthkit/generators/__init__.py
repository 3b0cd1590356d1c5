"""Generative models of tables, registered by name."""

from synthkit.generators.base import GENERATORS, Synthesizer
from synthkit.generators.persistence import load_model

__all__ = ["GENERATORS", "Synthesizer", "load_model"]

GENERATORS.register("ctgan", "synthkit.generators.ctgan:CTGAN")
GENERATORS.register("tvae", "synthkit.generators.tvae:TVAE")
GENERATORS.register(
    "autoregressive", "synthkit.generators.autoregressive:ARSynthesizer", aliases=("ar",)
)
GENERATORS.register("flow", "synthkit.generators.flow:FlowSynthesizer")
