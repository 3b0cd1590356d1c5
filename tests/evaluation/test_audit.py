"""The empirical privacy audit: canaries, a membership attack and a lower bound on ε."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import synthkit
from synthkit.errors import EvaluationError
from synthkit.evaluation.audit import epsilon_lower_bound, privacy_audit
from tests.conftest import DATA


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 100))
def test_more_correct_guesses_never_lower_the_bound(flipped: int) -> None:
    members = np.arange(200) < 100
    scores = members.astype(float)
    worse = scores.copy()
    worse[:flipped] = 0.0  # members scored like non-members: fewer right guesses
    assert epsilon_lower_bound(worse, members)[0] <= epsilon_lower_bound(scores, members)[0]


def test_a_blind_attack_proves_nothing_and_a_perfect_one_a_lot() -> None:
    rng = np.random.default_rng(1)
    members = rng.permutation(np.arange(400) < 200)
    assert epsilon_lower_bound(rng.random(400), members)[0] == 0.0
    bound, guesses, correct = epsilon_lower_bound(members.astype(float), members)
    assert bound > 3.0 and correct == guesses


@pytest.mark.slow
def test_a_private_model_stays_below_its_claim_and_an_overfitted_one_does_not(adult_full):
    data = adult_full.sample(800, random_state=0).reset_index(drop=True)
    private = synthkit.Synthesizer("ar", epsilon=1.0, epochs=5, verbose=False)
    audited = privacy_audit(private, data, n_canaries=200, random_state=0)
    assert audited.epsilon_claimed is not None and audited.epsilon_claimed <= 1.0
    assert audited.consistent and audited.epsilon_lower_bound < 1.0
    memorizing = synthkit.Synthesizer(
        "ar",
        epochs=60,
        batch_size=50,
        hidden_dim=256,
        value_protection=False,
        rare_category_threshold=0,
        verbose=False,
    )
    small = adult_full.sample(300, random_state=1).reset_index(drop=True)
    leaky = privacy_audit(memorizing, small, n_canaries=100, random_state=0)
    assert leaky.attack == "likelihood" and leaky.epsilon_claimed is None
    assert leaky.epsilon_lower_bound > 1.5


def test_sequences_are_audited_by_entity() -> None:
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz").drop(columns=["case.id"])
    labs = synthkit.SequenceDataset(pd.read_csv(DATA / "nafld2_sample.csv.gz"), "id", "days")
    model = synthkit.SequenceSynthesizer("ar", epochs=1, verbose=False, device="cpu")
    result = privacy_audit(model, labs, context=patients, n_canaries=100, random_state=0)
    assert result.unit == "entity" and result.attack == "distance"
    assert result.n_canaries == 100 and 0.0 <= result.epsilon_lower_bound < 5.0
    assert not hasattr(model, "n_rows_fitted_")  # the given model is left unfitted


def test_bad_canary_counts_are_refused(adult_full) -> None:
    model = synthkit.Synthesizer("ar", epochs=1, verbose=False)
    with pytest.raises(EvaluationError, match="even number"):
        privacy_audit(model, adult_full.head(500), n_canaries=21)
    with pytest.raises(EvaluationError, match="at least 400"):
        privacy_audit(model, adult_full.head(300), n_canaries=200)
