"""The memory budget of a streamed fit, and how its parts share it.

``memory_budget`` bounds the memory a streamed fit holds for data, whatever the
source's size. It is shared out as follows (``B`` the budget):

- **reading** (``B / 4``): the rows read, converted to pandas and encoded at
  once (``read_rows``), sized from the bytes a row takes in Arrow and in pandas
  (measured on the source's first rows, with a safety factor) plus the
  encoder's working arrays;
- **shuffle buffer** (``B / 2``): encoded rows waiting to be drawn into batches
  (``buffer_rows``), during training;
- **statistics** (``B / 4``): each numerical column's uniform sample
  (``sample_size`` values, at most 200,000) during the statistics pass, and the
  rows metadata detection reads (``detection_rows``, at most 10,000).

Not counted: the model (its weights, optimizer state and one batch's
activations, which do not grow with the data), the exact category counts (one
entry per distinct category) and the interpreter and libraries themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from synthkit.errors import ParameterError

__all__ = ["DEFAULT_MEMORY_BUDGET", "StreamPlan", "parse_memory"]

#: The budget of a streamed fit that names none.
DEFAULT_MEMORY_BUDGET = "256MB"

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
}
# Bytes of encoder working arrays per column and row (float64 levels, tokens, stacking).
_WORK_BYTES = 64
# A row's measured size is scaled by this: later rows may hold longer strings.
_SAFETY = 1.5
_MAX_SAMPLE = 200_000
_MAX_DETECTION_ROWS = 10_000


def parse_memory(value: int | str) -> int:
    """Bytes of a memory size: an integer, or text such as ``"256MB"`` or ``"1 GiB"``.

    ``KB``, ``MB``, ``GB`` are powers of 1000; ``KiB``, ``MiB``, ``GiB`` powers of 1024.

    Raises:
        ParameterError: For anything else, or a size under 1 MB.

    Example:
        >>> parse_memory("256MB"), parse_memory("1 GiB"), parse_memory(5_000_000)
        (256000000, 1073741824, 5000000)
    """
    size: float | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", value)
        if match and match.group(2).upper() in _UNITS:
            size = float(match.group(1)) * _UNITS[match.group(2).upper()]
    if size is None or size < 10**6:
        raise ParameterError(
            f"memory_budget={value!r}: give bytes as an integer or text such as '256MB' or "
            "'1GiB', at least 1 MB."
        )
    return int(size)


@dataclass(frozen=True)
class StreamPlan:
    """How many rows each part of a streamed fit holds, from the budget and the row sizes.

    Attributes:
        budget: The budget in bytes.
        read_rows: Rows read, converted and encoded at once.
        sample_size: Values in each numerical column's uniform sample.
        detection_rows: Rows metadata detection reads.
        row_bytes: Bytes one row takes while read (Arrow, pandas and encoding).

    Example:
        >>> plan = StreamPlan.for_rows(64_000_000, row_bytes=1000, n_numeric=6)
        >>> plan.read_rows, plan.sample_size, plan.detection_rows
        (16000, 83333, 8000)
        >>> plan.buffer_rows(encoded_row_bytes=60, batch_size=512, n_rows=10**7)
        533333
    """

    budget: int
    read_rows: int
    sample_size: int
    detection_rows: int
    row_bytes: int

    @classmethod
    def for_rows(cls, budget: int, row_bytes: float, n_numeric: int) -> StreamPlan:
        """The plan for rows of ``row_bytes`` (Arrow plus pandas plus encoding) each."""
        row_bytes = max(int(row_bytes), 1)
        quarter = budget // 4
        return cls(
            budget=budget,
            read_rows=max(quarter // row_bytes, 1),
            # A sample's values and random keys, twice while merging a batch in.
            sample_size=int(min(_MAX_SAMPLE, max(quarter // (32 * max(n_numeric, 1)), 1000))),
            detection_rows=int(min(_MAX_DETECTION_ROWS, max(budget // 8 // row_bytes, 100))),
            row_bytes=row_bytes,
        )

    @staticmethod
    def row_bytes_of(arrow_bytes: float, pandas_bytes: float, n_columns: int) -> float:
        """Bytes a row takes while it is read, converted and encoded, with a safety factor."""
        return _SAFETY * (arrow_bytes + pandas_bytes) + _WORK_BYTES * n_columns

    def buffer_rows(self, encoded_row_bytes: int, batch_size: int, n_rows: int) -> int:
        """Rows of the shuffle buffer: half the budget of encoded rows, at most the table.

        Raises:
            ParameterError: If that is fewer than two batches of a larger table.
        """
        rows = min(self.budget // 2 // max(encoded_row_bytes, 1), n_rows)
        if rows < min(2 * batch_size, n_rows):
            need = 4 * batch_size * encoded_row_bytes + 4 * batch_size * self.row_bytes
            raise ParameterError(
                f"memory_budget={self.budget:,} bytes holds {rows} encoded rows, fewer than "
                f"two batches of batch_size={batch_size}; raise it to at least {need:,} bytes "
                "or lower batch_size."
            )
        return int(rows)
