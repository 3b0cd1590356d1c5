"""A small named-implementation registry shared by generators, connectors and metrics."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from importlib.metadata import entry_points
from types import ModuleType
from typing import Generic, TypeVar

from synthkit.errors import MissingDependencyError, SynthkitError, UnknownNameError

__all__ = ["Registry", "import_optional"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names (and aliases) to implementations, imported lazily.

    An implementation is registered either as an object or as a ``"module:attr"``
    string that is imported on first use, so optional dependencies cost nothing
    until they are needed. Third-party packages add implementations through the
    entry-point group given at construction.

    Args:
        kind: What the registry holds, used in messages (for example ``"generator"``).
        entry_point_group: The ``importlib.metadata`` entry-point group scanned once
            on first lookup.

    Example:
        >>> registry = Registry("greeting", entry_point_group="synthkit.examples")
        >>> registry.register("hello", "builtins:str", aliases=("hi",))
        >>> registry.get("hi") is str
        True
        >>> registry.names()
        ['hello']
    """

    def __init__(self, kind: str, entry_point_group: str) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._targets: dict[str, T | str] = {}
        self._hints: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        self._entry_points_loaded = False

    def register(
        self,
        name: str,
        target: T | str,
        *,
        aliases: tuple[str, ...] = (),
        install_hint: str | None = None,
        clobber: bool = False,
    ) -> None:
        """Register ``target`` under ``name``.

        Args:
            name: Canonical name, matched case-insensitively.
            target: The implementation, or a ``"module:attr"`` path imported lazily.
            aliases: Other names that resolve to the same implementation.
            install_hint: Shown when the lazy import fails (for example ``pip install x``).
            clobber: Replace an existing registration instead of raising.

        Raises:
            SynthkitError: If ``name`` is taken and ``clobber`` is false.
        """
        key = name.lower()
        if key in self._targets and not clobber:
            raise SynthkitError(
                f"A {self.kind} named {name!r} is already registered; "
                "pass clobber=True to replace it."
            )
        self._targets[key] = target
        if install_hint:
            self._hints[key] = install_hint
        for alias in aliases:
            self._aliases[alias.lower()] = key

    def names(self) -> list[str]:
        """Return the canonical names, sorted."""
        self._load_entry_points()
        return sorted(self._targets)

    def canonical(self, name: str) -> str:
        """Return the canonical name for ``name`` or an alias of it.

        Raises:
            UnknownNameError: If the name is unknown; the message lists the known
                names and the closest match.
        """
        self._load_entry_points()
        key = str(name).lower()
        key = self._aliases.get(key, key)
        if key not in self._targets:
            known = sorted(set(self._targets) | set(self._aliases))
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r}.{hint} Known: {', '.join(known)}."
            )
        return key

    def get(self, name: str) -> T:
        """Return the implementation registered under ``name``, importing it if needed."""
        key = self.canonical(name)
        target = self._targets[key]
        if isinstance(target, str):
            target = self._import(key, target)
            self._targets[key] = target
        return target

    def __contains__(self, name: object) -> bool:
        try:
            self.canonical(str(name))
        except UnknownNameError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _import(self, key: str, path: str) -> T:
        module_name, _, attr = path.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            hint = self._hints.get(key, "")
            raise MissingDependencyError(
                f"The {self.kind} {key!r} needs a package that is not installed "
                f"({error.name}). {hint}".strip()
            ) from error
        return getattr(module, attr) if attr else module

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for entry in entry_points(group=self.entry_point_group):
            if entry.name.lower() not in self._targets:
                self._targets[entry.name.lower()] = entry.value


def import_optional(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import an optional dependency, or say which synthkit extra installs it.

    Args:
        module: The module to import (for example ``"sdv.metadata"``).
        extra: The synthkit extra that brings it (``pip install "synthkit[extra]"``).
        purpose: What needs it, for the message (for example ``"SDV conversion"``).

    Raises:
        MissingDependencyError: Naming the missing package and the install command.

    Example:
        >>> import_optional("json", extra="sdv", purpose="Reading JSON").__name__
        'json'
        >>> import_optional("no_such_module_x", extra="sdv", purpose="This example")
        Traceback (most recent call last):
        ...
        synthkit.errors.MissingDependencyError: This example needs no_such_module_x, which is not installed; install it with pip install "synthkit[sdv]".
    """  # noqa: E501
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f"{purpose} needs {error.name or module}, which is not installed; install it "
            f'with pip install "synthkit[{extra}]".'
        ) from error
