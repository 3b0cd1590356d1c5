"""Errors raised by synthkit.

Every error synthkit raises on purpose derives from :class:`SynthkitError`, so a
pipeline can catch one class. Messages name the column, file or parameter, the
value received and what to do about it.

Example:
    >>> import synthkit
    >>> try:
    ...     synthkit.Synthesizer("ctgan").sample(10)
    ... except synthkit.errors.NotFittedError as error:
    ...     print(type(error).__name__)
    NotFittedError
"""

from __future__ import annotations

__all__ = [
    "ConditionError",
    "ConnectorError",
    "DataError",
    "EvaluationError",
    "MetadataError",
    "MissingDependencyError",
    "ModelFileError",
    "NotFittedError",
    "ParameterError",
    "ReleaseGateError",
    "RuleError",
    "ShardedOutputError",
    "SynthkitError",
    "UnknownNameError",
]


class SynthkitError(Exception):
    """Root of every error synthkit raises on purpose."""


class DataError(SynthkitError, ValueError):
    """The input data cannot be used as it is (empty, all-null, mixed types, inf values)."""


class MetadataError(SynthkitError, ValueError):
    """Metadata is invalid or does not match the data it describes."""


class ReleaseGateError(SynthkitError):
    """A privacy gate of a release failed; nothing was written."""


class RuleError(MetadataError):
    """A rule between columns is invalid, not met by the real data, or cannot be met."""


class ParameterError(SynthkitError, ValueError):
    """A parameter has a value outside what it accepts."""


class NotFittedError(SynthkitError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""


class ConditionError(SynthkitError, ValueError):
    """Sampling conditions name an unknown column or value, or cannot be met."""


class ModelFileError(SynthkitError, OSError):
    """A saved model file is missing, damaged, unsafe or of an incompatible version."""


class ShardedOutputError(SynthkitError, ValueError):
    """A sharded output directory holds another run's manifest or parts, or a shard failed."""


class ConnectorError(SynthkitError, OSError):
    """Reading or writing a data source failed."""


class EvaluationError(SynthkitError, ValueError):
    """Data passed to an evaluation cannot be scored as given."""


class MissingDependencyError(SynthkitError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` line."""


class UnknownNameError(SynthkitError, KeyError):
    """A registry was asked for a name it does not know."""

    def __str__(self) -> str:
        # KeyError quotes its message; show it as written instead.
        return str(self.args[0]) if self.args else ""
