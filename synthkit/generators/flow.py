"""Neural spline flow over the table's normal scores (a Gaussian-copula-style dequantization)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.distributions import Transform
from zuko.transforms import MonotonicRQSTransform

from synthkit._params import Interval, Widths
from synthkit.errors import DataError
from synthkit.generators.base import RARE_CATEGORY_THRESHOLD, Synthesizer
from synthkit.generators.conditions import Context
from synthkit.generators.distributed import (
    batch_share,
    check_same_fit,
    global_batch_sizes,
    process_group,
)
from synthkit.processing.discretizer import CopulaEncoder

__all__ = ["FlowSynthesizer"]

# Rows per network call: spline tensors of a few thousand rows stay in cache,
# which makes sampling several times faster than one large call.
_CHUNK = 4096
_HALF_LOG_2PI = 0.5 * float(np.log(2 * np.pi))


class FlowSynthesizer(Synthesizer):
    """A neural spline flow (zuko ``NSF``) over every learned column's normal score.

    Each column is mapped through its empirical CDF to a standard-normal score
    (:class:`~synthkit.processing.discretizer.CopulaEncoder`): categories and
    tied values are dequantized uniformly inside their level range, missing
    numbers take the lowest levels. The flow learns the dependence between the
    scores; decoding through the CDFs gives every column its exact marginal.
    Coupling layers with random, complementary halves transform every column
    once per pair of layers and invert in a single network call each, so
    sampling costs one pass through the flow.
    Conditions are met by the base class's batched rejection sampling.

    Args:
        epochs: Passes over the data.
        batch_size: Rows per step.
        transforms: Number of coupling layers (each transforms half the columns).
        hidden_features: Widths of each transform's hypernetwork.
        bins: Spline bins per transform.
        learning_rate: Adam learning rate.
        rare_category_threshold: Categories seen in fewer training rows than this are
            pooled and never generated (privacy); 0 keeps every category.
        patience: Stop early when the loss has not improved for this many epochs.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        random_state: Seed for reproducible fits.
        verbose: Show a progress bar while fitting.

    References:
        Durkan, Bekasov, Murray & Papamakarios (2019), Neural Spline Flows, NeurIPS.

    Example:
        >>> from synthkit.datasets import load_adult
        >>> real = load_adult().head(1000)
        >>> model = FlowSynthesizer(epochs=1, verbose=False, random_state=0).fit(real)
        >>> model.sample(5).shape, model.log_prob(real.head(3)).shape
        ((5, 15), (3,))
    """

    name = "flow"
    capabilities: ClassVar[frozenset[str]] = frozenset({"log_prob"})
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "transforms": [Interval(int, 1, None)],
        "hidden_features": [Widths()],
        "bins": [Interval(int, 1, None)],
        "learning_rate": [Interval(float, 0, None)],
    }

    def __init__(
        self,
        epochs: int = 20,
        batch_size: int = 512,
        transforms: int = 6,
        hidden_features: tuple[int, ...] = (96, 96),
        bins: int = 6,
        learning_rate: float = 1e-3,
        rare_category_threshold: int = RARE_CATEGORY_THRESHOLD,
        patience: int | None = None,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = True,
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.transforms = transforms
        self.hidden_features = hidden_features
        self.bins = bins
        self.learning_rate = learning_rate
        self.rare_category_threshold = rare_category_threshold
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _new_encoder(self) -> CopulaEncoder:
        return CopulaEncoder(rare_category_threshold=self.rare_category_threshold)

    @classmethod
    def _encoder_from_state(cls, state: dict[str, Any]) -> CopulaEncoder:
        return CopulaEncoder.from_state(state)

    def _build_modules(self) -> None:
        features = max(len(self.encoder_.learned_columns), 1)
        self.flow_ = _coupling_spline_flow(
            features, self.transforms, tuple(self.hidden_features), self.bins
        ).to(self.device_)

    def _modules(self) -> dict[str, nn.Module]:
        return {"flow": self.flow_}

    def _fit(self, encoded: torch.Tensor) -> None:
        check_same_fit(encoded, self.random_state)
        self._build_modules()
        if encoded.shape[1] == 0:
            return
        flow = self.flow_
        flow.train()
        optimizer = torch.optim.Adam(flow.parameters(), lr=self.learning_rate)
        trained = self._training_module(_LogProb(flow))
        n_steps, batches = self._shuffled_batches(encoded)
        sizes = global_batch_sizes(encoded.shape[0], self.batch_size)
        in_group = process_group()[1] > 1

        def step() -> dict[str, torch.Tensor]:
            log_prob, global_rows = trained(next(batches)), next(sizes)
            # In a group each process's sum over the global batch's row count makes
            # the averaged gradient that of the global mean (uneven splits included).
            loss = -(log_prob.sum() / batch_share(global_rows) if in_group else log_prob.mean())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
            optimizer.step()
            return {"loss": loss}

        self._run_epochs(n_steps, step, monitor=lambda row: row["loss"])
        flow.eval()

    def _sample(self, n: int, context: Context | None) -> torch.Tensor:
        if not self.encoder_.learned_columns:
            return torch.zeros((n, 0), device=self.device_)
        distribution = self.flow_()
        with torch.inference_mode():
            parts = [distribution.sample((min(_CHUNK, n - s),)) for s in range(0, n, _CHUNK)]
        return torch.cat(parts)

    def log_prob(self, data: pd.DataFrame) -> np.ndarray:
        """Log-likelihood of each row under the flow.

        The row's normal scores (taken at the middle of each tie range) are scored
        by the flow and mapped back to the level scale, so numbers count by the
        copula density and categories and other ties by their probability mass
        (the density at the middle times the range's width).

        Args:
            data: Rows with the training columns.

        Returns:
            One finite float per row.
        """
        self._check_fitted()
        if not isinstance(data, pd.DataFrame) or len(data) == 0:
            raise DataError("log_prob needs a non-empty pandas DataFrame of rows.")
        encoder: CopulaEncoder = self.encoder_
        z = encoder.encode(data, midpoint=True, device=self.device_)
        if z.shape[1] == 0:
            return np.zeros(len(data))
        self._eval_mode()
        with torch.no_grad():
            distribution = self.flow_()
            density = torch.cat(
                [distribution.log_prob(z[s : s + _CHUNK]) for s in range(0, len(z), _CHUNK)]
            )
            # log p(u) = log p(z) - sum log phi(z): from normal scores back to levels.
            normal = (-0.5 * z.double() ** 2 - _HALF_LOG_2PI).sum(dim=1)
        return (density.double() - normal).cpu().numpy() + encoder.log_widths(data)


class _LogProb(nn.Module):
    """The flow's log-density of a batch, as a module a data-parallel wrapper can call."""

    def __init__(self, flow: nn.Module) -> None:
        super().__init__()
        self.flow = flow

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 0:
            # A process whose share of a short last batch is empty still joins the
            # gradient average (with zeros); the flow cannot score zero rows.
            return x.sum(dim=1) + 0 * sum(p.sum() for p in self.parameters())
        return self.flow().log_prob(x)


class _RationalQuadraticSpline(MonotonicRQSTransform):
    """zuko's ``MonotonicRQSTransform`` with the same knots, computed faster on CPU.

    torch's softmax over a last axis of a few bins is several times slower on
    CPU than ``exp`` and a sum, and it dominated sampling. zuko squashes the raw
    widths and heights into ``(-|log slope| / 2, |log slope| / 2)`` before the
    softmax, so ``exp`` needs no max-subtraction. Knots, slopes and every method
    are zuko's.
    """

    def __init__(
        self,
        widths: torch.Tensor,
        heights: torch.Tensor,
        derivatives: torch.Tensor,
        bound: float = 5.0,
        slope: float = 1e-3,
    ) -> None:
        Transform.__init__(self)
        log_slope = math.log(slope)

        def knots(raw: torch.Tensor) -> torch.Tensor:
            weights = (raw / torch.abs(raw).mul_(-2 / log_slope).add_(1)).exp_()
            cumulative = nn.functional.pad(weights.cumsum(dim=-1), (1, 0))
            return cumulative * (2 * bound / cumulative[..., -1:]) - bound

        # Widths and heights share one pass of the few elementwise operations.
        self.horizontal, self.vertical = knots(torch.stack([widths, heights])).unbind(0)
        derivatives = derivatives / (1 + torch.abs(derivatives / log_slope))
        self.derivatives = torch.exp(nn.functional.pad(derivatives, (1, 1)))


def _coupling_spline_flow(features: int, layers: int, hidden: tuple[int, ...], bins: int) -> Any:
    """A zuko flow of rational-quadratic spline coupling layers.

    Layer ``2k`` transforms a random half of the columns given the other half
    and layer ``2k + 1`` the complement, so each pair of layers transforms every
    column once. The masks come from a fixed seed (they are saved with the
    weights as buffers) and never touch global random state.
    """
    from zuko.distributions import DiagNormal
    from zuko.flows import Flow, GeneralCouplingTransform, UnconditionalDistribution
    from zuko.flows.gaussianization import ElementWiseTransform

    spline = {
        "univariate": _RationalQuadraticSpline,
        "shapes": [(bins,), (bins,), (bins - 1,)],
        "hidden_features": hidden,
    }
    if features == 1:
        transforms = [ElementWiseTransform(1, **spline) for _ in range(layers)]
        for transform in transforms:
            # zuko draws these at random; zeros start every spline at the identity,
            # as the coupling layers' small hypernetwork outputs do.
            for parameter in transform.parameters():
                nn.init.zeros_(parameter)
    else:
        generator = torch.Generator().manual_seed(features)
        transforms = []
        for layer in range(layers):
            if layer % 2 == 0:
                mask = torch.randperm(features, generator=generator) < features // 2
            half = mask if layer % 2 == 0 else ~mask
            transforms.append(GeneralCouplingTransform(features, mask=half, **spline))
    base = UnconditionalDistribution(
        DiagNormal, torch.zeros(features), torch.ones(features), buffer=True
    )
    return Flow(transforms, base)
