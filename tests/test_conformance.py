"""The conformance kit catches models that break the contract, naming the check."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
import torch

from synthkit.errors import SynthkitError
from synthkit.generators import GENERATORS
from synthkit.generators.tvae import TVAE
from synthkit.testing import check_synthesizer


class _Unseeded(TVAE):
    """Samples from fresh noise whatever the seed: samples are not reproducible."""

    name = "unseeded-tvae"

    def _sample(self, n, context):
        torch.seed()  # reseeds from the OS: the caller's random_state is lost
        return super()._sample(n, context)


class _Converting(TVAE):
    """Turns a parameter into another type in __init__, which breaks get_params and clone."""

    name = "converting-tvae"

    def __init__(self, epochs: int = 300, compress_dims: tuple[int, ...] = (128, 128)) -> None:
        super().__init__(epochs=epochs)
        self.compress_dims = list(compress_dims)


@pytest.fixture
def registered() -> Iterator[None]:
    for cls in (_Unseeded, _Converting):
        GENERATORS.register(cls.name, cls)
    yield
    for cls in (_Unseeded, _Converting):
        GENERATORS._targets.pop(cls.name)


QUICK = {"epochs": 1, "batch_size": 100}


def test_a_model_that_ignores_the_seed_fails_the_reproducibility_check(
    registered, adult: pd.DataFrame
) -> None:
    with pytest.raises(AssertionError, match=r"^check_reproducible failed for _Unseeded"):
        check_synthesizer("unseeded-tvae", params=QUICK, data=adult.head(300))


def test_a_constructor_that_changes_a_parameter_fails_its_check(registered) -> None:
    with pytest.raises(
        AssertionError,
        match=r"^check_constructor_only_stores failed for _Converting: .*'compress_dims'",
    ):
        check_synthesizer(_Converting, params={"epochs": 1})


def test_an_unregistered_model_fails_the_registry_check(adult: pd.DataFrame) -> None:
    with pytest.raises(AssertionError, match=r"^check_registered failed .*not registered"):
        check_synthesizer(_Unseeded, params=QUICK, data=adult.head(300))


def test_the_kit_needs_a_model() -> None:
    with pytest.raises(SynthkitError, match="model class or name"):
        check_synthesizer(int)  # type: ignore[arg-type]
