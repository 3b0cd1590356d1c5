"""TVAE: a variational autoencoder for tables (Xu et al., 2019)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from synthkit._params import Interval, Widths
from synthkit._runtime import fused_adam
from synthkit.generators._spans import SpanLayout
from synthkit.generators.base import RARE_CATEGORY_THRESHOLD, Synthesizer
from synthkit.generators.conditions import Context
from synthkit.generators.distributed import (
    batch_share,
    check_same_fit,
    global_batch_sizes,
    process_group,
)

__all__ = ["TVAE"]


def _mlp(in_dim: int, hidden: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    dim = in_dim
    for width in hidden:
        layers += [nn.Linear(dim, width), nn.ReLU()]
        dim = width
    return nn.Sequential(*layers), dim


class _Encoder(nn.Module):
    def __init__(self, data_dim: int, hidden: tuple[int, ...], embedding_dim: int) -> None:
        super().__init__()
        self.seq, dim = _mlp(data_dim, hidden)
        self.mu = nn.Linear(dim, embedding_dim)
        self.logvar = nn.Linear(dim, embedding_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.seq(x)
        return self.mu(hidden), self.logvar(hidden)


class _Decoder(nn.Module):
    def __init__(self, embedding_dim: int, hidden: tuple[int, ...], data_dim: int) -> None:
        super().__init__()
        self.seq, dim = _mlp(embedding_dim, hidden)
        self.out = nn.Linear(dim, data_dim)
        self.sigma = nn.Parameter(torch.ones(data_dim) * 0.1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.seq(z))


class TVAE(Synthesizer):
    """Tabular variational autoencoder.

    Parameter names and defaults follow the paper and SDV's ``TVAESynthesizer``.
    Conditions are met by batched rejection sampling (the model has no
    conditional input).

    Args:
        epochs: Passes over the data.
        batch_size: Rows per step.
        embedding_dim: Size of the latent space.
        compress_dims: Widths of the encoder's hidden layers.
        decompress_dims: Widths of the decoder's hidden layers.
        l2scale: Adam weight decay.
        loss_factor: Weight of the reconstruction loss against the KL term.
        learning_rate: Adam learning rate.
        rare_category_threshold: Categories seen in fewer training rows than this are
            pooled and never generated (privacy); 0 keeps every category.
        patience: Stop early when the loss has not improved for this many epochs.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        random_state: Seed for reproducible fits.
        verbose: Show a progress bar while fitting.

    References:
        Xu, Skoularidou, Cuesta-Infante & Veeramachaneni (2019), Modeling Tabular
        Data using Conditional GAN, NeurIPS.

    Example:
        >>> from synthkit.datasets import load_adult
        >>> model = TVAE(epochs=1, verbose=False, random_state=0)
        >>> model.fit(load_adult().head(1000)).sample(5).shape
        (5, 15)
    """

    name = "tvae"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "embedding_dim": [Interval(int, 1, None)],
        "compress_dims": [Widths()],
        "decompress_dims": [Widths()],
        "l2scale": [Interval(float, 0, None)],
        "loss_factor": [Interval(float, 0, None)],
        "learning_rate": [Interval(float, 0, None)],
    }

    def __init__(
        self,
        epochs: int = 300,
        batch_size: int = 500,
        embedding_dim: int = 128,
        compress_dims: tuple[int, ...] = (128, 128),
        decompress_dims: tuple[int, ...] = (128, 128),
        l2scale: float = 1e-5,
        loss_factor: float = 2.0,
        learning_rate: float = 1e-3,
        rare_category_threshold: int = RARE_CATEGORY_THRESHOLD,
        patience: int | None = None,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = True,
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.embedding_dim = embedding_dim
        self.compress_dims = compress_dims
        self.decompress_dims = decompress_dims
        self.l2scale = l2scale
        self.loss_factor = loss_factor
        self.learning_rate = learning_rate
        self.rare_category_threshold = rare_category_threshold
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _build_modules(self) -> None:
        data_dim = self.encoder_.output_dim_
        self._layout = SpanLayout(self.encoder_.spans_, self.device_)
        self.decoder_net_ = _Decoder(self.embedding_dim, tuple(self.decompress_dims), data_dim)
        self.decoder_net_.to(self.device_)

    def _modules(self) -> dict[str, nn.Module]:
        # Only what sampling needs: the encoder maps real rows to their codes, which a
        # membership attack could use, so it is not kept after fitting.
        return {"decoder": self.decoder_net_}

    def _fit(self, encoded: torch.Tensor) -> None:
        check_same_fit(encoded, self.random_state)
        encoder = _Encoder(
            self.encoder_.output_dim_, tuple(self.compress_dims), self.embedding_dim
        ).to(self.device_)
        self._build_modules()
        decoder, layout = self.decoder_net_, self._layout
        params = list(encoder.parameters()) + list(decoder.parameters())
        optimizer = torch.optim.Adam(
            params,
            lr=self.learning_rate,
            weight_decay=self.l2scale,
            fused=fused_adam(self.device_),
        )
        # In a process group both networks average their gradients; the sigma
        # parameter belongs to the decoder, so it is averaged with it.
        trained_encoder = self._training_module(encoder)
        trained_decoder = self._training_module(decoder)
        n_steps, batches = self._shuffled_rows(encoded.shape[0])
        sizes = global_batch_sizes(encoded.shape[0], self.batch_size)
        rank, world = process_group()
        tanh_index = layout.tanh_index
        labels = layout.block_labels(encoded)

        def step() -> dict[str, torch.Tensor]:
            rows = next(batches)
            global_rows = next(sizes)
            x = encoded[rows]
            mu, logvar = trained_encoder(x)
            # Every process draws the whole batch's noise and keeps its rows' share,
            # so the group draws what one process would and stays in step.
            noise = torch.randn(global_rows, mu.shape[1], device=mu.device)[rank::world]
            z = mu + noise * torch.exp(0.5 * logvar)
            raw = trained_decoder(z)
            sigma = decoder.sigma[tanh_index]
            error = x[:, tanh_index] - torch.tanh(raw[:, tanh_index])
            reconstruction = (error**2 / 2 / sigma**2).sum() + torch.log(sigma).sum() * len(rows)
            reconstruction = reconstruction + layout.cross_entropy(
                raw, [label[rows] for label in labels]
            )
            kld = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp())
            loss = (self.loss_factor * reconstruction + kld) / batch_share(global_rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            decoder.sigma.data.clamp_(0.01, 1.0)
            return {"loss": loss}

        self._run_epochs(n_steps, step, monitor=lambda row: row["loss"])

    def _sample(self, n: int, context: Context | None) -> torch.Tensor:
        decoder, layout = self.decoder_net_, self._layout
        sigma = decoder.sigma[layout.tanh_index]
        out = []
        chunk = 4096  # small batches stay in cache: faster than one big matrix
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            raw = decoder(torch.randn(m, self.embedding_dim, device=self.device_))
            # Values get the decoder's learned noise, as in TVAE; categories are drawn
            # from the decoder's softmax rather than its argmax, so a category the
            # decoder gives 20 % never becomes 0 %.
            values = torch.tanh(raw[:, layout.tanh_index])
            values = values + torch.randn_like(values) * sigma
            out.append(layout.sample_hard(raw, values))
        return torch.cat(out)
