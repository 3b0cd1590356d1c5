"""The encoded rows of a streamed fit: read, encoded and shuffled batch by batch.

A model's training loop reads its batches through ``_shuffled_batches(encoded)``
and the table's width through ``encoded.shape[1]``. :class:`StreamedRows` offers
both, so the same loop trains on a source larger than memory: each epoch reads
the source (its row groups in a shuffled order, where it has them), encodes
every chunk as it is read, and passes the rows through a shuffle buffer of a
fixed number of encoded rows, from which batches are drawn at random.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from synthkit.generators.distributed import process_group
from synthkit.generators.streamed_source import StreamSource
from synthkit.processing.base import BaseEncoder

__all__ = ["StreamedRows"]


class StreamedRows:
    """A source's rows in an encoder's space, drawn in shuffled batches without loading them.

    Args:
        source: Where the rows come from.
        encoder: The fitted encoder.
        n_rows: Rows in the source (from the statistics pass).
        read_rows: Rows read and encoded at once.
        buffer_rows: Encoded rows the shuffle buffer holds.
        seed: The fit's seed: row-group orders, encoding draws and buffer draws.

    Attributes:
        shape: ``(n_rows, encoded width)``, as a tensor of the whole table would have.

    Example:
        >>> import pandas as pd, pyarrow as pa
        >>> from synthkit.generators.streamed_source import BatchSource
        >>> from synthkit.processing import Discretizer
        >>> frame = pd.DataFrame({"c": ["a", "b"] * 50, "n": range(100)})
        >>> source = BatchSource(lambda: pa.Table.from_pandas(frame).to_batches(30))
        >>> rows = StreamedRows(source, Discretizer().fit(frame), 100, 30, 40, seed=0)
        >>> steps, batches = rows.shuffled_batches(25, torch.device("cpu"))
        >>> rows.shape, steps, next(batches).shape
        ((100, 2), 4, torch.Size([25, 2]))
    """

    def __init__(
        self,
        source: StreamSource,
        encoder: BaseEncoder,
        n_rows: int,
        read_rows: int,
        buffer_rows: int,
        seed: int,
    ) -> None:
        self.source = source
        self.encoder = encoder
        self.read_rows = int(read_rows)
        # A buffer larger than the table would only hold rows of two epochs.
        self.buffer_rows = int(max(min(buffer_rows, n_rows), 1))
        self.seed = int(seed)
        self.shape = (int(n_rows), int(encoder.output_dim_))

    def shuffled_batches(
        self, batch_size: int, device: torch.device
    ) -> tuple[int, Iterator[torch.Tensor]]:
        """Steps per epoch, and an endless iterator of shuffled batches on ``device``.

        As for an in-memory table, every process of a ``torch.distributed`` group
        draws the same batches (the fit's seed is shared) and keeps its own slice.
        """
        rank, world = process_group()

        def batches() -> Iterator[torch.Tensor]:
            for batch in self._batches(batch_size):
                yield batch[rank::world].to(device)

        return max(-(-self.shape[0] // batch_size), 1), batches()

    def _chunks(self) -> Iterator[torch.Tensor]:
        """Encoded chunks of the source, epoch after epoch, in a new order each epoch."""
        for epoch in range(2**62):
            rng = np.random.default_rng([self.seed, epoch])
            order_rng = rng if self.source.shuffles else None
            for frame in self.source.frames(self.read_rows, order_rng):
                seed = int(rng.integers(2**62))
                yield self.encoder.encode(frame, random_state=seed, device="cpu")

    def _batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Batches drawn from the shuffle buffer.

        Once the buffer is full, each incoming chunk takes the places of as many
        rows drawn at random from the buffer, and the drawn rows, in random order,
        are cut into batches.
        """
        rng = np.random.default_rng([self.seed, 2**32])
        capacity = self.buffer_rows
        buffer: torch.Tensor | None = None
        filled = 0
        pending: list[torch.Tensor] = []
        n_pending = 0
        for chunk in self._chunks():
            chunk = _stored(chunk)
            if buffer is None:
                buffer = torch.empty((capacity, chunk.shape[1]), dtype=chunk.dtype)
            start = min(capacity - filled, len(chunk))
            buffer[filled : filled + start] = chunk[:start]
            filled += start
            rest = chunk[start:]
            if not len(rest):
                continue
            # Distinct slots without a permutation of the whole buffer (its own memory).
            slots = torch.from_numpy(rng.choice(capacity, size=len(rest), replace=False))
            pending.append(buffer[slots].clone())
            buffer[slots] = rest
            n_pending += len(rest)
            if n_pending < batch_size:
                continue
            drawn = torch.cat(pending)
            usable = len(drawn) - len(drawn) % batch_size
            for begin in range(0, usable, batch_size):
                yield _widened(drawn[begin : begin + batch_size])
            pending = [drawn[usable:]] if usable < len(drawn) else []
            n_pending = len(drawn) - usable


def _stored(chunk: torch.Tensor) -> torch.Tensor:
    """Tokens are kept as 32-bit integers in the buffer: half the memory of int64."""
    return chunk.to(torch.int32) if chunk.dtype == torch.int64 else chunk


def _widened(batch: torch.Tensor) -> torch.Tensor:
    return batch.long() if batch.dtype == torch.int32 else batch
