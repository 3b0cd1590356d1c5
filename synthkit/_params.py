"""Declared parameter constraints, checked in one place with uniform messages.

A class declares ``_parameter_constraints = {name: [constraint, ...]}``; a value
is valid when any of its constraints accepts it. Classes merge their own
declarations with their bases' (see :func:`merged_constraints`), so a shared
parameter such as ``epochs`` is declared once, on the base class.

Example:
    >>> from synthkit._params import Interval, validate_params
    >>> validate_params("Model", {"epochs": 3}, {"epochs": [Interval(int, 1, None)]})
    >>> validate_params("Model", {"epochs": 0}, {"epochs": [Interval(int, 1, None)]})
    Traceback (most recent call last):
    ...
    synthkit.errors.ParameterError: Model: epochs=0 is not allowed; epochs must be an integer >= 1.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from synthkit.errors import ParameterError

__all__ = [
    "BOOLEAN",
    "DEVICE",
    "RANDOM_STATE",
    "Constraint",
    "Interval",
    "Options",
    "Widths",
    "merged_constraints",
    "parameters_set",
    "validate_params",
]


class Constraint:
    """One allowed form of a parameter value; ``str(constraint)`` describes it."""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` satisfies the constraint."""
        raise NotImplementedError


class Interval(Constraint):
    """A number of a type (``int`` or ``float``) inside ``[low, high]`` (either side open).

    Args:
        kind: ``int`` accepts integers only (not bools); ``float`` accepts any real number.
        low: Lower bound, or None.
        high: Upper bound, or None.
        closed: Which bounds are included: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``.

    Example:
        >>> str(Interval(float, 0, 1, closed="left")), Interval(float, 0, 1, "left").accepts(1.0)
        ('a number in [0, 1)', False)
    """

    def __init__(
        self, kind: type, low: float | None, high: float | None, closed: str = "both"
    ) -> None:
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        wanted = numbers.Integral if self.kind is int else numbers.Real
        if not isinstance(value, wanted):
            return False
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (not left and value == self.low)):
            return False
        return not (
            self.high is not None and (value > self.high or (not right and value == self.high))
        )

    def __str__(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        if self.low is not None and self.high is not None:
            left = "[" if self.closed in ("both", "left") else "("
            right = "]" if self.closed in ("both", "right") else ")"
            return f"{noun} in {left}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{noun} {'>=' if self.closed in ('both', 'left') else '>'} {self.low}"
        if self.high is not None:
            return f"{noun} {'<=' if self.closed in ('both', 'right') else '<'} {self.high}"
        return noun


class Options(Constraint):
    """One of a fixed set of values (``None`` included when listed)."""

    def __init__(self, *values: Any) -> None:
        self.values = values

    def accepts(self, value: Any) -> bool:
        return any(value is v or (type(value) is type(v) and value == v) for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


class _Boolean(Constraint):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def __str__(self) -> str:
        return "True or False"


class _Device(Constraint):
    # Only the form is checked here; whether the device exists is resolve_device's job.
    def accepts(self, value: Any) -> bool:
        return isinstance(value, (str, torch.device))

    def __str__(self) -> str:
        return "a device name ('auto', 'cpu', 'cuda', 'cuda:N', 'mps')"


class _RandomState(Constraint):
    def accepts(self, value: Any) -> bool:
        if value is None or isinstance(value, np.random.Generator):
            return True
        return (
            isinstance(value, numbers.Integral)
            and not isinstance(value, (bool, np.bool_))
            and value >= 0
        )

    def __str__(self) -> str:
        return "None, an integer >= 0 or a numpy Generator"


class Widths(Constraint):
    """A non-empty tuple or list of positive integers (layer widths)."""

    def accepts(self, value: Any) -> bool:
        return (
            isinstance(value, (tuple, list))
            and len(value) > 0
            and all(Interval(int, 1, None).accepts(v) for v in value)
        )

    def __str__(self) -> str:
        return "a non-empty tuple of positive integers"


#: ``True`` or ``False``.
BOOLEAN = _Boolean()
#: A device name; availability is checked when the model is fitted.
DEVICE = _Device()
#: ``None``, a non-negative integer seed or a numpy ``Generator``.
RANDOM_STATE = _RandomState()


def merged_constraints(cls: type) -> dict[str, list[Any]]:
    """The ``_parameter_constraints`` of ``cls`` and its bases, subclasses winning.

    Example:
        >>> class A:
        ...     _parameter_constraints = {"x": [BOOLEAN]}
        >>> class B(A):
        ...     _parameter_constraints = {"y": [None]}
        >>> sorted(merged_constraints(B))
        ['x', 'y']
    """
    merged: dict[str, list[Any]] = {}
    for klass in reversed(cls.__mro__):
        merged.update(vars(klass).get("_parameter_constraints", {}))
    return merged


def validate_params(
    owner: str, params: Mapping[str, Any], constraints: Mapping[str, Iterable[Any]]
) -> None:
    """Check each parameter against its constraints; ``None`` in a list allows ``None``.

    Args:
        owner: Name used in messages (the class name).
        params: Parameter values by name.
        constraints: Allowed forms by parameter name; parameters without an entry
            are not checked.

    Raises:
        ParameterError: Naming the parameter, the value and what is allowed.
    """
    for name, value in params.items():
        if name not in constraints:
            continue
        allowed = list(constraints[name])
        if any(_accepts(c, value) for c in allowed):
            continue
        described = " or ".join("None" if c is None else str(c) for c in allowed)
        raise ParameterError(
            f"{owner}: {name}={value!r} is not allowed; {name} must be {described}."
        )


def _accepts(constraint: Any, value: Any) -> bool:
    if constraint is None:
        return value is None
    return constraint.accepts(value)


@contextmanager
def parameters_set(model: Any, values: Mapping[str, Any]) -> Iterator[None]:
    """Set ``values`` as attributes of ``model`` for a block, then restore the given ones.

    A fit's schedule (epochs, batch size, learning rate) is read off the model by
    the training loop, the optimizer and a private fit's accounting; the user's
    parameters stay as they were given.

    Example:
        >>> class Model:
        ...     epochs = None
        >>> model = Model()
        >>> with parameters_set(model, {"epochs": 10}):
        ...     model.epochs
        10
        >>> model.epochs is None
        True
    """
    before = {name: getattr(model, name) for name in values}
    for name, value in values.items():
        setattr(model, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(model, name, value)
