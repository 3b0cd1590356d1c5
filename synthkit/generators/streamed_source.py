"""Sources a model fits from without loading them: Parquet files, or a re-readable batch stream.

A streamed fit reads its source several times (a sample, the statistics, every
training epoch), each time as Arrow record batches of a bounded number of rows.
:class:`ParquetSource` reads Parquet files row group by row group and can visit
the row groups in a shuffled order; :class:`BatchSource` re-opens any stream of
record batches (``synthkit.connectors.iter_batches`` over CSV, Arrow or SQL) and reads it in
order. :func:`as_source` turns what ``fit`` was given into one of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from synthkit.errors import DataError

__all__ = ["BatchSource", "ParquetSource", "StreamSource", "as_source", "is_streamed"]


class StreamSource:
    """A table read in record batches, as many times as a fit needs.

    Attributes:
        shuffles: Whether :meth:`batches` can visit the data in a shuffled order.
    """

    shuffles: bool = False

    def batches(
        self, rows: int, rng: np.random.Generator | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of at most ``rows`` rows; ``rng`` shuffles the order where possible."""
        raise NotImplementedError

    def frames(self, rows: int, rng: np.random.Generator | None = None) -> Iterator[pd.DataFrame]:
        """:meth:`batches` as pandas frames, with the dtypes ``synthkit.load`` gives."""
        from synthkit.schema._arrow import to_pandas

        for batch in self.batches(rows, rng):
            yield to_pandas(pa.Table.from_batches([batch]))


class ParquetSource(StreamSource):
    """Parquet files (a path, glob, directory or list of them) read row group by row group.

    With an ``rng``, :meth:`batches` visits the row groups of all files in a
    random order: the first stage of a streamed fit's shuffle.

    Args:
        uris: As :class:`synthkit.connectors.parquet_format.ParquetFiles` takes.

    Example:
        >>> import tempfile, pathlib
        >>> import synthkit
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
        >>> synthkit.save(pd.DataFrame({"n": range(10)}), path, row_group_size=4)
        >>> [len(frame) for frame in ParquetSource(path).frames(rows=3)]
        [3, 1, 3, 1, 2]
    """

    shuffles = True

    def __init__(self, uris: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> None:
        from synthkit.connectors.parquet_format import ParquetFiles

        self.files = ParquetFiles(uris)

    @property
    def n_rows(self) -> int:
        """Rows in all files."""
        return self.files.n_rows

    def batches(  # noqa: D102
        self, rows: int, rng: np.random.Generator | None = None
    ) -> Iterator[pa.RecordBatch]:
        groups = self.files.row_groups
        order = range(len(groups)) if rng is None else rng.permutation(len(groups))
        for index in order:
            yield from self.files.read(groups[int(index)], rows)


class BatchSource(StreamSource):
    """Any stream of Arrow record batches that can be opened again for each pass.

    Args:
        open_batches: Called once per pass; returns an iterable of record batches
            (for example ``lambda: synthkit.connectors.iter_batches("big.csv")``). Every batch
            must have the first one's schema.
        name: How messages name the source.

    Example:
        >>> import pyarrow as pa
        >>> table = pa.table({"n": list(range(5))})
        >>> source = BatchSource(lambda: table.to_batches(max_chunksize=4))
        >>> [len(frame) for frame in source.frames(rows=3)]
        [3, 1, 1]
    """

    def __init__(
        self, open_batches: Callable[[], Iterable[pa.RecordBatch]], name: str = "the batch source"
    ) -> None:
        if not callable(open_batches):
            raise DataError(
                "BatchSource needs a function that opens the stream again for every pass, "
                "e.g. BatchSource(lambda: synthkit.connectors.iter_batches(uri)); an "
                "iterator can be read only once."
            )
        self.open_batches = open_batches
        self.name = name

    def batches(  # noqa: D102
        self, rows: int, rng: np.random.Generator | None = None
    ) -> Iterator[pa.RecordBatch]:
        schema = None
        for item in self.open_batches():
            for batch in item.to_batches() if isinstance(item, pa.Table) else [item]:
                if not isinstance(batch, pa.RecordBatch):
                    raise DataError(
                        f"{self.name} yielded a {type(batch).__name__}; it must yield "
                        "pyarrow.RecordBatch objects (synthkit.connectors.iter_batches does)."
                    )
                if schema is None:
                    schema = batch.schema
                elif not batch.schema.remove_metadata().equals(schema.remove_metadata()):
                    raise DataError(
                        f"The batches of {self.name} do not share one schema ({schema} then "
                        f"{batch.schema}); every batch must have the same columns and types."
                    )
                # Slices are views: a batch larger than ``rows`` is handed on in pieces.
                for start in range(0, batch.num_rows, rows):
                    yield batch.slice(start, rows)


def is_streamed(data: object) -> bool:
    """Whether ``fit`` should stream ``data``: Parquet paths, a glob, a directory or a source.

    Other paths (a CSV file) are not streamed by path: ``fit`` then asks for a
    DataFrame, and :func:`synthkit.batch_source` streams them.

    Example:
        >>> is_streamed("data/*.parquet"), is_streamed(["a.pq", "b.pq"]), is_streamed("a.csv")
        (True, True, False)
    """
    if isinstance(data, StreamSource):
        return True
    items = list(data) if isinstance(data, (list, tuple)) else [data]
    return bool(items) and all(_names_parquet(item) for item in items)


def _names_parquet(item: object) -> bool:
    if not isinstance(item, (str, os.PathLike)):
        return False
    text = os.fspath(item)
    name = text.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return (
        name.endswith((".parquet", ".pq"))
        or any(char in text for char in "*?[")
        or text.endswith("/")
        or Path(text).is_dir()
    )


def as_source(data: Any) -> StreamSource:
    """The source ``data`` names: itself, or the Parquet files of a path, glob or list.

    Raises:
        DataError: For paths that are not Parquet, match nothing, or disagree in schema.
    """
    if isinstance(data, StreamSource):
        return data
    items = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    for item in items:
        name = Path(os.fspath(item).split("?", 1)[0]).name
        if "." in name and not name.endswith((".parquet", ".pq")) and "*" not in name:
            raise DataError(
                f"{os.fspath(item)!r} is not a Parquet file: a fit streams Parquet files by "
                "path. Stream other formats with synthkit.batch_source(uri), "
                "or load them with synthkit.load(uri) to fit in memory."
            )
    return ParquetSource(items)
