"""CTGAN: a conditional Wasserstein GAN for tables (Xu et al., 2019)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from synthkit._params import BOOLEAN, Interval, Widths
from synthkit._runtime import fused_adam
from synthkit.errors import ParameterError
from synthkit.generators._spans import PaddedBlocks, SpanLayout
from synthkit.generators.base import RARE_CATEGORY_THRESHOLD, Synthesizer
from synthkit.generators.conditions import Context
from synthkit.generators.distributed import (
    broadcast_buffers,
    check_same_fit,
    process_group,
    rank_block,
)
from synthkit.processing.encoder import TableEncoder

__all__ = ["CTGAN"]


class _Residual(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(self.bn(self.fc(x))), x], dim=1)


class _Generator(nn.Module):
    def __init__(self, in_dim: int, hidden: tuple[int, ...], out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        dim = in_dim
        for width in hidden:
            layers.append(_Residual(dim, width))
            dim += width
        layers.append(nn.Linear(dim, out_dim))
        self.seq = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.seq(z)


class _SamplingGenerator:
    """The generator in evaluation mode, rearranged to sample without concatenations.

    Each residual layer sees every earlier layer's output, the noise and the
    conditional vector side by side. Here each of those pieces is multiplied
    once by its slice of every later layer's weights and the products are
    summed into one accumulator; batch norm (a fixed affine map in evaluation
    mode) is folded into the weights, and the one-hot conditional vector
    becomes a row lookup. It computes the generator's function with fewer,
    larger matrix products and no copies of the growing input.

    Args:
        generator: A generator in evaluation mode.
        noise_dim: Width of the noise at the start of the generator's input.
    """

    def __init__(self, generator: _Generator, noise_dim: int) -> None:
        *residuals, final = generator.seq
        weights, biases = [], []
        for layer in residuals:
            bn = layer.bn
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            weights.append(layer.fc.weight * scale[:, None])
            biases.append((layer.fc.bias - bn.running_mean) * scale + bn.bias)
        weights.append(final.weight)
        biases.append(final.bias)
        self.widths = [w.shape[0] for w in weights]
        self.starts = np.cumsum([0, *self.widths[:-1]]).tolist()
        first_in = weights[0].shape[1]
        # Layer k's input is [h_{k-1}, ..., h_0, noise, condition]: the noise and the
        # condition are its last `first_in` columns, h_j sits before them.
        tails = [w[:, w.shape[1] - first_in :] for w in weights]
        self.noise_weight = torch.cat([t[:, :noise_dim] for t in tails]).T.contiguous()
        self.condition_rows = torch.cat([t[:, noise_dim:] for t in tails]).T.contiguous()
        self.bias = torch.cat(biases)
        self.hidden_weights = []
        for j in range(len(residuals)):
            slices = []
            for k in range(j + 1, len(weights)):
                start = sum(self.widths[j + 1 : k])  # h_{k-1} .. h_{j+1} come first
                slices.append(weights[k][:, start : start + self.widths[j]])
            self.hidden_weights.append(torch.cat(slices).T.contiguous())

    def __call__(self, noise: torch.Tensor, category: torch.Tensor | None) -> torch.Tensor:
        """Raw generator output for ``noise`` and global category ids (or no condition)."""
        total = torch.addmm(self.bias, noise, self.noise_weight)
        if category is not None:
            total += self.condition_rows[category]
        for j, weight in enumerate(self.hidden_weights):
            start = self.starts[j]
            hidden = torch.relu(total[:, start : start + self.widths[j]])
            total[:, start + self.widths[j] :].addmm_(hidden, weight)
        return total[:, self.starts[-1] :]


class _Discriminator(nn.Module):
    def __init__(self, in_dim: int, hidden: tuple[int, ...], pac: int) -> None:
        super().__init__()
        self.pac = pac
        self.pac_dim = in_dim * pac
        layers: list[nn.Module] = []
        dim = self.pac_dim
        for width in hidden:
            layers += [nn.Linear(dim, width), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            dim = width
        layers.append(nn.Linear(dim, 1))
        self.seq = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # PacGAN: the critic judges groups of `pac` rows at once to discourage mode collapse.
        return self.seq(x.reshape(-1, self.pac_dim))

    def gradient_penalty(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        weight: float = 10.0,
        critic: nn.Module | None = None,
    ) -> torch.Tensor:
        """WGAN-GP's penalty on the critic's gradient norm at mixes of real and fake groups.

        ``critic`` is the module to call: this one, or it wrapped for data-parallel
        training. In a process group the rows are this process's block of the global
        batch; every process draws the whole batch's mixing weights and keeps its
        block's, so the group draws what one process would and stays in step.
        """
        groups = real.shape[0] // self.pac
        total = groups * process_group()[1]
        alpha = torch.rand(total, 1, 1, device=real.device)[rank_block(total)]
        alpha = alpha.expand(groups, self.pac, 1).reshape(-1, 1)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        score = (critic or self)(mixed)
        (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
        norms = grad.reshape(-1, self.pac_dim).norm(2, dim=1)
        return ((norms - 1) ** 2).mean() * weight


class _ConditionSampler:
    """CTGAN's conditional vectors and training-by-sampling, as device tensors.

    A conditional vector picks one categorical column uniformly and one of its
    categories; training draws the category by log-frequency (so rare ones are
    seen often) and pairs it with a real row of that category.
    """

    def __init__(self, encoder: TableEncoder, device: torch.device) -> None:
        columns = encoder.categorical_columns
        self.n_columns = len(columns)
        self.spans = [encoder.span_of(c, "category") for c in columns]
        widths = [s.width for s in self.spans]
        self.dim = sum(widths)
        self.offsets = torch.tensor(np.cumsum([0, *widths[:-1]]), dtype=torch.long, device=device)
        max_width = max(widths, default=1)
        log_probs = torch.zeros(max(self.n_columns, 1), max_width, device=device)
        probs = torch.zeros_like(log_probs)
        for i, column in enumerate(columns):
            counts = torch.as_tensor(encoder.transforms_[column].counts, dtype=torch.float32)
            log_counts = torch.log(counts + 1)
            log_probs[i, : len(counts)] = log_counts / log_counts.sum()
            probs[i, : len(counts)] = counts / counts.sum()
        self.probs = probs
        self.width = max_width
        # Cumulative shares over (column, category) cells, for inverse-CDF draws;
        # each column's row sums to 1, so a column is picked uniformly.
        self.cdfs = {
            False: torch.cumsum(probs.reshape(-1), 0),
            True: torch.cumsum(log_probs.reshape(-1), 0),
        }
        self.device = device

    def training_index(self, encoded: torch.Tensor) -> None:
        """Group the rows of each category so a row of any category is one lookup away."""
        codes = [encoded[:, s.start : s.stop].argmax(dim=1) for s in self.spans]
        global_codes = torch.stack(codes, dim=1) + self.offsets  # [rows, columns]
        flat = global_codes.T.reshape(-1)
        self.rows_by_category = torch.argsort(flat, stable=True) % encoded.shape[0]
        counts = torch.bincount(flat, minlength=self.dim)
        self.category_counts = counts
        self.category_starts = torch.cumsum(counts, 0) - counts

    def draw(self, n: int, log_frequency: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Pick a column uniformly and a category by frequency (or log-frequency).

        Together the two choices are one fixed distribution over (column,
        category) cells, drawn with one inverse-CDF lookup per row.

        Returns:
            Each row's column and global category id.
        """
        cdf = self.cdfs[log_frequency]
        uniform = torch.rand(n, device=self.device) * cdf[-1]
        cell = torch.searchsorted(cdf, uniform, right=True).clamp_(max=len(cdf) - 1)
        column, category = cell // self.width, cell % self.width
        return column, self.offsets[column] + category

    def draw_unconditional(self, n: int) -> torch.Tensor:
        """Global category ids of :meth:`draw` with the real frequencies."""
        return self.draw(n)[1]

    def one_hot(self, category: torch.Tensor) -> torch.Tensor:
        """Conditional vectors with a 1 at each row's global category id."""
        # A scatter, not ``one_hot``: that checks the ids' range with two reads of
        # device scalars, which stall a GPU three times per training step.
        rows = torch.zeros(len(category), self.dim, device=category.device)
        return rows.scatter_(1, category[:, None], 1.0)

    def real_rows(self, category: torch.Tensor) -> torch.Tensor:
        """For each global category id, a random training row of that category."""
        counts = self.category_counts[category]
        pick = (torch.rand(len(category), device=self.device) * counts).long()
        return self.rows_by_category[self.category_starts[category] + pick]


class CTGAN(Synthesizer):
    """Conditional tabular GAN with training-by-sampling, PacGAN and WGAN-GP.

    Parameter names and defaults follow the CTGAN paper and SDV, so results compare.

    Args:
        epochs: Passes over the data.
        batch_size: Rows per step; must be a multiple of ``pac``.
        embedding_dim: Size of the generator's noise input.
        generator_dim: Widths of the generator's residual layers.
        discriminator_dim: Widths of the critic's layers.
        generator_lr: Adam learning rate of the generator.
        generator_decay: Adam weight decay of the generator.
        discriminator_lr: Adam learning rate of the critic.
        discriminator_decay: Adam weight decay of the critic.
        discriminator_steps: Critic updates per generator update.
        pac: Rows the critic judges together.
        log_frequency: Draw training conditions by log-frequency of categories.
        rare_category_threshold: Categories seen in fewer training rows than this are
            pooled and never generated (privacy); 0 keeps every category.
        patience: Stop early when the critic's loss has not improved for this many epochs.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        random_state: Seed for reproducible fits.
        verbose: Show a progress bar while fitting.

    References:
        Xu, Skoularidou, Cuesta-Infante & Veeramachaneni (2019), Modeling Tabular
        Data using Conditional GAN, NeurIPS.

    Example:
        >>> from synthkit.datasets import load_adult
        >>> model = CTGAN(epochs=1, verbose=False, random_state=0)
        >>> model.fit(load_adult().head(1000)).sample(5).shape
        (5, 15)
    """

    name = "ctgan"
    native_conditions: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "embedding_dim": [Interval(int, 1, None)],
        "generator_dim": [Widths()],
        "discriminator_dim": [Widths()],
        "generator_lr": [Interval(float, 0, None)],
        "generator_decay": [Interval(float, 0, None)],
        "discriminator_lr": [Interval(float, 0, None)],
        "discriminator_decay": [Interval(float, 0, None)],
        "discriminator_steps": [Interval(int, 1, None)],
        "pac": [Interval(int, 1, None)],
        "log_frequency": [BOOLEAN],
    }

    def __init__(
        self,
        epochs: int = 300,
        batch_size: int = 500,
        embedding_dim: int = 128,
        generator_dim: tuple[int, ...] = (256, 256),
        discriminator_dim: tuple[int, ...] = (256, 256),
        generator_lr: float = 2e-4,
        generator_decay: float = 1e-6,
        discriminator_lr: float = 2e-4,
        discriminator_decay: float = 1e-6,
        discriminator_steps: int = 1,
        pac: int = 10,
        log_frequency: bool = True,
        rare_category_threshold: int = RARE_CATEGORY_THRESHOLD,
        patience: int | None = None,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = True,
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.embedding_dim = embedding_dim
        self.generator_dim = generator_dim
        self.discriminator_dim = discriminator_dim
        self.generator_lr = generator_lr
        self.generator_decay = generator_decay
        self.discriminator_lr = discriminator_lr
        self.discriminator_decay = discriminator_decay
        self.discriminator_steps = discriminator_steps
        self.pac = pac
        self.log_frequency = log_frequency
        self.rare_category_threshold = rare_category_threshold
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_param_relations(self) -> None:
        if self.batch_size % self.pac:
            raise ParameterError(
                f"batch_size={self.batch_size} must be a multiple of pac={self.pac}; "
                f"e.g. batch_size={max(self.pac, self.batch_size // self.pac * self.pac)}."
            )

    # ------------------------------------------------------------------ modules
    def _build_modules(self) -> None:
        device = self.device_
        self._layout = SpanLayout(self.encoder_.spans_, device)
        self._conditions = _ConditionSampler(self.encoder_, device)
        data_dim = self.encoder_.output_dim_
        cond_dim = self._conditions.dim
        self.generator_ = _Generator(
            self.embedding_dim + cond_dim, tuple(self.generator_dim), data_dim
        ).to(device)
        # The categorical columns' blocks, padded together, for the condition loss.
        self._category_blocks = PaddedBlocks(self._conditions.spans, data_dim, device)

    def _modules(self) -> dict[str, nn.Module]:
        # Only what sampling needs: the critic, trained to tell real rows from others,
        # is the part of a GAN a membership attack reads best, so it is not kept.
        return {"generator": self.generator_}

    # ---------------------------------------------------------------------- fit
    def _fit(self, encoded: torch.Tensor) -> None:
        check_same_fit(encoded, self.random_state)
        self._build_modules()
        generator = self.generator_
        critic = _Discriminator(
            self.encoder_.output_dim_ + self._conditions.dim,
            tuple(self.discriminator_dim),
            self.pac,
        ).to(self.device_)
        conditions, layout = self._conditions, self._layout
        has_conditions = conditions.n_columns > 0
        if has_conditions:
            conditions.training_index(encoded)
        g_opt = torch.optim.Adam(
            generator.parameters(),
            lr=self.generator_lr,
            betas=(0.5, 0.9),
            weight_decay=self.generator_decay,
            fused=fused_adam(self.device_),
        )
        d_opt = torch.optim.Adam(
            critic.parameters(),
            lr=self.discriminator_lr,
            betas=(0.5, 0.9),
            weight_decay=self.discriminator_decay,
            fused=fused_adam(self.device_),
        )
        batch = self.batch_size
        n_rows = encoded.shape[0]
        device = self.device_
        # In a process group every process draws the whole global batch (the same
        # seed keeps them in step) and trains on its block of whole pac groups; the
        # gradients are averaged. Outside a group the block is the whole batch.
        block = rank_block(batch, self.pac)
        trained_generator = self._training_module(generator)
        trained_critic = self._training_module(critic)

        def noise_and_condition() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
            z = torch.randn(batch, self.embedding_dim, device=device)[block]
            rows = z.shape[0]
            if not has_conditions:
                empty = torch.zeros(rows, 0, device=device)
                return z, empty, empty, torch.zeros(rows, dtype=torch.long, device=device)
            column, category = conditions.draw(batch, self.log_frequency)
            return z, conditions.one_hot(category[block]), category, column[block]

        def step() -> dict[str, torch.Tensor]:
            generator.train()
            for _ in range(self.discriminator_steps):
                z, cond, category, _ = noise_and_condition()
                if has_conditions:
                    perm = torch.randperm(batch, device=device)
                    real = encoded[conditions.real_rows(category[perm])[block]]
                    real_cond = conditions.one_hot(category[perm][block])
                else:
                    real = encoded[torch.randint(0, n_rows, (batch,), device=device)[block]]
                    real_cond = cond
                with torch.no_grad():
                    fake = layout.activate(trained_generator(torch.cat([z, cond], dim=1)))
                fake_in = torch.cat([fake, cond], dim=1)
                real_in = torch.cat([real, real_cond], dim=1)
                d_loss = trained_critic(fake_in).mean() - trained_critic(real_in).mean()
                penalty = critic.gradient_penalty(real_in, fake_in, critic=trained_critic)
                d_opt.zero_grad(set_to_none=True)
                (d_loss + penalty).backward()
                d_opt.step()
            z, cond, category, column = noise_and_condition()
            raw = trained_generator(torch.cat([z, cond], dim=1))
            fake = layout.activate(raw)
            # The critic is fixed in the generator's step: skip its weight gradients
            # (and call it unwrapped: it gets no gradients to average).
            critic.requires_grad_(False)
            g_loss = -critic(torch.cat([fake, cond], dim=1)).mean()
            if has_conditions:
                g_loss = g_loss + self._condition_loss(raw, column, category[block])
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            critic.requires_grad_(True)
            g_opt.step()
            return {"generator_loss": g_loss, "discriminator_loss": d_loss}

        n_steps = max(n_rows // batch, 1)
        self._run_epochs(n_steps, step, monitor=lambda row: abs(row["discriminator_loss"]))
        broadcast_buffers(generator)

    def _condition_loss(
        self, raw: torch.Tensor, column: torch.Tensor, category: torch.Tensor
    ) -> torch.Tensor:
        """Cross-entropy making the generator output the category its condition asked for."""
        conditions = self._conditions
        blocks = self._category_blocks.gather(raw)  # [batch, categorical columns, width]
        logits = blocks[torch.arange(len(column), device=raw.device), column]
        target = category - conditions.offsets[column]
        return torch.nn.functional.cross_entropy(logits, target, reduction="sum") / len(column)

    # ------------------------------------------------------------------- sample
    def _sample(self, n: int, context: Context | None) -> torch.Tensor:
        conditions = self._conditions
        device = self.device_
        with torch.inference_mode():
            generator = _SamplingGenerator(self.generator_, self.embedding_dim)
            if context is not None:
                # The context fixes one categorical block: its one-hot rows pick the
                # conditional vector's category within that column.
                starts = [span.start for span in conditions.spans]
                position = starts.index(context.features.start)
                categories = conditions.offsets[position] + context.indices()
            elif conditions.n_columns:
                # Unconditional rows: a column uniformly, a category by its real frequency.
                categories = conditions.draw_unconditional(n)
            else:
                categories = None
            out = []
            chunk = 4096  # small batches stay in cache: faster than one big matrix
            for start in range(0, n, chunk):
                m = min(chunk, n - start)
                z = torch.randn(m, self.embedding_dim, device=device)
                category = None if categories is None else categories[start : start + m]
                out.append(self._layout.sample_hard(generator(z, category)))
            return torch.cat(out)
