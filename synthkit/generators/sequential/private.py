"""Differentially private training of the sequence model, with the entity as the privacy unit.

One patient (or card holder) with all their events is one unit: every DP-SGD step
draws entities by Poisson sampling, computes one gradient per entity over a
window of its history (``torch.func.vmap`` over entities, so a step stays one
batched computation), clips each entity's gradient to ``max_grad_norm`` and adds
Gaussian noise calibrated by the Rényi-DP accountant. The encoders' category sets
and bins are chosen from noisy histograms of one event per entity (a random one;
for a category column one of the entity's distinct values, each equally likely), so
an entity changes each histogram by at most one, paid from the same budget;
a second release (:mod:`~synthkit.generators.sequential.private_shapes`) gives the
history lengths and the columns' shapes from up to 16 events per entity, which set
the numeric columns' quantile knots and the heads' starting shares, and after
training hold the stop head to the released lengths. Nothing the model keeps is
an exact real value (:mod:`~synthkit.generators.sequential.private_layout`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.nn import functional

from synthkit.errors import ParameterError
from synthkit.generators.sequential.network import position_buckets
from synthkit.generators.sequential.private_calibration import (
    calibrate_columns,
    calibrate_pairs,
    calibrate_stop,
)
from synthkit.generators.sequential.private_layout import private_layout
from synthkit.generators.sequential.private_shapes import release_event_shapes
from synthkit.privacy.accounting import default_delta, epsilon_of_rdp, rdp_of_step
from synthkit.privacy.plan import DPSGDPlan
from synthkit.privacy.preprocessing import PrivacyBudget
from synthkit.processing.discretizer import Discretizer

if TYPE_CHECKING:
    from synthkit.generators.sequential.ar import SequenceARSynthesizer

__all__ = [
    "EntityBudget",
    "context_encoder",
    "event_encoder",
    "fit_events_private",
    "gru_states",
    "one_distinct_per_entity",
    "one_event_per_entity",
    "private_budget",
    "private_context_params",
    "public_domains",
    "spent_privacy",
    "start_heads",
]

# Entities whose per-entity gradients are held in memory at once.
_VMAP_CHUNK = 256
# Share of the events' epsilon that the lengths and column shapes would spend alone.
_SHAPES_SHARE = 0.3
# Scale of the heads' hidden-layer logits at the start of a private fit.
_HIDDEN_START = 0.1


class EntityBudget:
    """How a sequence model's ε and δ are split between the entity table and the events.

    Basic composition: the entity table (its model, or its encoder when there is no
    model) gets ``context_share`` of ε and half of δ; the events (their noisy
    histograms and DP-SGD) the rest. Without entity columns the events get it all.

    Example:
        >>> budget = EntityBudget(
        ...     4.0, None, n_entities=10_000, context_share=0.25, has_context=True)
        >>> budget.context_epsilon, budget.events_epsilon, budget.delta == 1 / 10_000**1.1
        (1.0, 3.0, True)
    """

    def __init__(
        self,
        epsilon: float,
        delta: float | None,
        *,
        n_entities: int,
        context_share: float,
        has_context: bool,
    ) -> None:
        self.epsilon = float(epsilon)
        self.delta = float(delta) if delta is not None else default_delta(n_entities)
        share = context_share if has_context else 0.0
        self.context_epsilon = self.epsilon * share
        self.events_epsilon = self.epsilon - self.context_epsilon
        self.context_delta = self.delta / 2 if has_context else 0.0
        self.events_delta = self.delta - self.context_delta


def one_event_per_entity(lengths: np.ndarray, seed: int) -> np.ndarray:
    """Row of one event drawn at random from each entity with events (rows grouped by entity).

    Example:
        >>> one_event_per_entity(np.array([2, 0, 3]), seed=0).tolist() in (
        ...     [[a, b] for a in (0, 1) for b in (2, 3, 4)])
        True
    """
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    rng = np.random.default_rng(seed)
    with_events = lengths > 0
    picks = (rng.random(int(with_events.sum())) * lengths[with_events]).astype(np.int64)
    return offsets[with_events] + picks


def one_distinct_per_entity(values: pd.Series, lengths: np.ndarray, seed: int) -> np.ndarray:
    """Row of one event per entity with events, its value drawn evenly among the entity's own.

    Each distinct value (missing included) of an entity is equally likely, however
    many of its events hold it: a category that many entities hold in a few events
    each (a test taken now and then beside dozens of routine ones) counts far more
    often than a random event would show it, while the routine categories, held
    by nearly everyone, still count about once per entity over its distinct
    values. The choice reads only the entity's own events: it adds one row in all.

    Example:
        >>> values = pd.Series(["a", "a", "a", "b", "c", "d"])
        >>> rows = [one_distinct_per_entity(values, np.array([4, 0, 2]), s)[0] for s in range(200)]
        >>> sorted({int(r) for r in rows}), bool(0.35 < np.mean(np.array(rows) == 3) < 0.65)
        ([0, 3], True)
    """
    codes = pd.factorize(values, use_na_sentinel=False)[0].astype(np.int64)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    # The first row of each (entity, value) pair, sorted by entity, then value.
    _, rows = np.unique(owner * (int(codes.max(initial=0)) + 1) + codes, return_index=True)
    counts = np.bincount(owner[rows], minlength=len(lengths))[lengths > 0]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    picks = (np.random.default_rng(seed).random(len(counts)) * counts).astype(np.int64)
    return rows[starts + picks]


def private_event_frame(
    frame: pd.DataFrame,
    lengths: np.ndarray,
    seed: int,
    first: str | None,
    later: str | None,
    categorical: list[str] | None = None,
) -> pd.DataFrame:
    """The rows the private histograms read: one per entity with events.

    Each column gets one value per entity, so adding or removing an entity moves
    each histogram by at most one: a random event's values, except the column
    ``first`` (set only at an entity's first event: its start) taken from the
    first event, ``later`` (set only after it: the gap) from a random later one,
    and the ``categorical`` columns, whose histograms choose which categories are
    kept, from an event holding one of the entity's distinct values, each equally
    likely (:func:`one_distinct_per_entity`).
    """
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    rows = frame.iloc[one_event_per_entity(lengths, seed)].reset_index(drop=True)
    for i, column in enumerate(categorical or []):
        picked = one_distinct_per_entity(frame[column], lengths, seed + 2 + i)
        rows[column] = frame[column].to_numpy()[picked]
    with_events = lengths > 0
    if first is not None and first in frame.columns:
        rows[first] = frame[first].to_numpy()[offsets[with_events]]
    if later is not None and later in frame.columns:
        rng = np.random.default_rng(seed + 1)
        n = lengths[with_events]
        pick = offsets[with_events] + 1 + (rng.random(len(n)) * np.maximum(n - 1, 1)).astype(int)
        values = frame[later].to_numpy()[np.minimum(pick, len(frame) - 1)]
        rows[later] = np.where(n > 1, values, np.nan)
    return rows


def private_budget(model: Any, n_entities: int, *, has_context: bool) -> EntityBudget | None:
    """The split budget of a private fit (``epsilon`` set), or ``None`` for an ordinary one."""
    epsilon = getattr(model, "epsilon", None)
    if epsilon is None:
        given = [name for name in ("bounds", "categories") if getattr(model, name, None)]
        if given:
            raise ParameterError(
                f"{', '.join(given)} are public domains for a differentially private fit; "
                "set epsilon (e.g. epsilon=4.0) or leave them unset."
            )
        return None
    check_private_params(model)
    return EntityBudget(
        epsilon,
        model.delta,
        n_entities=n_entities,
        context_share=model.context_share,
        has_context=has_context,
    )


@dataclass
class Domains:
    """Public bounds and category lists of a private sequence fit, by where they apply.

    Attributes:
        event_bounds: Bounds of learned event columns (the index's start and gap included).
        event_categories: Category lists of learned event columns.
        entity_bounds: Bounds of entity-table columns (context and constant columns).
        entity_categories: Category lists of entity-table columns.
    """

    event_bounds: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    event_categories: dict[str, list[Any]] = field(default_factory=dict)
    entity_bounds: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    entity_categories: dict[str, list[Any]] = field(default_factory=dict)


def public_domains(
    model: Any,
    learned: list[str],
    entity_columns: list[str],
    index: str | None,
    index_values: Callable[[pd.Series], np.ndarray] | None,
    start: str,
    gap: str,
) -> Domains:
    """Split the model's ``bounds`` and ``categories`` between the events and the entity table.

    Bounds on the index become bounds of its first time (the range itself) and of
    its gaps (zero to the range's width), in the index's numeric units.

    Raises:
        ParameterError: For a column that is neither a learned event column, the
            index nor an entity-table column, or index bounds that are not a range.

    Example:
        >>> class Model:
        ...     bounds, categories = {"days": (-10, 90), "age": (0, 120)}, {"test": ["a"]}
        >>> found = public_domains(Model(), ["test"], ["age"], "days",
        ...                        lambda s: s.to_numpy(float), "start", "gap")
        >>> found.event_bounds, found.entity_bounds, found.event_categories
        ({'start': (-10.0, 90.0), 'gap': (0.0, 100.0)}, {'age': (0, 120)}, {'test': ['a']})
    """
    found = Domains()
    known = sorted({*learned, *entity_columns, *([index] if index is not None else [])})
    for name in ("bounds", "categories"):
        given = getattr(model, name, None) or {}
        for column, domain in given.items():
            if column == index and name == "bounds" and index_values is not None:
                low, high = (float(v) for v in index_values(pd.Series(list(domain))))
                if not low < high:
                    raise ParameterError(
                        f"bounds={{{column!r}: {tuple(domain)!r}}} is not a range; give "
                        "(low, high) with low < high."
                    )
                found.event_bounds[start] = (low, high)
                found.event_bounds[gap] = (0.0, high - low)
            elif column in learned:
                getattr(found, f"event_{name}")[column] = domain
            elif column in entity_columns:
                getattr(found, f"entity_{name}")[column] = domain
            else:
                raise ParameterError(
                    f"{name}={{{column!r}: ...}}: {column!r} is not a column this model "
                    f"learns; the columns are {known}."
                )
    return found


def private_context_params(
    model_class: type, name: str, budget: EntityBudget, domains: Domains | None = None
) -> dict[str, Any]:
    """The entity-table model's share of the budget (and public domains), as its parameters."""
    constraints = getattr(model_class, "_parameter_constraints", {})
    if "epsilon" not in constraints:
        raise ParameterError(
            f"context_model={name!r} cannot train with differential privacy, so the entity "
            "table would leak outside the budget; use context_model='ar' with epsilon."
        )
    params: dict[str, Any] = {"epsilon": budget.context_epsilon, "delta": budget.context_delta}
    if domains is not None:
        for name_, given in (
            ("bounds", domains.entity_bounds),
            ("categories", domains.entity_categories),
        ):
            if given and name_ not in model_class._param_names():
                raise ParameterError(
                    f"{name_} for entity-table columns {sorted(given)} need a context model "
                    f"that takes public {name_}; context_model={name!r} does not."
                )
            if given:
                params[name_] = dict(given)
    return params


def context_encoder(
    model: Any,
    table: pd.DataFrame,
    metadata: Any,
    budget: EntityBudget | None,
    seed: int,
    domains: Domains | None = None,
) -> Discretizer:
    """The entity table's encoder: exact, or under DP the context model's private one.

    Without a context model (contexts always given at sampling) a private fit
    describes the entity table from its own noisy histograms, spending the entity
    table's share of the budget.
    """
    fitted = getattr(model, "context_model_", None)
    if budget is not None and isinstance(getattr(fitted, "encoder_", None), Discretizer):
        return Discretizer.from_state(fitted.encoder_.to_state())
    privacy = None
    if budget is not None:
        privacy = PrivacyBudget(
            epsilon=budget.context_epsilon,
            delta=budget.context_delta,
            preprocessing_share=1.0,
            bounds=dict(domains.entity_bounds) if domains else {},
            categories=dict(domains.entity_categories) if domains else {},
            seed=seed,
        )
    encoder = Discretizer(
        model.n_bins,
        model.max_points,
        model.rare_category_threshold,
        value_protection=privacy is None and model.value_protection,
        privacy=privacy,
    )
    return encoder.fit(table, metadata)


def event_encoder(
    model: Any,
    frame: pd.DataFrame,
    metadata: Any,
    lengths: np.ndarray,
    budget: EntityBudget | None,
    seed: int,
    first: str | None = None,
    later: str | None = None,
    domains: Domains | None = None,
) -> Discretizer:
    """The event columns' encoder: exact, or from noisy histograms of one event per entity.

    ``first`` and ``later`` name the index's start and gap columns (see
    :func:`private_event_frame`).
    """
    if budget is None:
        encoder = Discretizer(
            model.n_bins,
            model.max_points,
            model.rare_category_threshold,
            value_protection=model.value_protection,
        )
        return encoder.fit(frame, metadata)
    privacy = PrivacyBudget(
        epsilon=budget.events_epsilon,
        delta=budget.events_delta,
        preprocessing_share=model.preprocessing_share,
        bounds=dict(domains.event_bounds) if domains else {},
        categories=dict(domains.event_categories) if domains else {},
        seed=seed,
    )
    encoder = Discretizer(
        model.n_bins, model.max_points, model.rare_category_threshold, privacy=privacy
    )
    categorical = [
        column
        for column in frame.columns
        if metadata.column(column)["kind"] in ("categorical", "boolean")
    ]
    encoder.fit(private_event_frame(frame, lengths, seed, first, later, categorical), metadata)
    # The start is missing after the first event and the gap at it: by construction,
    # not from the data, so both keep a missing token whatever the noise said.
    for column in (first, later):
        if column is not None and column in encoder.tokens_:
            encoder.tokens_[column].has_missing = True
            encoder.transforms_[column].info["has_missing"] = True
    model._event_shapes = release_event_shapes(
        encoder,
        frame,
        lengths,
        budget.events_epsilon * _SHAPES_SHARE,
        encoder.privacy_["delta_accounted"],
        seed,
        first,
        later,
    )
    return encoder


def spent_privacy(model: Any, budget: EntityBudget) -> dict[str, Any]:
    """What a private fit spent in all, by part, composed (basic composition of the parts)."""
    events = dict(model.events_privacy_)
    fitted = getattr(model, "context_model_", None)
    if fitted is not None and getattr(fitted, "privacy_budget_", None) is not None:
        table = dict(fitted.privacy_budget_)
    elif budget.context_epsilon and model.context_encoder_ is not None:
        spent = model.context_encoder_.privacy_
        rdp = rdp_of_step(spent["preprocessing_noise_multiplier"], 1.0)
        table = {
            "epsilon": budget.context_epsilon,
            "epsilon_spent": epsilon_of_rdp(rdp, spent["delta_accounted"]),
            "delta": budget.context_delta,
            "histograms": spent["histograms"],
        }
    else:
        table = {"epsilon": 0.0, "epsilon_spent": 0.0, "delta": 0.0}
    return {
        "unit": "entity",
        "epsilon": budget.epsilon,
        "epsilon_spent": float(events["epsilon_spent"] + table["epsilon_spent"]),
        "delta": budget.delta,
        "context_share": budget.context_epsilon / budget.epsilon,
        "entity_table": table,
        "events": events,
    }


def gru_states(gru: nn.GRU, inputs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """Run a one-layer GRU's equations step by step on ``[steps, dim]`` inputs of one entity.

    ``nn.GRU`` cannot run under ``vmap``; these are the same equations on its
    weights (PyTorch's gate order: reset, update, new), so per-entity gradients can
    be taken for a batch of entities at once.

    Example:
        >>> gru = nn.GRU(4, 3, batch_first=True)
        >>> x, h = torch.randn(5, 4), torch.randn(3)
        >>> expected, _ = gru(x[None], h[None, None])
        >>> torch.allclose(gru_states(gru, x, h), expected[0], atol=1e-6)
        True
    """
    projected = inputs @ gru.weight_ih_l0.t() + gru.bias_ih_l0
    outputs = []
    for step in range(inputs.shape[0]):
        hidden = state @ gru.weight_hh_l0.t() + gru.bias_hh_l0
        in_reset, in_update, in_new = projected[step].chunk(3)
        reset_h, update_h, new_h = hidden.chunk(3)
        reset = torch.sigmoid(in_reset + reset_h)
        update = torch.sigmoid(in_update + update_h)
        state = (1 - update) * torch.tanh(in_new + reset * new_h) + update * state
        outputs.append(state)
    return torch.stack(outputs)


def _bag(
    indices: torch.Tensor, table: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """``embedding_bag(mode="sum")`` over the last axis, as plain ops ``vmap`` batches."""
    rows = functional.embedding(indices, table)
    if weights is not None:
        rows = rows * weights[..., None]
    return rows.sum(dim=-2)


class EntityLoss(nn.Module):
    """The training loss of one entity: its first stop flag and one window of its history.

    Mirrors the ordinary fit's losses (the stop flag at position 0 from the
    context alone; then every position of the window: stop flags after the first,
    and the columns of real events), for one entity at a time under ``vmap``.
    The network's embedding sums are written as gathers and sums here (``vmap``
    has no batching rule for ``embedding_bag``); :meth:`context_vector`,
    :meth:`step_inputs` and :meth:`logits` compute exactly what the network's
    methods of the same purpose compute.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def context_vector(self, tokens: torch.Tensor) -> torch.Tensor:
        """The ``[state_dim]`` context vector of one entity's ``[columns]`` tokens."""
        net = self.network
        if tokens.shape[-1] == 0:
            return net.context_bias
        return _bag(tokens + net.context_offsets, net.context_embedding) + net.context_bias

    def step_inputs(self, previous: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """GRU inputs ``[steps, state_dim]`` from the previous events' tokens and positions."""
        net = self.network
        if net.n_event_columns:
            embedded = _bag(previous + net.event_offsets, net.event_embedding)
        else:
            embedded = net.start.new_zeros(*previous.shape[:-1], net.start.shape[0])
        first = (positions == 0)[..., None]
        embedded = torch.where(first, net.start.expand_as(embedded), embedded)
        return embedded + net.position(position_buckets(positions))

    def logits(
        self, state: torch.Tensor, context: torch.Tensor, tokens: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``[rows, heads, max_vocab]`` of every head given the tokens before it."""
        net = self.network
        rows = tokens.shape[0]
        index = (tokens + net.head_offsets)[:, None, :] + net.head_tables[None, :, None]
        summed = _bag(index, net.inputs, net.causal.expand(rows, -1, -1))
        projected = net.state_proj(torch.cat([state, context], dim=-1))
        hidden = (summed + projected.reshape(rows, net.n_heads, -1)).transpose(0, 1)
        logits = net._rest(hidden, slice(None)).transpose(0, 1)
        return logits.masked_fill(net.invalid[None], float("-inf"))

    def forward(
        self,
        context: torch.Tensor,
        previous: torch.Tensor,
        current: torch.Tensor,
        position: torch.Tensor,
        valid: torch.Tensor,
        is_event: torch.Tensor,
        carried: torch.Tensor,
        starts_later: torch.Tensor,
        empty: torch.Tensor,
        weight: torch.Tensor,
    ) -> torch.Tensor:
        net = self.network
        vector = self.context_vector(context)
        initial = torch.tanh(net.initial(vector))
        # The stop flag at position 0 (a history with no event at all).
        first_input = self.step_inputs(
            torch.zeros_like(previous[:1]), torch.zeros_like(position[:1])
        )
        first_state = gru_states(net.gru, first_input, initial)
        flag = empty.long()[None]
        first_targets = torch.cat([flag, torch.zeros_like(current[0])])[None]
        first_logits = self.logits(first_state, vector[None], first_targets)[0, 0]
        first = functional.cross_entropy(first_logits[None], flag)
        # The window: from the state carried past earlier events when it starts later.
        state = torch.where(starts_later, carried, initial)
        states = gru_states(net.gru, self.step_inputs(previous, position), state)
        targets = torch.cat([(~is_event).long()[:, None], current * is_event[:, None]], dim=1)
        logits = self.logits(states, vector.expand(states.shape[0], -1), targets)
        losses = functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
        ).reshape(targets.shape)
        columns = losses[:, 1:] * is_event[:, None]
        flags = losses[:, 0] * (position > 0)
        window = ((columns.sum(dim=1) + flags) * valid).sum() * weight
        return first + window


def fit_events_private(
    model: SequenceARSynthesizer,
    tokens: torch.Tensor,
    offsets: torch.Tensor,
    lengths: torch.Tensor,
    context: torch.Tensor,
    budget: EntityBudget,
) -> None:
    """DP-SGD over entities: Poisson-sampled, per-entity clipped, Gaussian noise.

    Sets ``model.events_privacy_`` (the plan's report) on the model; the caller
    composes it with the entity table's spending.
    """
    network = model.network_
    network.train()
    device = model.device_
    n_entities = len(lengths)
    shapes = model._event_shapes
    # The lengths and shapes are one Gaussian release before training, composed with
    # the histograms and the steps by the plan's accountant.
    plan = DPSGDPlan.for_model(
        model,
        budget.events_epsilon,
        model.event_encoder_.privacy_,
        n_entities,
        unit="entity",
        marginals_noise_multiplier=shapes.noise_multiplier,
    )
    stop = shapes.stop_rate()
    columns = model.event_encoder_.learned_columns
    start_heads(network, [np.array([1.0 - stop, stop])] + [shapes.shares[c] for c in columns])
    if model.verbose:
        print(plan.describe())
    optimizer, schedule = model._optimizer(network.parameters(), plan.steps)
    loss_module = EntityLoss(network)
    names = [name for name, _ in loss_module.named_parameters()]
    parameters = list(loss_module.parameters())
    clip = float(model.max_grad_norm)
    expected = plan.sample_rate * n_entities

    per_entity = entity_gradients(loss_module)

    def step() -> dict[str, torch.Tensor]:
        entities = (torch.rand(n_entities, device=device) < plan.sample_rate).nonzero()[:, 0]
        optimizer.zero_grad(set_to_none=True)
        summed = [torch.zeros_like(p) for p in parameters]
        if len(entities):
            params = {name: p.detach() for name, p in zip(names, parameters, strict=True)}
            inputs = entity_inputs(model, tokens, offsets, lengths, context, entities)
            grads = per_entity(params, *inputs)
            summed, _ = clipped_sum([grads[name] for name in names], clip)
        with torch.no_grad():
            for parameter, gradient in zip(parameters, summed, strict=True):
                noise = torch.randn_like(parameter) * (plan.noise_multiplier * clip)
                parameter.grad = (gradient + noise) / expected
        optimizer.step()
        schedule.step()
        # Only the batch size (which reads no data beyond the public count) is
        # recorded: a loss or the share of clipped gradients would be exact statistics.
        return {"entities": torch.tensor(float(len(entities)))}

    epochs, per_epoch = plan.schedule()
    if epochs:
        model._run_epochs(per_epoch, step, monitor=lambda row: 0.0, epochs=epochs)
    network.eval()
    model.layout_ = private_layout(
        model.layout_, model.event_encoder_, shapes.max_length(), shapes.first
    )
    model.events_privacy_ = plan.report()
    # The fit's seeded generator gives the calibration's draws their seed.
    seed = int(torch.randint(0, 2**31 - 1, ()).item())
    model.events_privacy_["shares_calibration"] = calibrate_columns(
        model, shapes.shares, seed, shapes.first, shapes.later
    )
    sigma = shapes.noise_multiplier * np.sqrt(shapes.histograms)
    model.events_privacy_["pairs_calibration"] = calibrate_pairs(model, shapes.pairs, sigma, seed)
    model.events_privacy_["stop_calibration"] = calibrate_stop(
        model, shapes.log_length_mean(), seed
    )


def start_heads(network: nn.Module, shares: list[np.ndarray]) -> None:
    """Start every head's output from released token shares (the stop head's first).

    The hidden layers' part of the logits starts small, so the heads first predict
    these shares and DP-SGD's noisy steps only have to learn how columns depend on
    the history. Post-processing: no budget is spent.

    Example:
        >>> from synthkit.generators.sequential.network import SequenceNetwork
        >>> net = SequenceNetwork([3], [], state_dim=4, hidden_dim=4)
        >>> start_heads(net, [np.array([0.9, 0.1]), np.array([0.5, 0.25, 0.25])])
        >>> [round(v, 2) for v in torch.softmax(net.out_bias[1, 0, :3], 0).tolist()]
        [0.5, 0.25, 0.25]
    """
    with torch.no_grad():
        network.out.mul_(_HIDDEN_START)
        for head, share in enumerate(shares):
            width = network.sizes[head]
            values = torch.as_tensor(np.asarray(share, dtype=np.float64)).float()
            log_share = values.to(network.out_bias.device).clamp(min=1e-7).log()
            network.out_bias[head, 0, :width] = log_share - log_share.max()


def entity_gradients(loss_module: nn.Module) -> Any:
    """``f(params, *inputs)``: one gradient per entity of ``loss_module``, all entities at once."""
    buffers = dict(loss_module.named_buffers())

    def entity_loss(params: dict[str, torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
        return functional_call(loss_module, {**params, **buffers}, inputs)

    return vmap(grad(entity_loss), in_dims=(None, *([0] * 10)), chunk_size=_VMAP_CHUNK)


def entity_inputs(
    model: Any,
    tokens: torch.Tensor,
    offsets: torch.Tensor,
    lengths: torch.Tensor,
    context: torch.Tensor,
    entities: torch.Tensor,
) -> tuple[torch.Tensor, ...]:
    """The inputs of :class:`EntityLoss` for each of ``entities``: a random tile each.

    Windows cover one random tile of each history (as the ordinary fit draws
    them), padded to the longest; the GRU state before a later tile is read
    without gradients from the entity's own earlier events.
    """
    from synthkit.generators.sequential.ar import _tiles

    network = model.network_
    n_events = tokens.shape[0]
    length = lengths[entities]
    window = min(model.max_window, int(length.max()) + 1)
    start, end, weight = _tiles(length, window)
    position = start[:, None] + torch.arange(window, device=tokens.device)
    row = offsets[entities][:, None] + position
    previous = tokens[(row - 1).clamp(0, max(n_events - 1, 0))]
    current = tokens[row.clamp(0, max(n_events - 1, 0))]
    valid = (position < end[:, None]) & (length[:, None] > 0)
    with torch.no_grad():
        vectors = network.encode_context(context[entities])
        carried = model._carried_state(vectors, tokens, offsets[entities], start, window, n_events)
    return (
        context[entities],
        previous,
        current,
        position,
        valid,
        position < length[:, None],
        carried[0],
        start > 0,
        length == 0,
        weight,
    )


def clipped_sum(
    gradients: list[torch.Tensor], clip: float
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Sum per-entity gradients after scaling each entity's to an L2 norm of at most ``clip``.

    Args:
        gradients: Per parameter, ``[entities, *shape]`` gradients.
        clip: The largest norm one entity's whole gradient may have.

    Returns:
        The clipped sums per parameter, and each entity's scale factor.

    Example:
        >>> grads = [torch.tensor([[3.0, 4.0], [0.3, 0.4]])]
        >>> summed, factor = clipped_sum(grads, clip=1.0)
        >>> [round(v, 3) for v in summed[0].tolist()], [round(v, 3) for v in factor.tolist()]
        ([0.9, 1.2], [0.2, 1.0])
    """
    n = gradients[0].shape[0]
    norms = torch.sqrt(sum(g.reshape(n, -1).pow(2).sum(dim=1) for g in gradients))
    factor = (clip / (norms + 1e-6)).clamp(max=1.0)
    return [torch.einsum("b,b...->...", factor, g) for g in gradients], factor


def check_private_params(model: Any) -> None:
    """Refuse settings a private sequence fit cannot honour, naming the fix."""
    if model.patience is not None:
        raise ParameterError(
            "patience stops on the training loss, which reads the real data outside the "
            "privacy budget; leave patience=None with epsilon."
        )
    if model.dropout:
        raise ParameterError(
            "dropout is not used by the private fit (each entity's gradient is computed "
            "without it); set dropout=0.0 with epsilon."
        )
