"""The generator contract, checked the same way for every registered model."""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import pytest
from faker import Faker
from sklearn.base import clone

import synthkit
from synthkit.errors import NotFittedError
from synthkit.generators import GENERATORS
from synthkit.testing import CHECKS, KNOWN_CAPABILITIES, check_synthesizer

# Floats compare exactly (pandas' default is a relative 1e-5).
assert_frame_equal = functools.partial(pd.testing.assert_frame_equal, check_exact=True)
assert_series_equal = functools.partial(pd.testing.assert_series_equal, check_exact=True)


NAMES = GENERATORS.names()


def assert_like_real(synthetic: pd.DataFrame, real: pd.DataFrame, n: int) -> None:
    """Real columns, order and dtypes; only real categories; numbers inside the real range."""
    assert len(synthetic) == n
    assert list(synthetic.columns) == list(real.columns)
    assert_series_equal(synthetic.dtypes, real.dtypes)
    for column in real.columns:
        values, seen = synthetic[column].dropna(), real[column].dropna()
        if pd.api.types.is_numeric_dtype(real[column]) and not pd.api.types.is_bool_dtype(
            real[column]
        ):
            assert values.min() >= seen.min(), column
            assert values.max() <= seen.max(), column
            if pd.api.types.is_integer_dtype(real[column]) or (seen == seen.round()).all():
                assert (values == values.round()).all(), column
        else:
            assert set(values) <= set(seen), column
        if not real[column].isna().any():
            assert not synthetic[column].isna().any(), column


def test_registry_lists_ctgan_and_tvae() -> None:
    assert {"ctgan", "tvae"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_synthesizer_builds_the_registered_class(name: str) -> None:
    cls = GENERATORS.get(name)
    model = synthkit.Synthesizer(name.upper(), epochs=7)
    assert type(model) is cls
    assert model.name == name
    assert type(synthkit.Synthesizer(model=name)) is cls
    assert isinstance(model, synthkit.Synthesizer)


@pytest.mark.parametrize("name", NAMES)
def test_fit_and_sample_on_adult(name: str, fitted, adult: pd.DataFrame) -> None:
    model = fitted(name)
    assert model.n_rows_fitted_ == len(adult)
    synthetic = model.sample(4000, random_state=0)
    assert_like_real(synthetic, adult, 4000)
    # Not a copy of one row: briefly trained models may collapse a category to its
    # mode, but the rows as a whole vary.
    assert len(synthetic.drop_duplicates()) > len(synthetic) // 2


@pytest.mark.parametrize("name", NAMES)
def test_fit_and_sample_on_lending_club(name: str, make_model, lending_club: pd.DataFrame) -> None:
    real = lending_club.sample(2500, random_state=0).reset_index(drop=True)
    model = make_model(name).fit(real)
    synthetic = model.sample(3000, random_state=1)
    learned = [c for c in real.columns if c != "rownames"]
    assert model.metadata_.kind("rownames") == "id"
    assert_like_real(synthetic[learned], real[learned], 3000)
    assert list(synthetic.columns) == list(real.columns)
    assert synthetic["rownames"].is_unique
    assert not synthetic["rownames"].isin(real["rownames"]).any()
    # The rare bad-loan label is among the generated classes.
    assert set(synthetic["Class"]) <= set(real["Class"])


# ------------------------------------------------------------ reproducibility
@pytest.mark.parametrize("name", NAMES)
def test_same_seeds_give_identical_frames(name: str, make_model, adult: pd.DataFrame) -> None:
    data = adult.head(1000)
    first = make_model(name, epochs=2, random_state=11).fit(data).sample(300, random_state=5)
    second = make_model(name, epochs=2, random_state=11).fit(data).sample(300, random_state=5)
    assert_frame_equal(first, second)


@pytest.mark.parametrize("name", NAMES)
def test_different_fit_seeds_give_different_models(
    name: str, make_model, adult: pd.DataFrame
) -> None:
    data = adult.head(1000)
    first = make_model(name, epochs=2, random_state=11).fit(data).sample(300, random_state=5)
    other = make_model(name, epochs=2, random_state=12).fit(data).sample(300, random_state=5)
    assert not first.equals(other)


@pytest.mark.parametrize("name", NAMES)
def test_sample_seeds(name: str, fitted) -> None:
    model = fitted(name)
    same = model.sample(500, random_state=3)
    assert_frame_equal(same, model.sample(500, random_state=3))
    assert not same.equals(model.sample(500, random_state=4))
    generator = np.random.default_rng(0)  # a numpy Generator is accepted and advanced
    assert not model.sample(50, random_state=generator).equals(
        model.sample(50, random_state=generator)
    )


@pytest.mark.parametrize("name", NAMES)
def test_sampling_leaves_global_random_state_alone(name: str, fitted) -> None:
    import torch

    state = torch.get_rng_state()
    fitted(name).sample(100, random_state=1)
    assert torch.equal(state, torch.get_rng_state())


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize("name", NAMES)
def test_init_stores_parameters_unchanged(name: str) -> None:
    cls = GENERATORS.get(name)
    odd = {key: object() for key in cls._param_names()}  # no logic may touch them
    model = cls(**odd)
    for key, value in odd.items():
        assert getattr(model, key) is value
    assert model.get_params() == odd


@pytest.mark.parametrize("name", NAMES)
def test_get_set_params_and_clone(name: str) -> None:
    model = synthkit.Synthesizer(name, epochs=4, batch_size=50, random_state=3)
    params = model.get_params()
    assert params["epochs"] == 4 and params["batch_size"] == 50 and params["random_state"] == 3
    assert model.set_params(epochs=9) is model
    assert model.get_params()["epochs"] == 9
    twin = clone(model)
    assert type(twin) is type(model) and twin is not model
    assert twin.get_params() == model.get_params()
    with pytest.raises(synthkit.errors.ParameterError, match="no_such"):
        model.set_params(no_such=1)


@pytest.mark.parametrize("name", NAMES)
def test_clone_of_fitted_model_is_unfitted(name: str, fitted) -> None:
    twin = clone(fitted(name))
    assert not hasattr(twin, "encoder_")
    with pytest.raises(NotFittedError):
        twin.sample(1)


# ---------------------------------------------------------------- training loop
@pytest.mark.parametrize("name", NAMES)
def test_loss_history_has_one_row_per_epoch(name: str, fitted) -> None:
    model = fitted(name)
    history = model.loss_history_
    assert len(history) == model.epochs
    assert history["epoch"].tolist() == list(range(1, model.epochs + 1))
    losses = history.drop(columns="epoch")
    assert losses.shape[1] >= 1
    assert np.isfinite(losses.to_numpy()).all()


#: Parameters that freeze learning, so the monitored loss only wanders with the noise
#: of each batch and patience must end training early.
FROZEN = {
    "ctgan": {"generator_lr": 0.0, "discriminator_lr": 0.0},
    "tvae": {"learning_rate": 0.0},
}


@pytest.mark.parametrize("name", list(FROZEN))
def test_patience_stops_a_stalled_fit_early(name: str, make_model, adult: pd.DataFrame) -> None:
    """With learning frozen the loss stalls, so training stops long before ``epochs``; and
    since the first epoch always counts as an improvement, never before ``patience + 1``.
    """
    epochs, patience = 60, 2
    model = make_model(name, epochs=epochs, batch_size=500, patience=patience, **FROZEN[name])
    model.fit(adult.head(1000))
    stopped = len(model.loss_history_)
    assert patience < stopped < epochs


def replay_patience(values: list[float], patience: int, epochs: int) -> int:
    """The epoch at which the documented early-stopping rule ends training."""
    best, waited = math.inf, 0
    for epoch, value in enumerate(values, start=1):
        if not math.isfinite(best) or value < best - 1e-4 * abs(best):
            best, waited = value, 0
        else:
            waited += 1
            if waited >= patience:
                return epoch
    return epochs


def test_tvae_stops_where_its_loss_history_says(make_model, adult: pd.DataFrame) -> None:
    """Replay the rule on the recorded losses of a learning TVAE: it stops exactly there."""
    model = make_model("tvae", epochs=40, batch_size=500, patience=3).fit(adult.head(1000))
    losses = model.loss_history_["loss"].tolist()
    assert len(losses) == replay_patience(losses, patience=3, epochs=40)
    assert len(losses) > 3


@pytest.mark.parametrize("name", NAMES)
def test_without_patience_all_epochs_run(name: str, make_model, adult: pd.DataFrame) -> None:
    model = make_model(name, epochs=4, batch_size=500).fit(adult.head(1000))
    assert len(model.loss_history_) == 4


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_errors(name: str, tmp_path) -> None:
    model = synthkit.Synthesizer(name)
    for call in (lambda: model.sample(5), lambda: model.save(tmp_path / "m.synthkit")):
        with pytest.raises(NotFittedError, match=r"fit\(data\)"):
            call()
    assert not (tmp_path / "m.synthkit").exists()


@pytest.mark.parametrize("name", NAMES)
def test_verbose_false_prints_nothing_and_true_shows_progress(
    name: str, make_model, adult: pd.DataFrame, capsys
) -> None:
    data = adult.head(400)
    make_model(name, epochs=2, verbose=False).fit(data).sample(10)
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    make_model(name, epochs=2, verbose=True).fit(data)
    loud = capsys.readouterr()
    assert "epoch" in loud.err + loud.out  # the bar is real, so silence above means something


@pytest.mark.parametrize("name", NAMES)
def test_constant_column_is_learned_as_constant(name: str, make_model, adult: pd.DataFrame) -> None:
    data = adult.head(800).assign(country_code=44, source="census")
    synthetic = make_model(name, epochs=1).fit(data).sample(200, random_state=0)
    assert (synthetic["country_code"] == 44).all()
    assert (synthetic["source"] == "census").all()
    assert synthetic["country_code"].dtype == data["country_code"].dtype


# ------------------------------------------------------------------- PII and ids
@pytest.fixture(scope="module")
def customers(adult: pd.DataFrame) -> pd.DataFrame:
    """Adult rows with a customer id and a Faker email per row, as in a CRM export."""
    fake = Faker("en_US")
    fake.seed_instance(1)
    data = adult.head(1500).copy()
    data.insert(0, "customer_id", np.arange(500_000, 500_000 + len(data)) * 7)
    data["email"] = [fake.unique.email() for _ in range(len(data))]
    return data


@pytest.mark.parametrize("name", NAMES)
def test_ids_and_emails_are_regenerated_never_copied(
    name: str, make_model, customers: pd.DataFrame
) -> None:
    model = make_model(name, epochs=1).fit(customers)
    assert model.metadata_.kind("customer_id") == "id"
    assert model.metadata_.kind("email") == "pii"
    synthetic = model.sample(5000, random_state=0)
    assert list(synthetic.columns) == list(customers.columns)
    assert synthetic["customer_id"].is_unique
    assert synthetic["customer_id"].dtype == customers["customer_id"].dtype
    assert synthetic["email"].str.fullmatch(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}").all()
    assert not synthetic["customer_id"].isin(customers["customer_id"]).any()
    assert not synthetic["email"].isin(customers["email"]).any()
    assert synthetic["email"].nunique() > 4500  # varied, not a handful of placeholders


@pytest.mark.parametrize("name", NAMES)
def test_pii_with_drop_strategy_is_absent(name: str, make_model, customers: pd.DataFrame) -> None:
    metadata = synthkit.Metadata.detect(customers).update_column("email", strategy="drop")
    model = make_model(name, epochs=1).fit(customers, metadata)
    synthetic = model.sample(100, random_state=0)
    assert "email" not in synthetic.columns
    assert list(synthetic.columns) == [c for c in customers.columns if c != "email"]


# ------------------------------------------------------------ conformance kit
@pytest.mark.parametrize("name", NAMES)
def test_every_registered_model_passes_the_conformance_kit(
    name: str, make_model, adult: pd.DataFrame
) -> None:
    params = make_model(name, epochs=1).get_params()
    passed = check_synthesizer(name, params=params, data=adult.head(600))
    assert passed == [check.__name__ for check in CHECKS]


# --------------------------------------------------------------- capabilities
CAPABLE = [
    (name, capability)
    for name in NAMES
    for capability in sorted(KNOWN_CAPABILITIES)
    if capability in GENERATORS.get(name).capabilities
]


def test_capabilities_are_declared_by_the_models_that_have_them() -> None:
    assert ("autoregressive", "log_prob") in CAPABLE
    assert ("autoregressive", "impute") in CAPABLE
    assert ("flow", "log_prob") in CAPABLE
    for name in NAMES:
        cls = GENERATORS.get(name)
        for capability in KNOWN_CAPABILITIES:
            assert hasattr(cls, capability) == (capability in cls.capabilities), (name, capability)


@pytest.mark.parametrize(("name", "capability"), CAPABLE)
def test_declared_capability_works(name: str, capability: str, fitted, adult) -> None:
    model = fitted(name)
    rows = adult.tail(300).dropna().head(100).reset_index(drop=True)
    if capability == "log_prob":
        scores = model.log_prob(rows)
        assert scores.shape == (100,)
        assert np.isfinite(scores).all()
    else:
        gappy = rows.copy()
        gappy.loc[:9, "workclass"] = None
        filled = getattr(model, capability)(gappy, random_state=0)
        assert filled["workclass"].notna().all()
        assert_frame_equal(filled.iloc[10:], rows.iloc[10:].astype(filled.dtypes.to_dict()))


# ----------------------------------------------------------------- parameters
SHARED_BAD = [
    ("epochs", 0, "an integer >= 1"),
    ("batch_size", 2.5, "an integer >= 1"),
    ("patience", 0, "an integer >= 1 or None"),
    ("rare_category_threshold", -1, "an integer >= 0"),
    ("verbose", "yes", "True or False"),
    ("random_state", -3, "an integer >= 0"),
    ("device", 3, "a device name"),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("param", "value", "allowed"), SHARED_BAD)
def test_shared_parameters_are_checked_once_with_one_message(
    name: str, param: str, value, allowed: str, make_model, adult: pd.DataFrame
) -> None:
    model = make_model(name, **{param: value})
    with pytest.raises(synthkit.errors.ParameterError) as caught:
        model.fit(adult.head(100))
    message = str(caught.value)
    assert message.startswith(f"{type(model).__name__}: {param}={value!r} is not allowed")
    assert allowed in message
    assert not hasattr(model, "encoder_")
