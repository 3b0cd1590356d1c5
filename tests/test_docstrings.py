"""The examples in the core's docstrings run (connectors and evaluation test their own)."""

import doctest
import importlib
import pkgutil

import pytest

import synthkit

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(synthkit.__path__, prefix="synthkit.")
    if not info.name.startswith(("synthkit.connectors", "synthkit.evaluation"))
    and info.name != "synthkit.cli"
)


def test_core_modules_are_found() -> None:
    assert {"synthkit.metadata", "synthkit.processing.gmm", "synthkit.generators.base"} <= set(
        MODULES
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["synthkit", *MODULES])
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
