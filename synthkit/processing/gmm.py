"""Variational Bayesian Gaussian mixtures for many 1-D columns at once, in torch."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["MixtureParams", "fit_mixtures"]


@dataclass
class MixtureParams:
    """Fitted mixtures, one row per column.

    Attributes:
        weights: ``[columns, components]`` mixture weights (rows sum to 1).
        means: ``[columns, components]`` component means, in data units.
        stds: ``[columns, components]`` component standard deviations, in data units.
    """

    weights: torch.Tensor
    means: torch.Tensor
    stds: torch.Tensor


def fit_mixtures(
    values: torch.Tensor,
    observed: torch.Tensor,
    n_components: int = 10,
    weight_concentration: float = 1e-3,
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
) -> MixtureParams:
    """Fit a Dirichlet-process Gaussian mixture to every column of ``values`` at once.

    The updates are those of scikit-learn's ``BayesianGaussianMixture`` with a
    Dirichlet-process weight prior (the model CTGAN's mode-specific normalization
    uses), written as tensor operations over all columns together so that the fit
    runs on the model's device in one pass instead of one estimator per column.
    Each column is standardized first; components start from equal-count
    quantile bins, which makes the fit deterministic.

    Args:
        values: ``[columns, rows]`` float tensor; entries where ``observed`` is
            false are ignored.
        observed: ``[columns, rows]`` boolean mask of the values to fit.
        n_components: Maximum components per column.
        weight_concentration: Dirichlet-process concentration; small values
            switch off components the data does not need.
        max_iter: Maximum EM iterations.
        tol: Stop when the mean log-likelihood bound per row moves less than this
            between checks (scikit-learn's criterion).
        reg_covar: Variance floor, in standardized units.

    Returns:
        The fitted weights, means and standard deviations per column.

    References:
        Blei & Jordan (2006), Variational inference for Dirichlet process mixtures.
        Xu et al. (2019), Modeling Tabular Data using Conditional GAN.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.cat([torch.randn(500, generator=g) - 5, torch.randn(500, generator=g) + 5])
        >>> params = fit_mixtures(x[None], torch.ones(1, 1000, dtype=torch.bool))
        >>> big = params.weights[0] > 0.1
        >>> sorted({round(m) for m in params.means[0][big].tolist()})
        [-5, 5]
    """
    x = values.to(torch.float32)
    mask = observed.to(x.dtype)
    count = mask.sum(1).clamp_min(1.0)
    center = (x * mask).sum(1) / count
    scale = (((x - center[:, None]) ** 2 * mask).sum(1) / count).sqrt()
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    z = ((x - center[:, None]) / scale[:, None]) * mask

    # Each row's features [1, z, z^2]: the sufficient statistics and the Gaussian
    # log-densities are then batched matrix products instead of [C, N, K] arithmetic.
    # Rows are the last axis throughout ([C, K, N]), so every elementwise step runs
    # over long contiguous runs instead of ten-wide rows.
    features = torch.stack([mask, z, z * z], dim=-1)  # [C, N, 3]
    features_t = features.transpose(1, 2).contiguous()  # [C, 3, N]
    resp = _quantile_init(z, observed, n_components)
    prior_var = ((z**2) * mask).sum(1) / count
    prior_var = torch.where(prior_var > 0, prior_var, torch.ones_like(prior_var))
    # Columns leave the batch once their bound has converged, so one slow column
    # (spiky integer data can oscillate between modes) does not cost the others.
    active = torch.arange(x.shape[0], device=x.device)
    final = {key: x.new_zeros((x.shape[0], n_components)) for key in ("a", "b", "mean", "cov")}
    previous = None
    for iteration in range(max_iter):
        state = _m_step(features, resp, prior_var, weight_concentration, reg_covar)
        logits = torch.bmm(_log_resp_coefficients(state).transpose(1, 2), features_t)
        peak = logits.amax(dim=1, keepdim=True)
        resp = torch.exp(logits - peak)
        total = resp.sum(dim=1, keepdim=True)
        resp = resp * (mask[:, None, :] / total)
        # Like scikit-learn, stop when the per-row bound moves less than tol; reading
        # it forces a device sync, so only check every few iterations.
        if iteration % 5 == 4:
            bound = ((peak + torch.log(total)).squeeze(1) * mask).sum(1) / count
            if previous is not None:
                done = (bound - previous).abs() < tol
                if bool(done.any()):
                    finished = _m_step(
                        features[done],
                        resp[done],
                        prior_var[done],
                        weight_concentration,
                        reg_covar,
                    )
                    for key, value in final.items():
                        value[active[done]] = finished[key]
                    keep = ~done
                    active, bound = active[keep], bound[keep]
                    features, features_t, resp = features[keep], features_t[keep], resp[keep]
                    mask, count, prior_var = mask[keep], count[keep], prior_var[keep]
                    if len(active) == 0:
                        break
            previous = bound
    if len(active):
        state = _m_step(features, resp, prior_var, weight_concentration, reg_covar)
        for key, value in final.items():
            value[active] = state[key]
    state = final
    a, b = state["a"], state["b"]
    stick = a / (a + b)
    remainder = torch.cumprod(b / (a + b), dim=-1)
    weights = stick * torch.cat([torch.ones_like(remainder[:, :1]), remainder[:, :-1]], dim=-1)
    weights = weights / weights.sum(-1, keepdim=True)
    weights, means, stds = _merge_duplicates(weights, state["mean"], state["cov"].sqrt())
    means = means * scale[:, None] + center[:, None]
    stds = stds * scale[:, None]
    return MixtureParams(weights=weights, means=means, stds=stds)


def _merge_duplicates(
    weights: torch.Tensor, means: torch.Tensor, stds: torch.Tensor, closeness: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge components whose means lie within ``closeness`` standard deviations.

    Variational EM from many starting components can leave one mode split in two
    near-identical halves that the weight prior prunes only very slowly; merging
    them by moment matching gives the same density with fewer modes. The work is
    a few components per column, so it runs on the host.
    """
    w, m, sd = (t.detach().double().cpu().clone() for t in (weights, means, stds))
    for column in range(w.shape[0]):
        order = torch.argsort(w[column], descending=True).tolist()
        for i_pos, i in enumerate(order):
            if w[column, i] == 0:
                continue
            for j in order[i_pos + 1 :]:
                if w[column, j] == 0:
                    continue
                gap = abs(m[column, i] - m[column, j])
                if gap < closeness * min(sd[column, i], sd[column, j]):
                    total = w[column, i] + w[column, j]
                    mean = (w[column, i] * m[column, i] + w[column, j] * m[column, j]) / total
                    second = (
                        w[column, i] * (sd[column, i] ** 2 + m[column, i] ** 2)
                        + w[column, j] * (sd[column, j] ** 2 + m[column, j] ** 2)
                    ) / total
                    m[column, i] = mean
                    sd[column, i] = (second - mean**2).clamp_min(0).sqrt()
                    w[column, i] = total
                    w[column, j] = 0.0
    device, dtype = weights.device, weights.dtype
    return w.to(device, dtype), m.to(device, dtype), sd.to(device, dtype)


def _quantile_init(z: torch.Tensor, observed: torch.Tensor, k: int) -> torch.Tensor:
    # Rank the observed values of each column and cut the ranks into k equal bins.
    filled = torch.where(observed, z, torch.full_like(z, float("inf")))
    ranks = torch.argsort(torch.argsort(filled, dim=1), dim=1).to(z.dtype)
    n_observed = observed.sum(1, keepdim=True).clamp_min(1).to(z.dtype)
    bins = (ranks * k / n_observed).floor().clamp(max=k - 1).long()
    resp = torch.nn.functional.one_hot(bins, k).to(z.dtype).transpose(1, 2)
    return (resp * observed[:, None, :].to(z.dtype)).contiguous()


def _m_step(
    features: torch.Tensor,
    resp: torch.Tensor,
    prior_var: torch.Tensor,
    concentration: float,
    reg_covar: float,
) -> dict[str, torch.Tensor]:
    eps = 10 * torch.finfo(features.dtype).eps
    stats = torch.bmm(resp, features)  # [C, K, 3]: sum r, sum r z, sum r z^2
    nk = stats[..., 0] + eps
    xk = stats[..., 1] / nk
    sk = (stats[..., 2] / nk - xk**2).clamp_min(0.0) + reg_covar
    tail = nk.flip(-1).cumsum(-1).flip(-1) - nk  # mass of the components after k
    beta0 = 1.0  # mean precision prior; the prior mean is 0 on standardized data
    nu0 = 1.0  # degrees-of-freedom prior (number of features)
    beta = beta0 + nk
    mean = nk * xk / beta
    nu = nu0 + nk
    cov = (prior_var[:, None] + nk * sk + nk * beta0 / beta * xk**2) / nu
    return {
        "a": 1.0 + nk,
        "b": concentration + tail,
        "mean": mean,
        "cov": cov,
        "nu": nu,
        "beta": beta,
    }


def _log_resp_coefficients(state: dict[str, torch.Tensor]) -> torch.Tensor:
    """Coefficients [C, 3, K] such that features [1, z, z^2] @ them = unnormalized log resp."""
    a, b, mean, cov, nu, beta = (state[key] for key in ("a", "b", "mean", "cov", "nu", "beta"))
    digamma_sum = torch.digamma(a + b)
    log_stick = torch.digamma(a) - digamma_sum
    log_rest = torch.cumsum(torch.digamma(b) - digamma_sum, dim=-1)
    log_weights = log_stick + torch.cat([torch.zeros_like(log_rest[:, :1]), log_rest[:, :-1]], -1)
    precision = 1.0 / cov
    log_lambda = math.log(2.0) + torch.digamma(0.5 * nu)
    constant = (
        log_weights
        - 0.5 * math.log(2 * math.pi)
        + 0.5 * torch.log(precision)
        - 0.5 * torch.log(nu)
        + 0.5 * (log_lambda - 1.0 / beta)
        - 0.5 * mean**2 * precision
    )
    return torch.stack([constant, mean * precision, -0.5 * precision], dim=1)
