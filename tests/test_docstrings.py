"""The examples in the docstrings of the core and evaluation run (connectors test theirs)."""

import doctest
import importlib
import pkgutil

import pytest

import synthkit
import synthkit.evaluation


def _modules(package) -> list[str]:
    found = pkgutil.walk_packages(package.__path__, prefix=package.__name__ + ".")
    return [package.__name__, *(info.name for info in found)]


# evaluation/ lives outside synthkit/ (package-dir), so it is walked on its own.
MODULES = sorted(
    name
    for package in (synthkit, synthkit.evaluation)
    for name in _modules(package)
    # connectors run their own examples (tests/connectors/test_docs.py), once per worker.
    if name != "synthkit.cli" and not name.startswith("synthkit.connectors")
)


def test_core_and_evaluation_modules_are_found() -> None:
    assert {
        "synthkit.metadata",
        "synthkit.processing.gmm",
        "synthkit.generators.base",
        "synthkit.evaluation.likelihood",
    } <= set(MODULES)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
