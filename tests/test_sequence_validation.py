"""Early stopping of the sequence model on held-out entities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import synthkit
from synthkit.errors import ParameterError
from synthkit.generators.sequential import SequenceSynthesizer
from synthkit.generators.sequential import validation as validation_module
from synthkit.generators.sequential.ar import SequenceARSynthesizer
from synthkit.generators.sequential.network import SequenceNetwork
from synthkit.generators.sequential.validation import ValidationLoss, held_out_entities
from tests.test_sequence_lengths import cdnow_sample

SMALL = {"batch_size": 32, "state_dim": 32, "hidden_dim": 32, "verbose": False}
SMALL_CONTEXT = {"context_params": {"epochs": 2, "hidden_dim": 32}}


@pytest.fixture(scope="module")
def cdnow() -> tuple[pd.DataFrame, pd.DataFrame]:
    return cdnow_sample()


def _fit(cdnow, **params: object) -> SequenceSynthesizer:
    events, context = cdnow
    settings = {"epochs": 6, "random_state": 0, **SMALL, **SMALL_CONTEXT, **params}
    return synthkit.SequenceSynthesizer("ar", **settings).fit(
        events, context, sequence_key="customer_id", sequence_index="date"
    )


@pytest.fixture(scope="module")
def validated(cdnow) -> SequenceSynthesizer:
    # 401 customers: a quarter held out is about 100 entities.
    return _fit(cdnow, validation_split=0.25)


def test_best_epoch_is_the_lowest_held_out_loss(validated) -> None:
    history = validated.loss_history_
    assert list(history.columns) == ["epoch", "loss", "val_loss"]
    assert np.isfinite(history["val_loss"]).all() and (history["val_loss"] > 0).all()
    assert validated.best_epoch_ == int(history["val_loss"].idxmin()) + 1
    assert validated.layout_["validation"]["entities"] == 100


def test_saved_and_loaded_with_the_best_weights(validated, tmp_path) -> None:
    loaded = synthkit.load_model(validated.save(tmp_path / "cdnow.synthkit"))
    assert loaded.best_epoch_ == validated.best_epoch_
    pd.testing.assert_frame_equal(loaded.loss_history_, validated.loss_history_)
    pd.testing.assert_frame_equal(
        loaded.sample(30, random_state=4).data, validated.sample(30, random_state=4).data
    )


def test_validated_fit_is_reproducible(cdnow, validated) -> None:
    again = _fit(cdnow, validation_split=0.25)
    pd.testing.assert_frame_equal(again.loss_history_, validated.loss_history_)
    pd.testing.assert_frame_equal(
        again.sample(30, random_state=4).data, validated.sample(30, random_state=4).data
    )


def test_no_split_when_off_or_too_few_entities(cdnow) -> None:
    off = _fit(cdnow, epochs=2, validation_split=0)
    assert off.best_epoch_ is None and "val_loss" not in off.loss_history_
    assert off.layout_["validation"] is None
    # A tenth of 401 entities is under the 50 a held-out loss needs: all are trained.
    few = _fit(cdnow, epochs=2)
    assert few.best_epoch_ is None and len(few.loss_history_) == 2


def test_held_out_entities() -> None:
    torch.manual_seed(0)
    train, held = held_out_entities(600, 0.25, torch.device("cpu"))
    assert len(held) == 150 and len(train) == 450
    assert set(train.tolist()).isdisjoint(held.tolist())
    assert held_out_entities(600, None, torch.device("cpu")) is None
    assert held_out_entities(600, 0.0, torch.device("cpu")) is None
    assert held_out_entities(400, 0.1, torch.device("cpu")) is None


@pytest.mark.parametrize("share", [1.0, -0.1, "10%"])
def test_bad_validation_split(cdnow, share) -> None:
    with pytest.raises(ParameterError, match="validation_split"):
        _fit(cdnow, validation_split=share)


def test_held_out_loss_does_not_depend_on_its_batches(validated, monkeypatch) -> None:
    network = validated.network_
    n_columns = network.n_event_columns
    tokens = torch.zeros((5, n_columns), dtype=torch.long)
    lengths = torch.tensor([2, 0, 3])
    offsets = torch.tensor([0, 2, 2])
    context = torch.zeros((3, network.context_offsets.shape[0]), dtype=torch.long)
    whole = ValidationLoss(network, tokens, offsets, lengths, context, torch.arange(3))()
    monkeypatch.setattr(validation_module, "_BATCH_POSITIONS", 4)
    split = ValidationLoss(network, tokens, offsets, lengths, context, torch.arange(3))
    assert len(split.batches) == 3
    assert split() == pytest.approx(whole, rel=1e-5)


def _unfitted_with_network() -> SequenceARSynthesizer:
    model = SequenceARSynthesizer(epochs=10, verbose=False)
    model.network_ = SequenceNetwork([3], [], state_dim=4, hidden_dim=4)
    return model


def test_validated_epochs_stop_and_keep_the_best_weights() -> None:
    model = _unfitted_with_network()
    scores = iter([3.0, 2.0, 2.5, 2.6, 1.0, 0.5])
    snapshots = []

    def step() -> dict[str, torch.Tensor]:
        with torch.no_grad():
            model.network_.start.add_(1.0)  # each epoch's weights differ
        return {"loss": torch.tensor(1.0)}

    def validate() -> float:
        snapshots.append(model.network_.start.clone())
        return next(scores)

    best = model._run_epochs(
        1, step, monitor=lambda row: row["val_loss"], validate=validate, patience=2
    )
    assert best == 2
    assert list(model.loss_history_["val_loss"]) == [3.0, 2.0, 2.5, 2.6]  # stopped after two
    torch.testing.assert_close(model.network_.start, snapshots[1])


@pytest.mark.filterwarnings("ignore:.*noisy range")
def test_private_fit_holds_nothing_out(cdnow) -> None:
    pytest.importorskip("opacus")
    model = _fit(cdnow, epochs=1, epsilon=4.0, validation_split=0.25)
    assert model.best_epoch_ is None and "val_loss" not in model.loss_history_
