"""Any-order autoregressive generator over discretized columns (TabularARGN-style)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch.nn import functional

from synthkit._params import BOOLEAN, Constraint, Interval, parameters_set
from synthkit._runtime import seed_from, torch_seeded
from synthkit.errors import DataError, ParameterError
from synthkit.generators.ar_network import (
    ColumnHeads,
    ColumnLosses,
    per_example_sq_norms,
    training_visibility,
)
from synthkit.generators.base import RARE_CATEGORY_THRESHOLD, Synthesizer
from synthkit.generators.conditions import Condition, Context, RangeCondition
from synthkit.generators.distributed import (
    batch_share,
    check_same_fit,
    global_batch_sizes,
    process_group,
)
from synthkit.privacy.accounting import noise_for_epsilon
from synthkit.privacy.marginals import narrow_span, noisy_marginals
from synthkit.privacy.plan import DPSGDPlan
from synthkit.privacy.preprocessing import NarrowRangeWarning, PrivacyBudget
from synthkit.processing.discretizer import Discretizer

__all__ = ["ARSynthesizer"]

_CHUNK = 50_000  # rows per sampling pass: bounds memory, keeps matrix products large

# The training schedule of the parameters left None. An ordinary fit takes many small
# steps with a wide network. DP-SGD adds the same noise to every step whatever its
# batch, so a private fit takes few large Poisson batches (a tenth of the rows, at
# least _PRIVATE_MIN_BATCH) with a fast rate and a narrower network, which has less
# gradient to clip and less noise to absorb: on Adult at epsilon 1 these raised
# TSTR AUC from 0.83 to 0.88 over the ordinary schedule (benchmarks/bench_privacy.py).
# More passes at more noise each then paid: 12 epochs instead of 5 lowered the trend
# error at epsilon 1 on each of three seeds (6.36 % to 6.01 % on average; detection
# AUC 0.813 to 0.771, TSTR AUC 0.881 to 0.888), where 8 gave 6.10 %.
_PUBLIC_SCHEDULE = {"epochs": 10, "batch_size": 512, "hidden_dim": 128, "learning_rate": 2e-3}
_PRIVATE_SCHEDULE = {"epochs": 12, "batch_size": None, "hidden_dim": 64, "learning_rate": 0.02}
_PRIVATE_BATCH_SHARE = 0.1
_PRIVATE_MIN_BATCH = 64
# An ordinary fit of a small table takes batches of a 32nd of its rows (at least
# 32), so it still makes about 32 steps per epoch: at 512 rows a batch, 2,000 rows
# made 40 steps in all and left even one skewed count column far from its real
# shape (1 - KS 0.69; 0.99 in batches of 62).
_PUBLIC_STEPS_PER_EPOCH = 32
_PUBLIC_MIN_BATCH = 32


class _Mapping(Constraint):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def __str__(self) -> str:
        return "a dict by column name"


_MAPPING = _Mapping()


class ARSynthesizer(Synthesizer):
    """Column-wise autoregressive model that can condition on any subset of columns.

    Every column is one token (categories; numbers as exact frequent values or
    quantile bins with within-bin detail; missing as its own token; see
    :class:`~synthkit.processing.discretizer.Discretizer`). A network with one
    head per column predicts a column's token from the columns before it in a
    column order. Training mixes the table order with orders that put a random
    subset of columns first, so at sampling time any columns can be fixed first
    and the rest drawn in table order: conditions on categories (values or
    lists) and numeric or datetime ranges are met exactly by restricting each
    fixed column's token distribution, with no rejection. The same network
    imputes missing cells (:meth:`impute`) and scores rows (:meth:`log_prob`).

    The training schedule (``epochs``, ``batch_size``, ``hidden_dim``,
    ``learning_rate``) defaults by the kind of fit; values given always win, and
    ``schedule_`` records the ones a fit used:

    ========================  =========  ===========================  ==========  =============
    fit                       epochs     batch_size                   hidden_dim  learning_rate
    ========================  =========  ===========================  ==========  =============
    ordinary                  10         a 32nd of the rows (32-512)  128         0.002
    private (``epsilon``)     12         a tenth of the rows (>= 64)  64          0.02
    ========================  =========  ===========================  ==========  =============

    Args:
        epochs: Passes over the data; None (the default) takes the table's value.
        batch_size: Rows per step (under DP, the expected size of a Poisson batch);
            None takes the table's value.
        n_bins: Quantile bins per numerical column.
        max_points: Numerical columns with at most this many distinct values
            keep each value as its own token.
        hidden_dim: Width of each column head's hidden layers; None takes the
            table's value.
        dropout: Dropout on hidden layers while training.
        learning_rate: Initial Adam learning rate, decayed linearly to a tenth;
            None takes the table's value.
        weight_decay: AdamW weight decay.
        rare_category_threshold: Categories seen in fewer training rows than this are
            pooled and never generated (privacy); 0 keeps every category.
        value_protection: Clip each number to the range between its ``m``-th smallest
            and ``m``-th largest values, ``m`` the rare-category threshold (at least 5),
            so that no real outlier's exact value is learned or generated (on by
            default; the range is kept instead of the real minimum and maximum).
        epsilon: Privacy budget of a differentially private fit, or None (the default)
            for an ordinary fit. The privacy unit is the row: the fitted model, and
            everything sampled from it, changes in distribution by at most a factor
            ``e**epsilon`` (plus ``delta``) whether or not any one row was in the data.
            A share (``preprocessing_share``) is spent on noisy histograms that choose
            categories, ranges and bins, a share (``marginals_share``) on noisy
            one-way histograms of the tokens, the rest on DP-SGD (per-row gradient
            clipping, Gaussian noise, Poisson-sampled batches), with a Rényi-DP
            accountant over all three; ``privacy_budget_`` states the split. Needs
            ``pip install "synthkit[dp]"`` (Opacus). DP-SGD gains from large
            Poisson batches and few steps, which is the private schedule above
            (on Adult at ``epsilon=1`` it did best; ``benchmarks/bench_privacy.py``).
        delta: The DP delta; None means ``1 / n**1.1`` for ``n`` training rows.
        max_grad_norm: Each row's gradient is clipped to this L2 norm (DP only).
        noise_multiplier: Fixed DP-SGD noise (standard deviation over
            ``max_grad_norm``); None calibrates it so that the planned epochs spend
            exactly ``epsilon``. With a fixed one, training stops before the step
            that would exceed ``epsilon``.
        preprocessing_share: Share of ``epsilon`` the preprocessing histograms would
            spend on their own (DP only).
        marginals_share: Share of ``epsilon`` a release of noisy one-way histograms
            of every column's tokens would spend on its own (DP only; 0 releases
            none). The network's output layer starts from these marginals, and after
            training each column's output bias is shifted, in table order, until the
            model's own draws match them: column shapes come from cheap, accurate
            counts, and DP-SGD spends its share on the dependencies. Beyond the
            tokens whose counts stand above the noise, a numeric column's decaying
            tail is continued rather than cut (and a thin tail of the range past its
            last grid cell), so generated values reach about as far as the real
            ones; integer columns pool these counts with the preprocessing's noisy
            count of each integer. A ``NarrowRangeWarning``
            (:mod:`synthkit.privacy`) says when the noise left a column's range or
            histogram far too narrow (a fit on a few hundred rows): pass public
            ``bounds=`` for it.
        bounds: Public ``{column: (low, high)}`` ranges of numerical or datetime
            columns (DP only): used as given, with no budget spent finding them.
        categories: Public ``{column: [categories]}`` of categorical columns (DP
            only): all kept, none dropped by the noisy threshold.
        patience: Stop early when the loss has not improved for this many epochs.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        random_state: Seed for reproducible fits.
        verbose: Show a progress bar while fitting.

    References:
        Tiwald, Krchova, Kiselev, ... (2025), TabularARGN: A Flexible and Efficient
        Auto-Regressive Framework for Generating High-Fidelity Synthetic Data,
        arXiv:2501.12012.

    Example:
        >>> from synthkit.datasets import load_adult
        >>> real = load_adult().sample(2000, random_state=0)
        >>> model = ARSynthesizer(epochs=2, verbose=False, random_state=0).fit(real)
        >>> rows = model.sample(100, conditions={"sex": "Female", "age": (30, 40)})
        >>> bool((rows["sex"] == "Female").all() and rows["age"].between(30, 40).all())
        True
    """

    name = "autoregressive"
    native_conditions = True
    capabilities: ClassVar[frozenset[str]] = frozenset({"log_prob", "impute"})
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "value_protection": [BOOLEAN],
        "epsilon": [Interval(float, 0, None, closed="neither"), None],
        "delta": [Interval(float, 0, 1, closed="neither"), None],
        "max_grad_norm": [Interval(float, 0, None, closed="neither")],
        "noise_multiplier": [Interval(float, 0, None, closed="neither"), None],
        "preprocessing_share": [Interval(float, 0, 1, closed="neither")],
        "marginals_share": [Interval(float, 0, 1, closed="left")],
        "bounds": [_MAPPING, None],
        "categories": [_MAPPING, None],
        "n_bins": [Interval(int, 1, None)],
        "max_points": [Interval(int, 1, None)],
        "epochs": [Interval(int, 1, None), None],
        "batch_size": [Interval(int, 1, None), None],
        "hidden_dim": [Interval(int, 1, None), None],
        "dropout": [Interval(float, 0, 1, closed="left")],
        "learning_rate": [Interval(float, 0, None), None],
        "weight_decay": [Interval(float, 0, None)],
    }

    def __init__(
        self,
        epochs: int | None = None,
        batch_size: int | None = None,
        n_bins: int = 64,
        max_points: int = 128,
        hidden_dim: int | None = None,
        dropout: float = 0.0,
        learning_rate: float | None = None,
        weight_decay: float = 1e-5,
        rare_category_threshold: int = RARE_CATEGORY_THRESHOLD,
        value_protection: bool = True,
        epsilon: float | None = None,
        delta: float | None = None,
        max_grad_norm: float = 1.0,
        noise_multiplier: float | None = None,
        preprocessing_share: float = 0.25,
        marginals_share: float = 0.2,
        bounds: Mapping[str, tuple[Any, Any]] | None = None,
        categories: Mapping[str, list[Any]] | None = None,
        patience: int | None = None,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = True,
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.n_bins = n_bins
        self.max_points = max_points
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.rare_category_threshold = rare_category_threshold
        self.value_protection = value_protection
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm
        self.noise_multiplier = noise_multiplier
        self.preprocessing_share = preprocessing_share
        self.marginals_share = marginals_share
        self.bounds = bounds
        self.categories = categories
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ---------------------------------------------------------------- encoding
    def _check_param_relations(self) -> None:
        if self.epsilon is None:
            given = [p for p in ("noise_multiplier", "bounds", "categories") if getattr(self, p)]
            if given:
                raise ParameterError(
                    f"{type(self).__name__}: {', '.join(given)} only apply to differentially "
                    "private fits; set epsilon (e.g. epsilon=4.0) or leave them unset."
                )
        elif self.preprocessing_share + self.marginals_share >= 1.0:
            raise ParameterError(
                f"{type(self).__name__}: preprocessing_share={self.preprocessing_share:g} "
                f"and marginals_share={self.marginals_share:g} leave nothing of epsilon "
                "for training; keep their sum below 1 (e.g. 0.25 and 0.2)."
            )

    def _new_encoder(self) -> Discretizer:
        privacy = None
        if self.epsilon is not None:
            privacy = PrivacyBudget(
                epsilon=float(self.epsilon),
                delta=self.delta,
                preprocessing_share=self.preprocessing_share,
                bounds=dict(self.bounds or {}),
                categories=dict(self.categories or {}),
                seed=seed_from(self.random_state),
            )
        return Discretizer(
            self.n_bins,
            self.max_points,
            self.rare_category_threshold,
            value_protection=self.value_protection,
            privacy=privacy,
        )

    @classmethod
    def _encoder_from_state(cls, state: dict[str, Any]) -> Discretizer:
        return Discretizer.from_state(state)

    # --------------------------------------------------------------------- fit
    def fit(
        self,
        data: pd.DataFrame | str | Path | list[str | Path] | Any,
        metadata: Any = None,
        *,
        memory_budget: int | str | None = None,
    ) -> ARSynthesizer:
        """Learn the model from a real table, as :meth:`Synthesizer.fit` describes.

        The schedule's parameters left None (``epochs``, ``batch_size``,
        ``hidden_dim``, ``learning_rate``) take the ordinary or, with ``epsilon``,
        the private schedule's values for this fit; ``schedule_`` records the
        values used, and the model's parameters stay as given.
        """
        schedule = self._schedule(len(data) if isinstance(data, pd.DataFrame) else None)
        with parameters_set(self, schedule):
            super().fit(data, metadata, memory_budget=memory_budget)
        self.schedule_ = schedule
        return self

    def _schedule(self, n_rows: int | None) -> dict[str, Any]:
        """The schedule of a fit on ``n_rows`` rows: given values, else the defaults."""
        private = self.epsilon is not None
        picked = dict(_PRIVATE_SCHEDULE if private else _PUBLIC_SCHEDULE)
        if private:
            rows = n_rows if n_rows is not None else 0
            picked["batch_size"] = max(int(rows * _PRIVATE_BATCH_SHARE), _PRIVATE_MIN_BATCH)
        elif n_rows is not None:
            share = n_rows // _PUBLIC_STEPS_PER_EPOCH
            picked["batch_size"] = int(min(max(share, _PUBLIC_MIN_BATCH), picked["batch_size"]))
        return {
            name: value if getattr(self, name) is None else getattr(self, name)
            for name, value in picked.items()
        }

    def _build_modules(self) -> None:
        width = self.hidden_dim
        if width is None:  # a loaded model: the width its fit used
            width = getattr(self, "schedule_", _PUBLIC_SCHEDULE)["hidden_dim"]
        self.network_ = ColumnHeads(self.encoder_.vocab_sizes or [1], int(width), self.dropout).to(
            self.device_
        )

    def _modules(self) -> dict[str, torch.nn.Module]:
        return {"network": self.network_}

    def _fit(self, encoded: torch.Tensor) -> None:
        self.epsilon_spent_: float | None = None
        self.delta_: float | None = None
        self.privacy_budget_: dict[str, Any] | None = None
        in_group = process_group()[1] > 1
        if self.epsilon is not None:
            if in_group:
                raise ParameterError(
                    "epsilon=...: a private fit accounts one process's Poisson-sampled "
                    "steps; fit it in one process, outside the torch.distributed group."
                )
            self._fit_private(encoded)
            return
        if in_group and isinstance(encoded, torch.Tensor):
            check_same_fit(encoded, self.random_state)
        self._build_modules()
        network = self.network_
        network.train()
        n_rows, n_columns = encoded.shape
        if n_columns == 0:
            return
        n_steps, batches = self._shuffled_batches(encoded)
        optimizer, schedule = self._optimizer(network.parameters(), n_steps * self.epochs)
        trained = self._training_module(ColumnLosses(network))
        rank, world = process_group()
        # In a group every process draws the global batch's column orders and keeps
        # its slice, so the processes' random streams (and next epochs' shuffles) agree.
        streamed = not isinstance(encoded, torch.Tensor)
        sizes = None if streamed or not in_group else global_batch_sizes(n_rows, self.batch_size)

        def step() -> dict[str, torch.Tensor]:
            tokens, weight = next(batches), 1.0
            if sizes is None:
                rows = len(tokens)
                visible = training_visibility(rows, n_columns, self.device_)
            else:
                global_rows = next(sizes)
                rows = batch_share(global_rows)
                orders = training_visibility(global_rows, n_columns, self.device_)
                visible = orders[rank::world]
                if len(tokens) == 0:
                    # This process's share of a short last batch is empty; it still joins
                    # the gradient average, with a row that weighs nothing.
                    tokens, visible, weight = encoded[:1], orders[:1], 0.0
            loss = weight * trained(tokens, visible).sum() / rows
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            return {"loss": loss}

        self._run_epochs(n_steps, step, monitor=lambda row: row["loss"])
        network.eval()

    def _fit_private(self, encoded: torch.Tensor) -> None:
        """DP-SGD: per-row clipped gradients, Gaussian noise, Poisson-sampled batches.

        Per-row gradient norms come from the network's activations
        (:func:`~synthkit.generators.ar_network.per_example_sq_norms`), so the step
        stays one batched forward and two backward passes.
        """
        self._build_modules()
        network = self.network_
        network.train()
        n_rows, n_columns = encoded.shape
        spent = self.encoder_.privacy_
        epsilon = float(self.epsilon)
        marginal_noise = None
        if self.marginals_share > 0:
            marginal_noise = noise_for_epsilon(
                epsilon * self.marginals_share, spent["delta_accounted"], 1.0, 1
            )
        plan = DPSGDPlan.for_model(
            self, epsilon, spent, n_rows, unit="row", marginals_noise_multiplier=marginal_noise
        )
        targets = None
        if marginal_noise is not None and n_columns:
            counts = spent.get("token_counts", {})
            released = [
                (counts[c], spent["noise_std"]) if c in counts else None
                for c in self.encoder_.learned_columns
            ]
            targets = noisy_marginals(
                encoded, self.encoder_.vocab_sizes, marginal_noise, released=released
            )
            self._warn_narrow(targets, n_rows, epsilon)
            network.start_from(targets)
        # fit() logs nothing else; this line states the guarantee being bought.
        if self.verbose:
            print(plan.describe())
        optimizer, schedule = self._optimizer(network.parameters(), plan.steps)
        parameters = list(network.parameters())
        clip = float(self.max_grad_norm)
        expected = plan.sample_rate * n_rows
        keys = ("first", "inner", "logits")

        def step() -> dict[str, torch.Tensor]:
            # Poisson sampling: each row joins the batch independently.
            rows = (torch.rand(n_rows, device=self.device_) < plan.sample_rate).nonzero()[:, 0]
            optimizer.zero_grad(set_to_none=True)
            loss = torch.zeros((), device=self.device_)
            clipped = torch.zeros((), device=self.device_)
            if len(rows) and n_columns:
                tokens = encoded[rows]
                visible = training_visibility(len(rows), n_columns, self.device_)
                record: dict[str, torch.Tensor] = {}
                logits = network(tokens, visible, record)
                per_row = (
                    functional.cross_entropy(
                        logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1), reduction="none"
                    )
                    .reshape(len(rows), n_columns)
                    .sum(1)
                )
                outputs = torch.autograd.grad(
                    per_row.sum(), [record[k] for k in keys], retain_graph=True
                )
                norms = per_example_sq_norms(
                    record, dict(zip(keys, outputs, strict=True)), visible
                ).sqrt()
                factor = (clip / (norms + 1e-6)).clamp(max=1.0).detach()
                (per_row * factor).sum().backward()
                loss = per_row.detach().mean()
                clipped = (factor < 1.0).float().mean()
            with torch.no_grad():
                for parameter in parameters:
                    noise = torch.randn_like(parameter) * (plan.noise_multiplier * clip)
                    grad = noise if parameter.grad is None else parameter.grad + noise
                    parameter.grad = grad / expected
            optimizer.step()
            schedule.step()
            return {"loss": loss, "clipped": clipped}

        epochs, per_epoch = plan.schedule()
        if epochs:
            self._run_epochs(per_epoch, step, monitor=lambda row: row["loss"], epochs=epochs)
        network.eval()
        if targets is not None:
            with torch.no_grad():
                _calibrate(network, targets)
        self.epsilon_spent_ = plan.spent
        self.delta_ = plan.delta
        self.privacy_budget_ = plan.report()

    def _warn_narrow(self, targets: list[torch.Tensor], n_rows: int, epsilon: float) -> None:
        """Warn about numeric columns whose released shares sit in a sliver of their range.

        Reads only released quantities (the noisy range, bins and shares).
        """
        encoder: Discretizer = self.encoder_
        for index, column in enumerate(encoder.learned_columns):
            tokens = encoder.tokens_.get(column)
            info = encoder.transforms_[column].info
            if tokens is None or info.get("datetime"):
                continue
            levels = np.linspace(0.0, 1.0, tokens.n_bins + 1)
            edges = tokens.quantiles.value(levels) if tokens.n_bins else np.zeros(1)
            values = np.concatenate(
                [
                    np.stack([tokens.points, tokens.points], axis=1),
                    np.stack([edges[:-1], edges[1:]], axis=1),
                ]
            )
            span = narrow_span(targets[index], values, (info["min"], info["max"]))
            if span is None:
                continue
            kind = "public" if column in (self.bounds or {}) else "noisy"
            warnings.warn(
                f"{column!r}: at epsilon={epsilon:g} on {n_rows} rows the noise swamped "
                f"the column's released histogram, so its values will be generated "
                f"between {span[0]:g} and {span[1]:g}, a sliver of its {kind} range "
                f"{info['min']:g} to {info['max']:g}. Pass public bounds={{{column!r}: "
                "(low, high)}} if the range is known, and fit on more rows or with a "
                "larger epsilon.",
                NarrowRangeWarning,
                stacklevel=4,
            )

    def _get_state(self) -> dict[str, Any]:
        state = super()._get_state()
        if getattr(self, "privacy_budget_", None) is not None:
            state["fitted"]["privacy"] = self.privacy_budget_
        if getattr(self, "schedule_", None) is not None:
            state["fitted"]["schedule"] = dict(self.schedule_)
        return state

    def _set_state(self, state: Mapping[str, Any]) -> None:
        schedule = state.get("fitted", {}).get("schedule")
        if schedule is not None:
            self.schedule_ = dict(schedule)
        super()._set_state(state)
        privacy = state.get("fitted", {}).get("privacy")
        self.privacy_budget_ = privacy
        self.epsilon_spent_ = None if privacy is None else privacy["epsilon_spent"]
        self.delta_ = None if privacy is None else privacy["delta"]

    # ------------------------------------------------------------------ sample
    def _sample(self, n: int, context: Context | None) -> torch.Tensor:
        # A context restricts the tokens of some columns (features are columns here).
        return self._generate(n, dict(context.allowed or {}) if context is not None else {})

    def _sample_conditioned(self, n: int, conditions: list[Condition], seed: int) -> pd.DataFrame:
        encoder: Discretizer = self.encoder_
        position = {c: i for i, c in enumerate(encoder.learned_columns)}
        allowed: dict[int, torch.Tensor] = {}
        bounds: dict[str, tuple] = {}
        for condition in conditions:  # one condition per column: they come from a dict
            mask, levels = encoder.allowed_tokens(condition)
            allowed[position[condition.column]] = torch.as_tensor(mask, device=self.device_)
            if isinstance(condition, RangeCondition):
                bounds[condition.column] = (condition.low, condition.high, levels)
        tokens = self._sample(n, Context(allowed=allowed))
        return encoder.decode(tokens, random_state=seed, bounds=bounds)

    def _generate(self, n: int, allowed: dict[int, torch.Tensor]) -> torch.Tensor:
        """Draw ``n`` rows of tokens: restricted columns first, then table order."""
        n_columns = len(self.encoder_.learned_columns)
        tokens = torch.zeros((n, n_columns), dtype=torch.long, device=self.device_)
        known = torch.zeros((n, n_columns), dtype=torch.bool, device=self.device_)
        order = sorted(allowed) + [i for i in range(n_columns) if i not in allowed]
        return self._fill(tokens, known, allowed, order)

    def _fill(
        self,
        tokens: torch.Tensor,
        known: torch.Tensor,
        allowed: dict[int, torch.Tensor],
        order: list[int],
    ) -> torch.Tensor:
        """Draw every unknown cell, column by column in ``order``, given the known cells.

        ``allowed`` maps a column to a boolean mask of the tokens it may take.
        """
        out = []
        for start in range(0, len(tokens), _CHUNK):
            chunk_tokens = tokens[start : start + _CHUNK].clone()
            chunk_known = known[start : start + _CHUNK].clone()
            for column in order:
                rows = (~chunk_known[:, column]).nonzero().squeeze(1)
                if len(rows) == 0:
                    continue
                logits = self.network_.head(column, chunk_tokens[rows], chunk_known[rows])
                if column in allowed:
                    restriction = allowed[column]
                    width = len(restriction)
                    logits[:, :width] = logits[:, :width].masked_fill(~restriction, float("-inf"))
                drawn = _draw(logits)
                chunk_tokens[rows, column] = drawn
                chunk_known[rows, column] = True
            out.append(chunk_tokens)
        return torch.cat(out) if out else tokens

    # ----------------------------------------------------------- other queries
    def log_prob(self, data: pd.DataFrame) -> np.ndarray:
        """Log-probability of each row under the model, in table order.

        Numbers count by their token (exact value or quantile bin), so this is the
        log-probability of the discretized row: comparable across rows of one
        model, and the model's own training objective.

        Args:
            data: Rows with the training columns.

        Returns:
            One finite float per row.

        Example:
            >>> from synthkit.datasets import load_adult
            >>> real = load_adult().head(1000)
            >>> model = ARSynthesizer(epochs=1, verbose=False, random_state=0).fit(real)
            >>> scores = model.log_prob(real.head(5))
            >>> scores.shape, bool(np.isfinite(scores).all())
            ((5,), True)
        """
        self._check_fitted()
        _check_rows(data)
        tokens = self.encoder_.encode(data, random_state=0, device=self.device_)
        n_columns = tokens.shape[1]
        if n_columns == 0:
            return np.zeros(len(data))
        visible = torch.ones(n_columns, n_columns, device=self.device_).tril(-1)
        self._eval_mode()
        scores = []
        with torch.no_grad():
            for start in range(0, len(tokens), _CHUNK):
                chunk = tokens[start : start + _CHUNK]
                log_probs = torch.log_softmax(self.network_(chunk, visible), dim=-1)
                picked = log_probs.gather(-1, chunk[..., None]).squeeze(-1)
                scores.append(picked.sum(dim=1).double().cpu())
        return torch.cat(scores).numpy()

    def impute(
        self, data: pd.DataFrame, random_state: int | np.random.Generator | None = None
    ) -> pd.DataFrame:
        """Fill the missing cells of ``data`` with draws given each row's known cells.

        Observed cells are never changed; each missing cell gets a non-missing value
        drawn from the model conditioned on the row's observed cells (and on the
        cells imputed before it, in table order).

        Args:
            data: Rows with the training columns, with gaps.
            random_state: Seed for reproducible draws.

        Returns:
            A copy of ``data`` with its learned columns' gaps filled.

        Example:
            >>> from synthkit.datasets import load_adult
            >>> real = load_adult().head(1000)
            >>> model = ARSynthesizer(epochs=1, verbose=False, random_state=0).fit(real)
            >>> gappy = real.head(20).copy()
            >>> gappy.loc[gappy.index[:5], "age"] = None
            >>> int(model.impute(gappy, random_state=0)["age"].isna().sum())
            0
        """
        self._check_fitted()
        _check_rows(data)
        encoder: Discretizer = self.encoder_
        columns = encoder.learned_columns
        seed = seed_from(random_state)
        tokens = encoder.encode(data, random_state=seed, device=self.device_)
        missing_np = np.stack([data[c].isna().to_numpy() for c in columns], axis=1)
        if not missing_np.any():
            return data.copy()
        missing = torch.as_tensor(missing_np, device=self.device_)
        # A missing cell must become a value: forbid each column's missing token.
        allowed = {}
        for index, column in enumerate(columns):
            forbidden = encoder.missing_tokens(column)
            if forbidden and missing_np[:, index].any():
                mask = torch.ones(encoder.vocab_sizes[index], dtype=torch.bool)
                mask[forbidden] = False
                allowed[index] = mask.to(self.device_)
        with torch_seeded(seed, self.device_):
            self._eval_mode()
            with torch.no_grad():
                filled = self._fill(tokens, ~missing, allowed, list(range(len(columns))))
        decoded = encoder.decode(filled, random_state=seed)
        out = data.copy()
        for index, column in enumerate(columns):
            gaps = missing_np[:, index]
            if gaps.any():
                values = decoded[column].to_numpy(dtype=object)
                merged = out[column].astype(object).to_numpy(copy=True)
                merged[gaps] = values[gaps]
                out[column] = pd.Series(merged, index=out.index).astype(decoded[column].dtype)
        return out


def _draw(logits: torch.Tensor) -> torch.Tensor:
    """One token per row from softmax(logits), by inverse CDF.

    Far cheaper than ``torch.multinomial`` on CPU for many rows; tokens with
    zero probability (``-inf`` logits) are never drawn because ``u`` stays below
    the last cumulative value.
    """
    cdf = torch.softmax(logits.float(), dim=-1).cumsum(dim=-1)
    u = torch.rand(cdf.shape[0], 1, device=cdf.device) * cdf[:, -1:]
    drawn = torch.searchsorted(cdf, u, right=True).squeeze(1)
    return drawn.clamp_max(cdf.shape[1] - 1)


def _calibrate(
    network: ColumnHeads, targets: list[torch.Tensor], rows: int = 20_000, rounds: int = 3
) -> None:
    """Shift each column's output bias until the model's draws have the target shares.

    Columns are taken in table order, the order unconditional sampling uses: for each,
    ``rows`` rows drawn from the model so far give the average predicted
    distribution, and the log-ratio of target to average is added to the bias (a
    few rounds, as the softmax makes one step inexact). This uses only the released
    marginals and the trained network, so it spends no privacy.
    """
    device = network.out_bias.device
    n_columns = network.n_columns
    tokens = torch.zeros((rows, n_columns), dtype=torch.long, device=device)
    known = torch.zeros((rows, n_columns), dtype=torch.bool, device=device)
    for column, target in enumerate(targets):
        width = network.sizes[column]
        goal = target.to(device).clamp(min=1e-7).log()
        for _ in range(rounds):
            logits = network.head(column, tokens, known)
            average = torch.softmax(logits.float(), dim=-1).mean(0).clamp(min=1e-7).log()
            network.out_bias[column, 0, :width] += (goal - average).clamp(-20.0, 20.0)
        tokens[:, column] = _draw(network.head(column, tokens, known))
        known[:, column] = True


def _check_rows(data: object) -> None:
    """Rows to score or impute: a non-empty frame (a column may be entirely missing)."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"Expected a pandas DataFrame of rows, got {type(data).__name__}.")
    if len(data) == 0:
        raise DataError("The frame has no rows; pass at least one row.")
