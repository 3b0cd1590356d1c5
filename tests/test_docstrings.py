"""The examples in every module's docstrings run: core, connectors and evaluation."""

import doctest
import importlib
import pkgutil

import pytest

import synthkit
import synthkit.connectors
import synthkit.evaluation


def _modules(package) -> list[str]:
    found = pkgutil.walk_packages(package.__path__, prefix=package.__name__ + ".")
    return [package.__name__, *(info.name for info in found)]


# connectors/ and evaluation/ live outside synthkit/ (package-dir), so they are walked apart.
MODULES = sorted(
    name
    for package in (synthkit, synthkit.connectors, synthkit.evaluation)
    for name in _modules(package)
    if name != "synthkit.cli"
)


def test_modules_of_every_layer_are_found() -> None:
    assert {
        "synthkit.metadata",
        "synthkit.processing.gmm",
        "synthkit.generators.base",
        "synthkit.connectors.api",
        "synthkit.evaluation.likelihood",
    } <= set(MODULES)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
