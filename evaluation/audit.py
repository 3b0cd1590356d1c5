"""An empirical privacy audit: a lower bound on ε from canaries a fit saw or did not see.

The audit draws ``2m`` canaries from the data (rows of a table, or whole entities
of sequences), inserts a random half of them into the training data and fits the
model once. An attack then scores every canary: the model's log-likelihood when it
has one, otherwise the closeness of its nearest synthetic row (or entity). Guessing
"member" for the highest scores and "non-member" for the lowest, the number of
correct guesses bounds ε from below: under ε-DP no attack guesses a canary's
membership right with probability above ``e**ε / (1 + e**ε)`` (Steinke, Nasr and
Jagielski 2023, "Privacy auditing with one (1) training run"), so the largest ε
whose binomial tail still explains the correct guesses at the chosen confidence is
a bound the real ε cannot be below. The bound ignores δ, whose share
``δ · 2m`` is negligible next to the confidence level for the δ synthkit uses.

A bound far below the claimed ε says this attack could not tell; it does not
prove the claim. A bound above it says the training leaks more than claimed.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom

from synthkit.errors import EvaluationError
from synthkit.evaluation.data import EvaluationData
from synthkit.evaluation.neighbors import nearest_l1
from synthkit.metadata import Metadata
from synthkit.schema.sequences import SequenceDataset

__all__ = ["AuditResult", "epsilon_lower_bound", "privacy_audit"]

# Numbers of guesses tried (shares of the canaries); the confidence is split among them.
_GUESS_SHARES = (0.1, 0.2, 0.5, 1.0)


@dataclass(frozen=True)
class AuditResult:
    """What an audit found.

    Attributes:
        epsilon_lower_bound: The ε the fit's leakage proves, at ``confidence``.
        epsilon_claimed: The ε the fitted model reports spending (``None`` without DP).
        n_canaries: Canaries drawn (half of them trained on, chosen at random).
        guesses: Guesses the best bound came from.
        correct: Of those, how many were right.
        attack: ``"likelihood"`` or ``"distance"``.
        unit: ``"row"`` or ``"entity"``: what one canary is.
        confidence: Confidence of the bound.
    """

    epsilon_lower_bound: float
    epsilon_claimed: float | None
    n_canaries: int
    guesses: int
    correct: int
    attack: str
    unit: str
    confidence: float

    @property
    def consistent(self) -> bool | None:
        """Whether the bound stays at or below the claimed ε (``None`` without a claim)."""
        if self.epsilon_claimed is None:
            return None
        return self.epsilon_lower_bound <= self.epsilon_claimed


def epsilon_lower_bound(
    scores: np.ndarray, members: np.ndarray, confidence: float = 0.95
) -> tuple[float, int, int]:
    """The one-run audit's ε lower bound from canary scores (higher: more likely a member).

    For each number of guesses ``r`` tried (half on the highest scores as members,
    half on the lowest as non-members), the bound is the largest ε with
    ``P[Binomial(r, e**ε / (1 + e**ε)) >= correct] <= (1 - confidence) / tries``.

    Args:
        scores: One score per canary.
        members: Whether each canary was trained on.
        confidence: Confidence of the bound.

    Returns:
        The bound, and the guesses and correct guesses it came from.

    Example:
        >>> members = np.arange(200) < 100
        >>> epsilon_lower_bound(members.astype(float), members)[0] > 2  # a perfect attack
        True
        >>> rng = np.random.default_rng(0)
        >>> epsilon_lower_bound(rng.random(200), members)[0]  # a blind one
        0.0
    """
    scores = np.asarray(scores, dtype=float)
    members = np.asarray(members, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    n = len(scores)
    alpha = (1.0 - confidence) / len(_GUESS_SHARES)
    best = (0.0, 0, 0)
    for share in _GUESS_SHARES:
        half = max(int(share * n) // 2, 1)
        guessed_in, guessed_out = order[:half], order[n - half :]
        correct = int(members[guessed_in].sum() + (~members[guessed_out]).sum())
        bound = _largest_epsilon(2 * half, correct, alpha)
        if bound > best[0]:
            best = (bound, 2 * half, correct)
    return best


def _largest_epsilon(guesses: int, correct: int, alpha: float) -> float:
    """The largest ε whose chance of ``correct`` or more right guesses is at most ``alpha``."""

    def tail(epsilon: float) -> float:
        p = 1.0 / (1.0 + math.exp(-epsilon))
        return float(binom.sf(correct - 1, guesses, p))

    if tail(0.0) > alpha:
        return 0.0
    low, high = 0.0, 1.0
    while tail(high) <= alpha and high < 64:
        low, high = high, 2 * high
    for _ in range(50):
        middle = (low + high) / 2
        if tail(middle) <= alpha:
            low = middle
        else:
            high = middle
    return low


def privacy_audit(
    model: Any,
    data: pd.DataFrame | SequenceDataset,
    *,
    n_canaries: int = 200,
    context: pd.DataFrame | None = None,
    metadata: Metadata | None = None,
    confidence: float = 0.95,
    random_state: int = 0,
) -> AuditResult:
    """Fit ``model`` once with half of ``n_canaries`` canaries and bound its ε from below.

    Args:
        model: An unfitted synthesizer (a table model, or a sequence model for
            sequences); a copy is fitted, ``model`` itself is left untouched.
        data: The real table, or sequences (canaries are then whole entities).
        n_canaries: Canaries drawn from the data; half are trained on.
        context: Sequences only: one row per entity, keyed by the sequence key.
        metadata: Column kinds of a table.
        confidence: Confidence of the bound.
        random_state: Seed of the canaries, the fit and the attack.

    Returns:
        The :class:`AuditResult`.

    Raises:
        EvaluationError: For fewer rows or entities than twice the canaries, or
            too few canaries to bound anything.

    Example:
        >>> import synthkit
        >>> from synthkit.datasets import load_adult
        >>> data = load_adult().sample(600, random_state=0)
        >>> model = synthkit.Synthesizer("ar", epochs=1, verbose=False)
        >>> result = privacy_audit(model, data, n_canaries=100)
        >>> result.unit, result.attack, result.epsilon_lower_bound >= 0
        ('row', 'likelihood', True)
    """
    if n_canaries < 20 or n_canaries % 2:
        raise EvaluationError(
            f"n_canaries={n_canaries!r}: use an even number of at least 20 (half are "
            "trained on); fewer cannot bound anything."
        )
    rng = np.random.default_rng(random_state)
    fitted = copy.deepcopy(model)
    if hasattr(fitted, "random_state"):
        fitted.random_state = random_state
    if isinstance(data, SequenceDataset):
        scores, members, attack, unit = _audit_sequences(
            fitted, data, context, n_canaries, rng, random_state
        )
    else:
        scores, members, attack, unit = _audit_table(
            fitted, data, metadata, n_canaries, rng, random_state
        )
    bound, guesses, correct = epsilon_lower_bound(scores, members, confidence)
    return AuditResult(
        epsilon_lower_bound=bound,
        epsilon_claimed=getattr(fitted, "epsilon_spent_", None),
        n_canaries=n_canaries,
        guesses=guesses,
        correct=correct,
        attack=attack,
        unit=unit,
        confidence=confidence,
    )


def _split_canaries(
    n: int, n_canaries: int, rng: np.random.Generator, what: str
) -> tuple[np.ndarray, np.ndarray]:
    if n < 2 * n_canaries:
        raise EvaluationError(
            f"The data has {n} {what}; an audit with {n_canaries} canaries needs at least "
            f"{2 * n_canaries}. Pass fewer canaries (n_canaries=...)."
        )
    canaries = rng.choice(n, n_canaries, replace=False)
    members = np.zeros(n_canaries, dtype=bool)
    members[rng.permutation(n_canaries)[: n_canaries // 2]] = True
    return canaries, members


def _audit_table(
    model: Any,
    data: pd.DataFrame,
    metadata: Metadata | None,
    n_canaries: int,
    rng: np.random.Generator,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, str, str]:
    canaries, members = _split_canaries(len(data), n_canaries, rng, "rows")
    left_out = np.zeros(len(data), dtype=bool)
    left_out[canaries[~members]] = True
    train = data[~left_out].reset_index(drop=True)
    model.fit(train, metadata)
    rows = data.iloc[canaries].reset_index(drop=True)
    if "log_prob" in getattr(model, "capabilities", ()):
        return np.asarray(model.log_prob(rows), dtype=float), members, "likelihood", "row"
    synthetic = model.sample(len(train), random_state=seed)
    scored = EvaluationData(rows, synthetic, metadata=model.metadata_, random_state=seed)
    return _closeness(scored), members, "distance", "row"


def _audit_sequences(
    model: Any,
    data: SequenceDataset,
    context: pd.DataFrame | None,
    n_canaries: int,
    rng: np.random.Generator,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, str, str]:
    from synthkit.evaluation.sequences import SequenceEvaluationData

    key = data.sequence_key
    entities = pd.unique(context[key]) if context is not None else pd.unique(data.data[key])
    canaries, members = _split_canaries(len(entities), n_canaries, rng, "entities")
    left_out = entities[canaries[~members]]
    chosen = entities[canaries]
    events = data.data
    train = SequenceDataset(
        events[~events[key].isin(left_out)].reset_index(drop=True),
        key,
        data.sequence_index,
        metadata=data.metadata,
        context_metadata=getattr(data, "context_metadata", None),
    )
    train_context = None if context is None else context[~context[key].isin(left_out)]
    model.fit(train, context=train_context)
    synthetic = model.sample(len(entities) - len(left_out), random_state=seed)
    canary_events = SequenceDataset(
        events[events[key].isin(chosen)].reset_index(drop=True),
        key,
        data.sequence_index,
        metadata=data.metadata,
    )
    contexts = None
    if context is not None:
        contexts = {"real": context[context[key].isin(chosen)], "synthetic": synthetic.context}
    scored = SequenceEvaluationData(canary_events, synthetic, context=contexts, random_state=seed)
    # Entity feature rows follow the canaries' entity order: map scores back to it.
    closeness = pd.Series(_closeness(scored.entities), index=scored.entities.real.index)
    return closeness.reindex(chosen).to_numpy(), members, "distance", "entity"


def _closeness(data: EvaluationData) -> np.ndarray:
    """Minus each real row's distance to its nearest synthetic row (higher: more exposed)."""
    distances, _ = nearest_l1(data.encoded("real"), data.encoded("synthetic"), k=1)
    return -distances[:, 0]
