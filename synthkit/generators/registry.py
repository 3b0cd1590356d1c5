"""The registry of generator classes by name.

It lives apart from the model classes so that the base class (which dispatches
``Synthesizer("ctgan")``) and persistence (which rebuilds a saved model by its
name) both read it without importing each other.

Example:
    >>> from synthkit.generators.registry import GENERATORS
    >>> GENERATORS.names()[:2], GENERATORS.canonical("ar")
    (['autoregressive', 'ctgan'], 'autoregressive')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthkit._registry import Registry

if TYPE_CHECKING:
    from synthkit.generators.base import BaseSynthesizer

__all__ = ["GENERATORS"]

#: Registry of generator classes by name; third parties add theirs through the
#: ``synthkit.generators`` entry-point group.
GENERATORS: Registry[type[BaseSynthesizer]] = Registry("generator", "synthkit.generators")

GENERATORS.register("ctgan", "synthkit.generators.ctgan:CTGAN")
GENERATORS.register("tvae", "synthkit.generators.tvae:TVAE")
GENERATORS.register(
    "autoregressive", "synthkit.generators.autoregressive:ARSynthesizer", aliases=("ar",)
)
GENERATORS.register("flow", "synthkit.generators.flow:FlowSynthesizer")
