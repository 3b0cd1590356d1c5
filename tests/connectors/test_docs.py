"""The examples in the connectors' docstrings run."""

import doctest
import importlib
import pkgutil

import pytest

import synthkit.connectors

MODULES = sorted(
    f"synthkit.connectors.{info.name}"
    for info in pkgutil.iter_modules(synthkit.connectors.__path__)
)


@pytest.mark.parametrize("name", ["synthkit.connectors", *MODULES])
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
