"""Errors raised in a worker process, carried back to the process that started it."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import NoReturn

from synthkit import errors

__all__ = ["error_report", "raise_reported"]


def error_report(error: BaseException) -> dict[str, str]:
    """A JSON-ready description of ``error``, raised in a worker, for its parent.

    Call it inside the ``except`` block, so the traceback is the error's.

    Example:
        >>> try:
        ...     raise errors.DataError("bad rows")
        ... except errors.DataError as caught:
        ...     report = error_report(caught)
        >>> report["type"], report["message"]
        ('DataError', 'bad rows')
    """
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": traceback.format_exc(),
    }


def raise_reported(
    report: Mapping[str, str], where: str, failure: BaseException | None = None
) -> NoReturn:
    """Raise the error a worker reported: its own class for synthkit's errors.

    A :class:`~synthkit.errors.SynthkitError` (bad data, a bad parameter) is
    raised again as that class with its message, so callers catch it as if the
    work had run here; anything else becomes a ``RuntimeError`` that names
    ``where`` it happened and carries the worker's traceback.

    Example:
        >>> raise_reported({"type": "DataError", "message": "bad rows", "traceback": ""},
        ...                "The process fitting 'labs'")
        Traceback (most recent call last):
        ...
        synthkit.errors.DataError: bad rows
    """
    kind = getattr(errors, report["type"], None)
    if isinstance(kind, type) and issubclass(kind, errors.SynthkitError):
        raise kind(report["message"]) from failure
    raise RuntimeError(
        f"{where} failed with {report['type']}: {report['message']}\n{report['traceback']}"
    ) from failure
