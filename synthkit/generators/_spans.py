"""Vectorized per-span operations on encoded rows: activations, sampling and losses."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from synthkit.processing.columns import Span

__all__ = ["PaddedBlocks", "SpanLayout", "gumbel_like"]


def gumbel_like(x: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise shaped like ``x`` (``-log(-log(u))``, faster than exponential draws).

    Example:
        >>> gumbel_like(torch.zeros(2, 3)).shape
        torch.Size([2, 3])
    """
    uniform = torch.rand_like(x).clamp_(1e-12, 1.0 - 1e-7)
    return -torch.log(-torch.log(uniform))


class PaddedBlocks:
    """Softmax blocks of equal-ish width gathered into one padded tensor.

    Args:
        spans: The blocks (softmax spans) to gather.
        dim: Width of the rows the blocks are taken from; index ``dim`` is padding.
        device: Where the index tensors live.
    """

    def __init__(self, spans: Sequence[Span], dim: int, device: torch.device) -> None:
        width = max((s.width for s in spans), default=0)
        index = torch.full((len(spans), width), dim, dtype=torch.long)
        for i, span in enumerate(spans):
            index[i, : span.width] = torch.arange(span.start, span.stop)
        self.index = index.to(device)
        self.padding = (index == dim).to(device)
        self.width = width
        self.widths = torch.tensor([s.width for s in spans], dtype=torch.long, device=device)
        self.valid_flat = (~self.padding.reshape(-1)).nonzero().squeeze(1)
        self.columns = self.index.reshape(-1)[self.valid_flat]

    def gather(self, rows: torch.Tensor, fill: float = float("-inf")) -> torch.Tensor:
        """``[rows, blocks, width]`` view of the blocks, padding set to ``fill``."""
        padded = torch.cat([rows, rows.new_zeros(rows.shape[0], 1)], dim=1)
        return padded[:, self.index].masked_fill(self.padding, fill)

    def flatten(self, blocks: torch.Tensor) -> torch.Tensor:
        """The valid entries of ``[rows, blocks, width]``, in the order of ``self.columns``."""
        return blocks.reshape(blocks.shape[0], -1)[:, self.valid_flat]


class SpanLayout:
    """Index tensors that let the softmax blocks of a row be handled a few at a time.

    The softmax blocks have different widths, so blocks of similar width (the same
    power of two) are gathered into one padded ``[rows, blocks, width]`` tensor whose
    padding is ``-inf``; one softmax, Gumbel draw or cross-entropy over its last
    axis then serves all its blocks at once. Bucketing by width keeps the padding
    small when one column has many more categories than the rest.

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
        buckets: dict[int, list[Span]] = {}
        for span in softmax:
            buckets.setdefault(max(span.width - 1, 0).bit_length(), []).append(span)
        self.groups = [
            PaddedBlocks(group, self.dim, device) for _, group in sorted(buckets.items())
        ]
        # Columns of [tanh values, each group's valid entries] in that order, and back.
        order = torch.cat([self.tanh_index, *[g.columns for g in self.groups]])
        self.inverse_order = torch.empty_like(order)
        self.inverse_order[order] = torch.arange(len(order), device=device)

    def _assemble(self, values: torch.Tensor, parts: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([values, *parts], dim=1)[:, self.inverse_order]

    def activate(self, raw: torch.Tensor, tau: float = 0.2) -> torch.Tensor:
        """CTGAN's output activation: tanh for values, Gumbel-softmax for every block."""
        values = torch.tanh(raw[:, self.tanh_index])
        noisy = (raw + gumbel_like(raw)) / tau
        parts = [g.flatten(torch.softmax(g.gather(noisy), dim=-1)) for g in self.groups]
        return self._assemble(values, parts)

    def sample_hard(self, raw: torch.Tensor, values: torch.Tensor | None = None) -> torch.Tensor:
        """Draw final rows: tanh values and a one-hot draw from every block's softmax.

        This is the distribution CTGAN's Gumbel-softmax followed by argmax samples
        from, drawn by inverse CDF: one uniform number per block instead of Gumbel
        noise on every entry.

        Args:
            raw: Generator output (logits for blocks, pre-tanh values).
            values: Values to place in the tanh positions instead of ``tanh(raw)``.
        """
        out = torch.zeros_like(raw)
        out[:, self.tanh_index] = torch.tanh(raw[:, self.tanh_index]) if values is None else values
        # Padding gets weight exp(-inf) = 0. Unnormalized weights and a uniform scaled
        # by their total avoid torch's softmax, which is slow over a few entries on CPU.
        padded = torch.cat([raw, raw.new_full((raw.shape[0], 1), float("-inf"))], dim=1)
        for group in self.groups:
            logits = padded[:, group.index]
            cdf = (logits - logits.amax(dim=-1, keepdim=True)).exp_().cumsum_(dim=-1)
            uniform = torch.rand((*cdf.shape[:-1], 1), device=raw.device, dtype=cdf.dtype)
            choice = (cdf < uniform * cdf[..., -1:]).sum(dim=-1).clamp_(max=group.widths - 1)
            positions = group.index[torch.arange(group.index.shape[0], device=raw.device), choice]
            out.scatter_(1, positions, 1.0)
        return out

    def block_labels(self, target: torch.Tensor) -> list[torch.Tensor]:
        """The index of the one in each block of one-hot ``target``, per width group.

        Training data does not change between steps, so models compute this once.
        """
        return [group.gather(target, fill=-1.0).argmax(dim=-1) for group in self.groups]

    def cross_entropy(self, raw: torch.Tensor, labels: list[torch.Tensor]) -> torch.Tensor:
        """Summed cross-entropy of every softmax block of ``raw`` against ``labels``.

        Args:
            raw: Logits, ``[rows, dim]``.
            labels: :meth:`block_labels` of the target rows.
        """
        total = raw.new_zeros(())
        for group, label in zip(self.groups, labels, strict=True):
            log_probs = torch.log_softmax(group.gather(raw), dim=-1)
            total = total - log_probs.gather(-1, label.unsqueeze(-1)).sum()
        return total
