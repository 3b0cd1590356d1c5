"""Local paths and fsspec URLs: opening sources and writing targets atomically."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.fs as pafs
from fsspec.implementations.local import LocalFileSystem

from synthkit._files import atomic_path
from synthkit.connectors._base import ConnectorError, MissingSourceError, redact

__all__ = [
    "COMPRESSION_SUFFIXES",
    "arrow_filesystem",
    "atomic_output_path",
    "compression_of",
    "open_input_stream",
    "open_output_stream",
    "require_exists",
    "resolve",
    "strip_compression",
]

#: Compressed-file suffixes and the Arrow codec that reads them.
COMPRESSION_SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}


def resolve(uri: str | os.PathLike[str]) -> tuple[fsspec.AbstractFileSystem, str]:
    """Return the filesystem and the path inside it for a local path or fsspec URL.

    Example:
        >>> fs, path = resolve("memory://folder/data.csv")
        >>> type(fs).__name__, path
        ('MemoryFileSystem', '/folder/data.csv')
    """
    text = os.fspath(uri)
    try:
        fs, path = fsspec.core.url_to_fs(text)
    except (ImportError, ValueError) as error:
        raise ConnectorError(
            f"Cannot open {redact(text)!r}: {redact(str(error))}. Install the fsspec backend "
            "for its scheme (for example s3fs for s3://, gcsfs for gs://)."
        ) from None
    return fs, path


def arrow_filesystem(fs: fsspec.AbstractFileSystem) -> pafs.FileSystem:
    """Return an Arrow filesystem for ``fs``: native for local files, wrapped otherwise."""
    if isinstance(fs, LocalFileSystem):
        return pafs.LocalFileSystem()
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs))


def compression_of(path: str) -> str | None:
    """Return the Arrow codec name implied by a path's last suffix, or ``None``."""
    return COMPRESSION_SUFFIXES.get(Path(path).suffix.lower())


def strip_compression(path: str) -> str:
    """Return ``path`` without a trailing compression suffix (``a.csv.gz`` -> ``a.csv``)."""
    return path[: -len(Path(path).suffix)] if compression_of(path) else path


def require_exists(fs: fsspec.AbstractFileSystem, path: str, uri: str) -> None:
    """Raise :class:`MissingSourceError` naming ``uri`` when nothing exists at ``path``."""
    if not fs.exists(path):
        raise MissingSourceError(
            f"No file or directory at {redact(uri)}; check the path (relative paths start at "
            f"{os.getcwd()})."
        )


def open_input_stream(uri: str, compression: str | None = "infer") -> pa.NativeFile:
    """Open ``uri`` for reading as an Arrow stream, decompressing by suffix when asked.

    Args:
        uri: A local path or fsspec URL.
        compression: ``"infer"`` (from the suffix), an Arrow codec name, or ``None``.
    """
    fs, path = resolve(uri)
    require_exists(fs, path, uri)
    codec = compression_of(path) if compression == "infer" else compression
    stream = arrow_filesystem(fs).open_input_stream(path, compression=None)
    return pa.CompressedInputStream(stream, codec) if codec else stream


@contextlib.contextmanager
def atomic_output_path(uri: str, *, directory: bool = False) -> Iterator[tuple[Any, str]]:
    """Yield ``(arrow_filesystem, temporary_path)`` that becomes ``uri`` when the block succeeds.

    Local targets use :func:`synthkit._files.atomic_path` (temporary file beside the
    target, then rename). Other filesystems write a hidden temporary object beside
    the target and move it into place, removing it if the block fails.
    """
    fs, path = resolve(uri)
    if isinstance(fs, LocalFileSystem):
        with atomic_path(path, directory=directory) as tmp:
            yield pafs.LocalFileSystem(), str(tmp)
        return
    parent, _, name = path.rstrip("/").rpartition("/")
    stem = f"{parent}/.{name}.{uuid.uuid4().hex}"
    tmp = f"{stem}.tmp"
    if directory:
        fs.makedirs(tmp, exist_ok=True)
    try:
        yield arrow_filesystem(fs), tmp
        _swap_in(fs, tmp, path, f"{stem}.old", directory)
    except BaseException:
        if fs.exists(tmp):
            fs.rm(tmp, recursive=True)
        raise


def _swap_in(fs: fsspec.AbstractFileSystem, tmp: str, path: str, backup: str, tree: bool) -> None:
    # Object stores have no atomic rename: set the old target aside, move the new one
    # in, and put the old one back if that move fails.
    had_target = fs.exists(path)
    if had_target:
        fs.mv(path, backup, recursive=tree)
    try:
        fs.mv(tmp, path, recursive=tree)
    except BaseException:
        if had_target:
            fs.mv(backup, path, recursive=tree)
        raise
    if had_target:
        fs.rm(backup, recursive=True)


@contextlib.contextmanager
def open_output_stream(uri: str, compression: str | None = "infer") -> Iterator[pa.NativeFile]:
    """Yield a writable Arrow stream whose content replaces ``uri`` atomically on success."""
    codec = compression_of(uri) if compression == "infer" else compression
    with atomic_output_path(uri) as (filesystem, tmp):
        raw = filesystem.open_output_stream(tmp, compression=None)
        stream = pa.CompressedOutputStream(raw, codec) if codec else raw
        try:
            yield stream
        finally:
            stream.close()
