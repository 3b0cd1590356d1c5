"""The named-implementation registry behind generators, connectors and metrics."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from synthkit import _registry
from synthkit._registry import Registry
from synthkit.errors import SynthkitError, UnknownNameError
from synthkit.generators import GENERATORS


@pytest.fixture
def registry(monkeypatch) -> Registry:
    """A registry whose entry-point group offers one third-party implementation."""
    offered = [EntryPoint("Plugin", "collections:OrderedDict", "synthkit.test_plugins")]

    def entry_points(group: str):
        return [entry for entry in offered if entry.group == group]

    monkeypatch.setattr(_registry, "entry_points", entry_points)
    return Registry("widget", entry_point_group="synthkit.test_plugins")


def test_register_and_get_object_and_lazy_path(registry: Registry) -> None:
    registry.register("Dict", dict, aliases=("mapping",))
    registry.register("fraction", "fractions:Fraction")
    from fractions import Fraction

    assert registry.get("dict") is dict
    assert registry.get("DICT") is dict
    assert registry.get("Mapping") is dict
    assert registry.get("fraction") is Fraction
    assert registry.canonical("MAPPING") == "dict"
    assert "mapping" in registry and "nothing" not in registry


def test_lazy_target_is_imported_on_first_use_only(registry: Registry) -> None:
    registry.register("late", "synthkit_no_such_module_xyz:Thing")
    assert "late" in registry  # registering and listing import nothing
    assert "late" in registry.names()
    with pytest.raises(SynthkitError):
        registry.get("late")


def test_failed_lazy_import_shows_the_install_hint(registry: Registry) -> None:
    registry.register(
        "fancy", "synthkit_no_such_module_xyz:Model", install_hint="pip install synthkit[fancy]"
    )
    with pytest.raises(SynthkitError) as caught:
        registry.get("fancy")
    message = str(caught.value)
    assert "'fancy'" in message
    assert "synthkit_no_such_module_xyz" in message
    assert "pip install synthkit[fancy]" in message
    assert not isinstance(caught.value, UnknownNameError)


def test_names_are_sorted_canonical_names_with_entry_points(registry: Registry) -> None:
    registry.register("zeta", dict)
    registry.register("alpha", list, aliases=("first",))
    assert registry.names() == ["alpha", "plugin", "zeta"]
    assert list(registry) == registry.names()


def test_entry_point_is_loaded_lazily_and_never_overrides(registry: Registry) -> None:
    from collections import OrderedDict

    assert registry.get("plugin") is OrderedDict
    other = Registry("widget", entry_point_group="synthkit.test_plugins")
    other.register("plugin", list)
    assert other.get("plugin") is list  # a built-in registration wins over a plugin


def test_clobbering(registry: Registry) -> None:
    registry.register("thing", dict)
    with pytest.raises(SynthkitError, match=r"'THING' is already registered.*clobber=True"):
        registry.register("THING", list)
    assert registry.get("thing") is dict
    registry.register("thing", list, clobber=True)
    assert registry.get("thing") is list


def test_unknown_name_lists_known_and_suggests(registry: Registry) -> None:
    registry.register("gaussian", dict, aliases=("normal",))
    with pytest.raises(UnknownNameError) as caught:
        registry.get("gausian")
    message = str(caught.value)
    assert message.startswith("Unknown widget 'gausian'.")
    assert "Did you mean 'gaussian'?" in message
    assert "gaussian, normal, plugin" in message
    assert isinstance(caught.value, KeyError)  # also catchable as a KeyError
    with pytest.raises(UnknownNameError) as far:
        registry.get("zzzzzz")
    assert "Did you mean" not in str(far.value)


def test_generator_registry_holds_both_models() -> None:
    from synthkit.generators.ctgan import CTGAN
    from synthkit.generators.tvae import TVAE

    assert GENERATORS.get("ctgan") is CTGAN
    assert GENERATORS.get("TVAE") is TVAE
    assert GENERATORS.kind == "generator"
    assert GENERATORS.entry_point_group == "synthkit.generators"
