"""Vectorized per-span operations on encoded rows: activations, sampling and losses."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from synthkit.processing.columns import Span

__all__ = ["SpanLayout"]


class SpanLayout:
    """Index tensors that let every softmax block of a row be handled in one operation.

    The softmax blocks have different widths, so they are gathered into a padded
    ``[rows, blocks, max_width]`` tensor whose padding is ``-inf``; one softmax,
    Gumbel draw or cross-entropy over the last axis then serves all blocks at once,
    with no Python loop over columns in the training step.

    Args:
        spans: The encoder's spans.
        device: Where the index tensors live.

    Example:
        >>> spans = [Span("a", 0, 1, "tanh", "value"), Span("a", 1, 2, "softmax", "mode"),
        ...          Span("b", 3, 3, "softmax", "category")]
        >>> layout = SpanLayout(spans, torch.device("cpu"))
        >>> layout.activate(torch.zeros(2, 6), tau=1.0).shape
        torch.Size([2, 6])
    """

    def __init__(self, spans: Sequence[Span], device: torch.device) -> None:
        self.dim = max((s.stop for s in spans), default=0)
        self.tanh_index = torch.tensor(
            [s.start for s in spans if s.activation == "tanh"], dtype=torch.long, device=device
        )
        softmax = [s for s in spans if s.activation == "softmax"]
        self.n_blocks = len(softmax)
        self.max_width = max((s.width for s in softmax), default=0)
        index = torch.full((self.n_blocks, self.max_width), self.dim, dtype=torch.long)
        for i, span in enumerate(softmax):
            index[i, : span.width] = torch.arange(span.start, span.stop)
        self.block_index = index.to(device)
        self.padding = (index == self.dim).to(device)
        self.block_bounds = [(s.start, s.stop) for s in softmax]
        self.block_of = {(s.column, s.role): i for i, s in enumerate(softmax)}
        valid = ~self.padding.reshape(-1)
        self.valid_flat = valid.nonzero().squeeze(1)
        # Columns of [tanh values, valid softmax entries] in that order, and back.
        order = torch.cat([self.tanh_index, self.block_index.reshape(-1)[self.valid_flat]])
        self.inverse_order = torch.empty_like(order)
        self.inverse_order[order] = torch.arange(len(order), device=device)

    def blocks(self, rows: torch.Tensor, fill: float = float("-inf")) -> torch.Tensor:
        """Gather the softmax blocks into ``[rows, blocks, max_width]``, padding with ``fill``."""
        padded = torch.cat([rows, rows.new_zeros(rows.shape[0], 1)], dim=1)
        gathered = padded[:, self.block_index]
        return gathered.masked_fill(self.padding, fill)

    def _assemble(self, values: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
        flat = blocks.reshape(blocks.shape[0], -1)[:, self.valid_flat]
        return torch.cat([values, flat], dim=1)[:, self.inverse_order]

    def activate(self, raw: torch.Tensor, tau: float = 0.2) -> torch.Tensor:
        """CTGAN's output activation: tanh for values, Gumbel-softmax for every block."""
        values = torch.tanh(raw[:, self.tanh_index])
        # Noise on the unpadded row: padding would multiply the draws by the widest block.
        gumbel = -torch.empty_like(raw).exponential_().log()
        soft = torch.softmax(self.blocks((raw + gumbel) / tau), dim=-1)
        return self._assemble(values, soft)

    def sample_hard(self, raw: torch.Tensor) -> torch.Tensor:
        """Draw final rows: tanh values and a one-hot draw from every block's softmax.

        Taking the argmax of logits plus Gumbel noise draws from the block's
        softmax distribution, exactly as CTGAN's Gumbel-softmax followed by argmax.
        """
        gumbel = -torch.empty_like(raw).exponential_().log()
        return self.argmax_hard(raw + gumbel, torch.tanh(raw[:, self.tanh_index]))

    def argmax_hard(self, raw: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Rows with the given values and each block's largest entry set to one, others zero."""
        out = torch.zeros_like(raw)
        out[:, self.tanh_index] = values
        rows = torch.arange(raw.shape[0], device=raw.device)
        # One pass per block over large batches: cheaper than padding every block
        # to the widest one, which multiplies the work when one column has many categories.
        for start, stop in self.block_bounds:
            out[rows, start + raw[:, start:stop].argmax(dim=1)] = 1.0
        return out

    def cross_entropy(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Summed cross-entropy of every softmax block of ``raw`` against one-hot ``target``."""
        log_probs = torch.log_softmax(self.blocks(raw), dim=-1)
        labels = self.blocks(target, fill=-1.0).argmax(dim=-1)
        return -log_probs.gather(-1, labels.unsqueeze(-1)).sum()
