"""The connector contract, its error classes and URL redaction shared by every connector."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa

from synthkit.errors import ConnectorError

__all__ = [
    "Connector",
    "ConnectorError",
    "DatabaseError",
    "FormatError",
    "MissingSourceError",
    "UnknownFormatError",
    "password_of",
    "redact",
]

#: Rows per record batch when a connector streams and the caller gave no size.
DEFAULT_BATCH_SIZE = 131_072


class UnknownFormatError(ConnectorError):
    """No registered connector handles the URI's scheme or suffix."""


class MissingSourceError(ConnectorError):
    """The file, directory or database table to read does not exist."""


class FormatError(ConnectorError):
    """The source exists but its content is malformed for its format."""


class DatabaseError(ConnectorError):
    """A database could not be reached or refused a statement."""


class Connector:
    """Base class of a connector: reads a source into Arrow and writes Arrow back atomically.

    Subclasses set ``name``, ``schemes`` (URI schemes such as ``"sqlite"``) and
    ``suffixes`` (file suffixes such as ``".csv"``), and implement :meth:`read`,
    :meth:`iter_batches` and :meth:`write`. Options are explicit keyword
    arguments, so unknown options are reported by name.

    Example:
        >>> class Upper(Connector):
        ...     name, suffixes = "upper", (".up",)
        >>> Upper().handles_suffix("data.UP")
        True
    """

    name: ClassVar[str] = ""
    schemes: ClassVar[tuple[str, ...]] = ()
    suffixes: ClassVar[tuple[str, ...]] = ()

    def read(self, uri: str, **options: Any) -> pa.Table:
        """Read the whole source into one Arrow table."""
        raise NotImplementedError(f"The {self.name} connector cannot read.")

    def iter_batches(self, uri: str, **options: Any) -> Iterator[pa.RecordBatch]:
        """Yield the source as record batches; the default reads it whole first."""
        batch_size = options.pop("batch_size", None) or DEFAULT_BATCH_SIZE
        yield from self.read(uri, **options).to_batches(max_chunksize=batch_size)

    def write(self, table: pa.Table, uri: str, **options: Any) -> None:
        """Write ``table`` to ``uri`` atomically."""
        raise NotImplementedError(f"The {self.name} connector cannot write.")

    def handles_suffix(self, uri: str) -> bool:
        """Return whether ``uri`` ends with one of this connector's suffixes."""
        lowered = uri.lower()
        return any(lowered.endswith(suffix) for suffix in self.suffixes)


_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-z][a-z0-9+.\-]*://[^:/@\s]*:)(?P<secret>[^@\s]*)(?=@)")


def password_of(uri: str) -> str | None:
    """Return the password inside a URL such as ``scheme://user:password@host``, if any.

    Example:
        >>> password_of("postgresql://bob:s3cret@db/x"), password_of("data/people.csv")
        ('s3cret', None)
    """
    match = _PASSWORD_IN_URL.search(uri)
    return match["secret"] if match and match["secret"] else None


def redact(text: str, *secrets: str | None) -> str:
    """Hide passwords of URLs in ``text``, and any of ``secrets`` wherever they appear.

    Example:
        >>> redact("cannot reach postgresql://bob:s3cret@db:5432/x")
        'cannot reach postgresql://bob:***@db:5432/x'
    """
    text = _PASSWORD_IN_URL.sub(lambda match: f"{match['head']}***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
