"""The any-order autoregressive network: one small MLP head per column over masked embeddings."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional

from synthkit.generators.head_groups import HeadGroups

__all__ = ["ColumnHeads", "ColumnLosses", "per_example_sq_norms", "training_visibility"]


class ColumnHeads(nn.Module):
    """Predicts every column's token from the columns visible to it, all heads at once.

    Head ``i`` starts from the sum, over the columns ``j`` visible to it, of a
    learned vector for the pair (head ``i``, token of column ``j``): the first
    layer of an MLP on one-hot inputs, computed as one ``embedding_bag`` with
    the visibility mask as weights, so its cost does not grow with the
    vocabularies. A residual hidden layer and an output layer per head follow;
    the heads' weights are stacked so that all heads run as batched matrix
    products. One forward pass gives every column's logits under any
    visibility pattern, which is what order-agnostic training needs; sampling
    runs one head per step.

    Args:
        vocab_sizes: Number of tokens of each column, in model order.
        hidden_dim: Width of each head's hidden layers.
        dropout: Dropout on the hidden layers while training.

    Example:
        >>> net = ColumnHeads([3, 5], hidden_dim=8)
        >>> tokens = torch.tensor([[0, 4], [2, 1]])
        >>> visible = torch.tensor([[0.0, 0.0], [1.0, 0.0]])  # column 1 sees column 0
        >>> net(tokens, visible).shape
        torch.Size([2, 2, 5])
    """

    def __init__(
        self, vocab_sizes: Sequence[int], hidden_dim: int = 128, dropout: float = 0.0
    ) -> None:
        super().__init__()
        sizes = [int(v) for v in vocab_sizes]
        n_columns, width, total = len(sizes), max(sizes), sum(sizes)
        self.n_columns = n_columns
        self.sizes = sizes
        self.dropout = dropout
        offsets = torch.tensor([0, *sizes[:-1]], dtype=torch.long).cumsum(0)
        self.register_buffer("offsets", offsets)
        self.register_buffer("head_offsets", torch.arange(n_columns) * total)
        valid = torch.arange(width)[None, :] < torch.tensor(sizes)[:, None]
        self.register_buffer("invalid", ~valid)
        self.inputs = nn.Parameter(
            torch.randn(n_columns * total, hidden_dim) / math.sqrt(n_columns)
        )
        self.first_bias = nn.Parameter(torch.zeros(n_columns, 1, hidden_dim))
        self.second = nn.Parameter(
            torch.randn(n_columns, hidden_dim, hidden_dim) / math.sqrt(hidden_dim)
        )
        self.second_bias = nn.Parameter(torch.zeros(n_columns, 1, hidden_dim))
        self.out = nn.Parameter(torch.randn(n_columns, hidden_dim, width) / math.sqrt(hidden_dim))
        self.out_bias = nn.Parameter(torch.zeros(n_columns, 1, width))
        # Training's output layer and loss run per group of heads of like widths.
        self.head_groups = HeadGroups(sizes)

    @torch.no_grad()
    def start_from(self, shares: Sequence[torch.Tensor]) -> None:
        """Set each head's output bias to the log of its column's token ``shares``.

        With the hidden layers' contribution small at initialisation, every head
        then starts out predicting its column's marginal, and training only has to
        learn how the columns depend on each other.
        """
        for column, share in enumerate(shares):
            width = self.sizes[column]
            log_share = share.to(self.out_bias.device).clamp(min=1e-7).log()
            self.out_bias[column, 0, :width] = log_share - log_share.max()

    def _first_layer(self, index: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        flat = index.reshape(-1, self.n_columns)
        summed = functional.embedding_bag(
            flat,
            self.inputs,
            per_sample_weights=weights.reshape(flat.shape).to(self.inputs.dtype),
            mode="sum",
        )
        return summed.reshape(*index.shape[:-1], -1)

    def _heads(
        self,
        x: torch.Tensor,
        index: torch.Tensor | slice,
        record: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Run the heads ``index`` on first-layer sums ``x`` of shape ``[heads, rows, hidden]``.

        ``record``, when given, receives each layer's input and output (before its
        activation), which is what per-example gradient norms are computed from.
        """
        last = self._hidden(x, index, record)
        logits = torch.baddbmm(self.out_bias[index], last, self.out[index])
        if record is not None:
            record["logits"] = logits
        return logits.masked_fill(self.invalid[index][:, None, :], float("-inf"))

    def _hidden(
        self,
        x: torch.Tensor,
        index: torch.Tensor | slice,
        record: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """The heads' last hidden layer ``[heads, rows, hidden]`` (see :meth:`_heads`)."""
        first = x + self.first_bias[index]
        hidden = functional.dropout(functional.gelu(first), self.dropout, self.training)
        pre_inner = torch.baddbmm(self.second_bias[index], hidden, self.second[index])
        inner = functional.gelu(pre_inner)
        last = hidden + functional.dropout(inner, self.dropout, self.training)
        if record is not None:
            record.update(first=first, hidden=hidden, inner=pre_inner, last=last)
        return last

    def forward(
        self,
        tokens: torch.Tensor,
        visible: torch.Tensor,
        record: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Logits of every column: ``[rows, columns, max_vocab]``.

        Args:
            tokens: ``[rows, columns]`` tokens (values of hidden columns are ignored).
            visible: ``[rows, columns, columns]`` or ``[columns, columns]`` 0/1 mask;
                ``visible[..., i, j]`` says whether column ``i``'s head sees column ``j``.
            record: Optional dict that receives the layers' inputs and outputs
                (``[heads, rows, width]``) for :func:`per_example_sq_norms`.
        """
        return self._heads(self._first_sums(tokens, visible), slice(None), record).transpose(0, 1)

    def _first_sums(self, tokens: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Every head's first-layer sum ``[heads, rows, hidden]`` (see :meth:`forward`)."""
        if visible.dim() == 2:
            visible = visible.expand(tokens.shape[0], -1, -1)
        # index[b, i, j]: the row of head i's table for column j's token in row b.
        index = (tokens + self.offsets)[:, None, :] + self.head_offsets[None, :, None]
        return self._first_layer(index, visible).transpose(0, 1)

    def losses(self, tokens: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Cross-entropy ``[rows, columns]`` of every column's own token (training).

        The same losses as of :meth:`forward`'s logits, with the output layer run
        per group of heads of like widths (:mod:`~synthkit.generators.head_groups`).

        Args:
            tokens: ``[rows, columns]`` tokens, each column's target too.
            visible: The visibility mask, as for :meth:`forward`.
        """
        last = self._hidden(self._first_sums(tokens, visible), slice(None))
        self.head_groups = self.head_groups.to(last.device)
        return self.head_groups.losses(last, self.out, self.out_bias, tokens)

    def head(self, column: int, tokens: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """Logits ``[rows, vocab]`` of one column given a ``[rows, columns]`` known mask.

        Only this column's vocabulary is computed (no padding), which is what
        makes column-by-column sampling cheap.
        """
        index = tokens + self.offsets + self.head_offsets[column]
        hidden = functional.gelu(self._first_layer(index, known) + self.first_bias[column])
        inner = torch.addmm(self.second_bias[column], hidden, self.second[column])
        hidden = hidden + functional.gelu(inner)
        width = self.sizes[column]
        return torch.addmm(self.out_bias[column, :, :width], hidden, self.out[column, :, :width])


class ColumnLosses(nn.Module):
    """Training's view of :class:`ColumnHeads`: its forward is :meth:`ColumnHeads.losses`.

    A module of its own so a data-parallel wrapper, which hooks ``forward``,
    can wrap the loss computation.

    Example:
        >>> heads = ColumnHeads([3, 5], hidden_dim=8)
        >>> ColumnLosses(heads)(torch.tensor([[0, 4]]), torch.ones(2, 2).tril(-1)).shape
        torch.Size([1, 2])
    """

    def __init__(self, heads: ColumnHeads) -> None:
        super().__init__()
        self.heads = heads

    def forward(self, tokens: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Cross-entropy ``[rows, columns]`` of every column's own token."""
        return self.heads.losses(tokens, visible)


def training_visibility(rows: int, n_columns: int, device: torch.device) -> torch.Tensor:
    """Visibility masks of random column orders, as the sampler uses them.

    Half the rows use the canonical (table) order; the others first take a
    random subset of columns in random order, then the rest in canonical order.
    These are exactly the orders used at sampling time: conditioned (or
    observed, for imputation) columns first, then the rest in table order, so
    every conditional the sampler asks for is one the network was trained on.

    Returns:
        A ``[rows, columns, columns]`` float mask: entry ``[b, i, j]`` is 1 when
        column ``j`` comes before column ``i`` in row ``b``'s order.

    Example:
        >>> mask = training_visibility(4, 3, torch.device("cpu"))
        >>> mask.shape, bool((mask.diagonal(dim1=1, dim2=2) == 0).all())
        (torch.Size([4, 3, 3]), True)
    """
    draws = torch.rand(rows, n_columns, device=device)
    prefix = torch.randint(1, n_columns + 1, (rows, 1), device=device)
    prefix = torch.where(torch.rand(rows, 1, device=device) < 0.5, 0, prefix)
    rank = draws.argsort(dim=1).argsort(dim=1)
    in_prefix = rank < prefix
    canonical = torch.arange(n_columns, device=device, dtype=draws.dtype) + 1.0
    key = torch.where(in_prefix, draws, canonical.expand(rows, -1))
    return (key[:, None, :] < key[:, :, None]).float()


def per_example_sq_norms(
    record: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], visible: torch.Tensor
) -> torch.Tensor:
    """Squared norm of each row's gradient over all of :class:`ColumnHeads`' parameters.

    Computed from the layers' activations and the gradients of each row's loss with
    respect to the layers' outputs, without forming per-row parameter gradients (which
    for the input table alone would be heads x tokens x hidden numbers per row):

    * a weight ``W`` in ``y = b + h W`` gets the per-row gradient ``h^T g`` (one row of
      ``h`` and ``g`` per head), whose squared norm is ``|h|^2 |g|^2``; its bias gets ``g``;
    * head ``i``'s first layer sums input-table rows weighted by ``visible[b, i, j]``,
      and the rows picked for one row's heads and columns are all distinct, so the
      table's per-row squared norm is ``sum_j visible[b, i, j]^2 |g|^2`` per head.

    Heads own disjoint slices of every parameter, so the squares add up over heads.

    Args:
        record: The activations :meth:`ColumnHeads.forward` recorded.
        grads: Gradients of the summed per-row losses with respect to
            ``record["first"]``, ``record["inner"]`` and ``record["logits"]``.
        visible: The ``[rows, columns, columns]`` (or ``[columns, columns]``) mask used.

    Returns:
        A ``[rows]`` tensor of squared gradient norms.

    Example:
        >>> net = ColumnHeads([3, 2], hidden_dim=4)
        >>> tokens, visible = torch.tensor([[0, 1], [2, 0]]), torch.ones(2, 2).tril(-1)
        >>> record = {}
        >>> logits = net(tokens, visible, record)
        >>> loss = functional.cross_entropy(logits.transpose(1, 2), tokens, reduction="sum")
        >>> keys = ["first", "inner", "logits"]
        >>> grads = dict(zip(keys, torch.autograd.grad(loss, [record[k] for k in keys])))
        >>> per_example_sq_norms(record, grads, visible).shape
        torch.Size([2])
    """
    g_first = grads["first"].pow(2).sum(-1)  # [heads, rows]
    g_inner = grads["inner"].pow(2).sum(-1)
    g_logits = grads["logits"].pow(2).sum(-1)
    if visible.dim() == 2:
        weight = visible.pow(2).sum(-1)[:, None]  # [heads, 1]
    else:
        weight = visible.pow(2).sum(-1).transpose(0, 1)  # [heads, rows]
    hidden = record["hidden"].pow(2).sum(-1)
    last = record["last"].pow(2).sum(-1)
    total = g_first * (weight + 1.0) + g_inner * (hidden + 1.0) + g_logits * (last + 1.0)
    return total.sum(0)
