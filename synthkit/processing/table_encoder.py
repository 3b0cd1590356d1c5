"""The mixture encoder of CTGAN and TVAE: mode-specific normalization and one-hot blocks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from synthkit._runtime import resolve_device, seed_from
from synthkit.processing.base import BaseEncoder
from synthkit.processing.columns import NumericTransform, Span
from synthkit.processing.gmm import fit_mixtures

__all__ = ["TableEncoder"]


class TableEncoder(BaseEncoder):
    """Reversible encoding of a table into the model space of CTGAN and TVAE.

    Numerical and datetime columns get mode-specific normalization (one
    variational Gaussian mixture per column, all fitted together on the device),
    categorical and boolean columns a one-hot block, and missing values a flag.
    ``id``, ``pii`` and ``text`` columns are never encoded: decoding regenerates
    them (unique ids, Faker values, Faker text) or drops PII whose strategy is
    ``"drop"``.

    Args:
        n_components: Maximum mixture components per numerical column.
        weight_threshold: Components lighter than this are dropped.
        rare_category_threshold: Categories with fewer rows than this are pooled
            (a privacy option; 0 keeps every category).
        clip: Clip decoded numbers to the real min and max.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"age": [23, 35, 47, 59] * 25, "job": ["a", "b", "a", "c"] * 25})
        >>> encoder = TableEncoder().fit(df, random_state=0)
        >>> encoded = encoder.encode(df, random_state=0, dtype=torch.float64)
        >>> encoder.decode(encoded, random_state=0).equals(df)
        True
    """

    def __init__(
        self,
        n_components: int = 10,
        weight_threshold: float = 0.005,
        rare_category_threshold: int = 0,
        clip: bool = True,
    ) -> None:
        self.n_components = n_components
        self.weight_threshold = weight_threshold
        self.rare_category_threshold = rare_category_threshold
        self.clip = clip

    # ---------------------------------------------------------------------- fit
    def _fit_columns(self, data: pd.DataFrame, device: torch.device) -> None:
        numeric = [t for t in self.transforms_.values() if isinstance(t, NumericTransform)]
        if not numeric:
            return
        values = np.stack([t.values(data[t.column]) for t in numeric])
        # Standardize in float64 on the host: datetimes in nanoseconds (~1e18) would
        # overflow float32 sums of squares on the device.
        center = np.nanmean(values, axis=1, keepdims=True)
        scale = np.nanstd(values, axis=1, keepdims=True)
        scale[~(scale > 0)] = 1.0
        tensor = torch.as_tensor((values - center) / scale, dtype=torch.float32, device=device)
        observed = ~torch.isnan(tensor)
        params = fit_mixtures(torch.nan_to_num(tensor), observed, n_components=self.n_components)
        center_t = torch.as_tensor(center, dtype=torch.float64)
        scale_t = torch.as_tensor(scale, dtype=torch.float64)
        means = params.means.double().cpu() * scale_t + center_t
        stds = params.stds.double().cpu() * scale_t
        for i, transform in enumerate(numeric):
            transform.set_mixture(params.weights[i], means[i], stds[i], self.weight_threshold)

    def _spans(self) -> list[Span]:
        spans: list[Span] = []
        start = 0
        for column, transform in self.transforms_.items():
            for width, activation, role in transform.layout():
                spans.append(Span(column, start, width, activation, role))
                start += width
        return spans

    # ------------------------------------------------------------ encode/decode
    def encode(
        self,
        data: pd.DataFrame,
        random_state: int | None = None,
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        """Encode ``data`` into a ``[rows, output_dim_]`` tensor (float32 by default).

        Mixture modes are sampled from each value's posterior, as CTGAN does, so
        ``random_state`` makes the encoding reproducible.
        """
        data = self._encoding_input(data)
        dtype = torch.float32 if dtype is None else dtype
        device = resolve_device(device) if device is not None else torch.device("cpu")
        generator = torch.Generator(device=device).manual_seed(seed_from(random_state))
        blocks = [
            transform.encode(data[column], device, generator)
            for column, transform in self.transforms_.items()
        ]
        if not blocks:
            return torch.zeros((len(data), 0), dtype=dtype, device=device)
        return torch.cat(blocks, dim=1).to(dtype)

    def decode(
        self,
        encoded: torch.Tensor,
        random_state: int | None = None,
        *,
        groups: np.ndarray | pd.Series | None = None,
    ) -> pd.DataFrame:
        """Turn model output back into a frame with the real columns, order and dtypes.

        Softmax blocks are read by their largest entry, so either one-hot rows or
        probabilities can be passed. Regenerated columns are filled here; rows
        with the same ``groups`` code (one entity) share their regenerated names.
        """
        self._check_fitted()
        encoded = encoded.detach()
        columns: dict[str, pd.Series] = {}
        position = 0
        for column, transform in self.transforms_.items():
            width = sum(w for w, _, _ in transform.layout())
            columns[column] = transform.decode(encoded[:, position : position + width])
            position += width
        return self._decoded_frame(columns, encoded.shape[0], seed_from(random_state), groups)

    # ------------------------------------------------------------- persistence
    def _params(self) -> dict[str, Any]:
        return {
            "n_components": self.n_components,
            "weight_threshold": self.weight_threshold,
            "rare_category_threshold": self.rare_category_threshold,
            "clip": self.clip,
        }

    @classmethod
    def _from_params(cls, state: dict[str, Any]) -> TableEncoder:
        return cls(**state["params"])
