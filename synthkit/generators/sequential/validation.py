"""Early stopping of a sequence fit on held-out entities.

An ordinary (non-private) fit of the sequence model holds out a share of the
training entities, computes their loss after every epoch and keeps the weights
of the epoch where it was lowest, stopping once it has not improved for
``patience`` epochs: the fit stops where it starts learning the training
histories themselves rather than what they share, which is how TabularARGN
avoids memorizing. The held-out loss is the same teacher-forced loss training
minimizes, over whole histories (the GRU reads every event, so no window or
carried state is needed), computed on the model's device in a few batches of
entities of similar lengths: no loop over events. The epoch loop that reads it
and keeps the best weights is the models' shared one
(``BaseSynthesizer._run_epochs`` with ``validate``).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["ValidationLoss", "held_out_entities"]

#: Fewer held-out entities than this give a loss too noisy to pick an epoch by:
#: such fits train on every entity, as without a split.
MIN_VALIDATION_ENTITIES = 50
#: Epochs without a better held-out loss before a fit stops, when patience is not given.
DEFAULT_PATIENCE = 3
# Positions (events plus one stop each) per batch of the held-out loss: bounds its memory.
_BATCH_POSITIONS = 16_384


def held_out_entities(
    n_entities: int, share: float | None, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """A random split of ``n_entities`` into training and held-out entities, or None.

    ``share`` of them (rounded) is held out; None when ``share`` is 0 or None,
    or when that is fewer than :data:`MIN_VALIDATION_ENTITIES` entities. Uses
    torch's generator, so a seeded fit splits the same way every time.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> train, held = held_out_entities(1_000, 0.1, torch.device("cpu"))
        >>> len(train), len(held), len(set(train.tolist()) | set(held.tolist()))
        (900, 100, 1000)
        >>> held_out_entities(300, 0.1, torch.device("cpu")) is None
        True
    """
    if not share:
        return None
    n_held = round(share * n_entities)
    if n_held < MIN_VALIDATION_ENTITIES or n_held >= n_entities:
        return None
    order = torch.randperm(n_entities, device=device)
    held, train = order[:n_held], order[n_held:]
    return torch.sort(train).values, torch.sort(held).values


class ValidationLoss:
    """The teacher-forced loss of held-out entities' whole histories, per entity.

    Each history of ``L`` events is ``L + 1`` positions: the stop flag is
    scored at every one (go on at events, stop at the last) and the event
    columns at events, as training scores them. Entities are batched by length
    once, so each call is a few forward passes in inference mode.

    Args:
        network: The :class:`~synthkit.generators.sequential.network.SequenceNetwork`.
        tokens: ``[events, columns]`` event tokens of all entities, grouped by entity.
        offsets: Each entity's first row in ``tokens``.
        lengths: Each entity's number of events.
        context: ``[entities, columns]`` context tokens.
        entities: The held-out entities.
        times: Each event's time and time since its entity's first event
            (networks with time inputs), else None.
        recall: ``[events, slots]`` each event's recalled tokens (networks with
            recall slots), else None.

    Example:
        >>> from synthkit.generators.sequential.network import SequenceNetwork
        >>> net = SequenceNetwork([3], [], state_dim=8, hidden_dim=8)
        >>> tokens = torch.tensor([[1], [2], [0]])
        >>> loss = ValidationLoss(net, tokens, torch.tensor([0, 2, 3]), torch.tensor([2, 1, 0]),
        ...                       torch.zeros((3, 0), dtype=torch.long), torch.arange(3))
        >>> value = loss()
        >>> value > 0 and net.training
        True
    """

    def __init__(
        self,
        network: Any,
        tokens: torch.Tensor,
        offsets: torch.Tensor,
        lengths: torch.Tensor,
        context: torch.Tensor,
        entities: torch.Tensor,
        times: tuple[torch.Tensor, torch.Tensor] | None = None,
        recall: torch.Tensor | None = None,
    ) -> None:
        self.network = network
        self.tokens = tokens
        self.offsets = offsets
        self.lengths = lengths
        self.context = context
        self.times = times
        self.recall = recall
        self.n_entities = len(entities)
        self.batches = _length_batches(entities, lengths[entities])

    def __call__(self) -> float:
        """The mean loss per held-out entity under the network's current weights."""
        network = self.network
        was_training = network.training
        network.eval()
        total = torch.zeros((), dtype=torch.float64, device=self.tokens.device)
        with torch.no_grad():
            for entities in self.batches:
                total += self._batch_loss(entities).double()
        network.train(was_training)
        return float(total) / max(self.n_entities, 1)

    def _batch_loss(self, entities: torch.Tensor) -> torch.Tensor:
        network, tokens = self.network, self.tokens
        n_events, n_columns = tokens.shape
        length = self.lengths[entities]
        span = int(length.max()) + 1
        position = torch.arange(span, device=tokens.device).expand(len(entities), -1)
        valid = (position <= length[:, None]).reshape(-1)
        event = (position < length[:, None]).reshape(-1)[valid]
        row = self.offsets[entities][:, None] + position
        before = (row - 1).clamp(0, max(n_events - 1, 0))
        previous = tokens[before]
        current = tokens[row.clamp(0, max(n_events - 1, 0))]
        recalled = None
        if self.recall is not None:
            recalled = self.recall[row.clamp(0, max(n_events - 1, 0))]
            recalled = recalled.reshape(-1, self.recall.shape[1])[valid]
        clock = None
        if self.times is not None:
            clock = network.clock_tokens(self.times[0][before], self.times[1][before], position)
        vectors = network.encode_context(self.context[entities])
        remaining = length[:, None] - position  # read by counted networks
        states, _ = network.history(vectors, previous, position, None, clock, remaining)
        flat_state = states.reshape(-1, states.shape[-1])[valid]
        flat_context = vectors[:, None].expand(-1, span, -1).reshape(-1, vectors.shape[-1])[valid]
        current_rows = current.reshape(-1, n_columns)[valid]
        losses = network.position_losses(flat_state, flat_context, current_rows, event, recalled)
        return losses.sum()


def _length_batches(entities: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
    """Entities sorted by length, cut so each batch's padded positions stay bounded.

    Example:
        >>> batches = _length_batches(torch.arange(4), torch.tensor([9_000, 1, 2, 9_000]))
        >>> [b.tolist() for b in batches]
        [[1, 2], [0], [3]]
    """
    order = torch.sort(lengths, stable=True).indices
    spans = (lengths[order] + 1).tolist()
    batches, start = [], 0
    for end in range(1, len(spans) + 1):
        # Sorted by length: the batch's last entity sets its padded span.
        if end == len(spans) or (end + 1 - start) * spans[end] > _BATCH_POSITIONS:
            batches.append(entities[order[start:end]])
            start = end
    return batches
