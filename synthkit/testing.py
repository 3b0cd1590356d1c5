"""A conformance kit for generators: the contract checks synthkit runs on its own models.

A third-party model registered through the ``synthkit.generators`` entry point
(or with ``GENERATORS.register``) can be checked the way synthkit checks its
four models, like scikit-learn's ``check_estimator``::

    from synthkit.testing import check_synthesizer

    def test_my_model_follows_the_contract():
        check_synthesizer("my-model")

Each check is a function ``check_<what>(kit)``; a failure raises
:class:`AssertionError` naming the check and the model.

Example:
    >>> from synthkit.testing import CHECKS
    >>> [check.__name__ for check in CHECKS][:3]
    ['check_registered', 'check_constructor_only_stores', 'check_params_round_trip']
"""

from __future__ import annotations

import inspect
import io
import json
import pickle
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import (
    ConditionError,
    ModelFileError,
    NotFittedError,
    ParameterError,
    SynthkitError,
)
from synthkit.generators.base import BaseSynthesizer, Synthesizer
from synthkit.generators.persistence import load_model
from synthkit.generators.registry import GENERATORS

__all__ = ["CHECKS", "KNOWN_CAPABILITIES", "Kit", "check_synthesizer"]

#: Capabilities a model may declare, each with the method it promises.
KNOWN_CAPABILITIES = frozenset({"log_prob", "impute"})

#: Settings of a quick fit, applied where the model takes them.
_QUICK = {"epochs": 1, "device": "cpu", "verbose": False, "random_state": 0}


@dataclass
class Kit:
    """The model under test, its quick-fit parameters and data; fits are cached.

    Args:
        cls: The model class.
        params: Constructor parameters of a quick fit.
        data: A small real table to fit on.
    """

    cls: type[BaseSynthesizer]
    params: dict[str, Any]
    data: pd.DataFrame
    _fitted: dict[str, Any] = field(default_factory=dict)

    def new(self, **overrides: Any) -> Any:
        """A fresh, unfitted model with the quick parameters and ``overrides``."""
        return self.cls(**{**self.params, **overrides})

    def fitted(self) -> Any:
        """The model fitted once on the kit's data (shared by the checks that only read)."""
        if "model" not in self._fitted:
            self._fitted["model"] = self.new().fit(self.data)
        return self._fitted["model"]


def check_registered(kit: Kit) -> None:
    """The class is registered under its ``name`` and ``Synthesizer(name)`` builds it."""
    name = kit.cls.name
    assert name, "the class sets no registered name (class attribute `name`)"
    assert name in GENERATORS, f"{name!r} is not registered; call GENERATORS.register"
    assert GENERATORS.get(name) is kit.cls, f"{name!r} is registered to another class"
    if issubclass(kit.cls, Synthesizer):
        assert type(Synthesizer(name)) is kit.cls, f"Synthesizer({name!r}) builds another class"


def check_constructor_only_stores(kit: Kit) -> None:
    """``__init__`` stores each parameter as given, and every parameter has a constraint."""
    signature = inspect.signature(kit.cls.__init__)
    defaults = {
        p.name: p.default
        for p in signature.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    missing = [n for n, d in defaults.items() if d is inspect.Parameter.empty]
    assert not missing, f"parameters {missing} have no default; every parameter needs one"
    model = kit.cls()
    for name, default in defaults.items():
        assert getattr(model, name) is default, (
            f"__init__ changed parameter {name!r}: stored {getattr(model, name)!r}, "
            f"given {default!r}; __init__ must only store its parameters"
        )
    undeclared = sorted(set(defaults) - set(kit.cls._constraints()))
    assert not undeclared, f"parameters {undeclared} declare no _parameter_constraints"


def check_params_round_trip(kit: Kit) -> None:
    """``get_params``/``set_params`` round-trip, unknown names are refused, ``clone`` works."""
    model = kit.new()
    params = model.get_params()
    assert params == {**kit.cls().get_params(), **kit.params}, "get_params misses parameters"
    assert model.set_params(**params) is model, "set_params must return self"
    try:
        model.set_params(no_such_parameter=1)
    except ParameterError as error:
        assert "no_such_parameter" in str(error), "the error must name the unknown parameter"
    else:
        raise AssertionError("set_params accepted an unknown parameter")
    try:
        from sklearn.base import clone
    except ImportError:  # scikit-learn is optional for the core
        return
    copy = clone(model)
    assert copy is not model and copy.get_params() == params, "sklearn clone changed parameters"
    assert repr(model).startswith(kit.cls.__name__ + "("), "repr must name the class"


def check_invalid_params_refused(kit: Kit) -> None:
    """A parameter outside its constraints raises ``ParameterError`` naming it, at fit."""
    for name, value in (("epochs", 0), ("batch_size", -1), ("verbose", "yes")):
        if name not in kit.cls().get_params():
            continue
        try:
            kit.new(**{name: value}).fit(kit.data)
        except ParameterError as error:
            assert f"{name}=" in str(error), f"the error for {name}={value!r} must name it"
        else:
            raise AssertionError(f"fit accepted {name}={value!r}")


def check_not_fitted(kit: Kit) -> None:
    """Sampling or saving before ``fit`` raises ``NotFittedError``."""
    model = kit.new()
    calls: dict[str, Callable[[], Any]] = {
        "sample": lambda: model.sample(5),
        "save": lambda: model.save(Path(tempfile.mkdtemp()) / "m.synthkit"),
    }
    for capability in sorted(KNOWN_CAPABILITIES & kit.cls.capabilities):
        calls[capability] = lambda c=capability: getattr(model, c)(kit.data.head(5))
    for what, call in calls.items():
        try:
            call()
        except NotFittedError:
            continue
        raise AssertionError(f"{what}() before fit did not raise NotFittedError")


def check_fit_returns_self(kit: Kit) -> None:
    """``fit`` returns the model itself and records the number of rows."""
    model = kit.fitted()
    assert isinstance(model, kit.cls)
    assert model.n_rows_fitted_ == len(kit.data), "n_rows_fitted_ must count the rows"


def check_sample_like_real(kit: Kit) -> None:
    """Samples have the real columns, in order, with their dtypes, and ``n`` rows."""
    sample = kit.fitted().sample(200, random_state=0)
    assert isinstance(sample, pd.DataFrame), "sample must return a DataFrame"
    assert len(sample) == 200, f"sample(200) returned {len(sample)} rows"
    assert list(sample.columns) == list(kit.data.columns), "columns or their order differ"
    differ = {
        c: (str(kit.data[c].dtype), str(sample[c].dtype))
        for c in kit.data.columns
        if kit.data[c].dtype != sample[c].dtype
    }
    assert not differ, f"dtypes differ (real, synthetic): {differ}"
    for bad in (0, -3, 2.5):
        try:
            kit.fitted().sample(bad)
        except ParameterError:
            continue
        raise AssertionError(f"sample({bad!r}) did not raise ParameterError")


def check_reproducible(kit: Kit) -> None:
    """Equal seeds give equal fits and samples; a different sample seed gives other rows."""
    model = kit.fitted()
    again = kit.new().fit(kit.data)
    first = model.sample(100, random_state=1)
    pd.testing.assert_frame_equal(first, again.sample(100, random_state=1), check_exact=True)
    pd.testing.assert_frame_equal(first, model.sample(100, random_state=1), check_exact=True)
    assert not first.equals(model.sample(100, random_state=2)), "the sample seed is ignored"


def check_save_load(kit: Kit) -> None:
    """A saved model loads with its parameters and samples identically."""
    model = kit.fitted()
    path = model.save(Path(tempfile.mkdtemp()) / "model.synthkit")
    loaded = load_model(path)
    assert type(loaded) is type(model), "load_model built another class"
    assert loaded.get_params() == model.get_params(), "parameters changed in the file"
    pd.testing.assert_frame_equal(
        loaded.sample(100, random_state=3), model.sample(100, random_state=3), check_exact=True
    )


def check_model_file_refuses_pickle(kit: Kit) -> None:
    """The model file is JSON and safetensors only; a pickle in it is refused unread."""
    path = kit.fitted().save(Path(tempfile.mkdtemp()) / "model.synthkit")
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        json.loads(archive.read("model.json"))
    assert names == ["model.json", "weights.safetensors"], f"unexpected entries {names}"
    crafted = path.with_name("crafted.synthkit")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.json", pickle.dumps({"a": 1}))
        archive.writestr("weights.safetensors", pickle.dumps({"a": 1}))
    crafted.write_bytes(buffer.getvalue())
    try:
        load_model(crafted)
    except ModelFileError:
        return
    raise AssertionError("a model file holding pickles was loaded")


def check_conditions(kit: Kit) -> None:
    """A condition on a common category is met in every row; a bad column is refused."""
    model = kit.fitted()
    learned = [c for c in kit.data.columns if model.metadata_.kind(c) == "categorical"]
    if learned:
        column = learned[0]
        value = kit.data[column].value_counts().index[0]
        rows = model.sample(50, conditions={column: value}, random_state=4)
        assert len(rows) == 50, f"a condition on {column!r} gave {len(rows)} rows"
        assert (rows[column] == value).all(), f"rows break the condition {column}={value!r}"
    try:
        model.sample(5, conditions={"no such column": 1})
    except ConditionError:
        return
    raise AssertionError("a condition on an unknown column was accepted")


def check_capabilities(kit: Kit) -> None:
    """Declared capabilities are known, their methods exist exactly then, and they work."""
    declared = kit.cls.capabilities
    unknown = sorted(set(declared) - KNOWN_CAPABILITIES)
    assert not unknown, f"unknown capabilities {unknown}; known: {sorted(KNOWN_CAPABILITIES)}"
    model = kit.fitted()
    for capability in sorted(KNOWN_CAPABILITIES):
        has = callable(getattr(model, capability, None))
        assert has == (capability in declared), (
            f"{capability!r} is {'not ' if has else ''}declared but the method "
            f"{'exists' if has else 'is missing'}"
        )
    rows = kit.data.dropna().head(20)
    if "log_prob" in declared:
        scores = np.asarray(model.log_prob(rows))
        assert scores.shape == (len(rows),), "log_prob must give one score per row"
        assert np.isfinite(scores).all(), "log_prob gave non-finite scores"
    if "impute" in declared:
        gappy = rows.copy()
        column = gappy.columns[0]
        gappy.loc[gappy.index[:5], column] = None
        filled = model.impute(gappy, random_state=0)
        assert not filled[column].isna().any(), "impute left gaps"
        untouched = gappy.index[5:]
        pd.testing.assert_frame_equal(filled.loc[untouched], rows.loc[untouched])


#: Every check, in the order :func:`check_synthesizer` runs them.
CHECKS: tuple[Callable[[Kit], None], ...] = (
    check_registered,
    check_constructor_only_stores,
    check_params_round_trip,
    check_invalid_params_refused,
    check_not_fitted,
    check_fit_returns_self,
    check_sample_like_real,
    check_reproducible,
    check_save_load,
    check_model_file_refuses_pickle,
    check_conditions,
    check_capabilities,
)


def check_synthesizer(
    model: str | type[BaseSynthesizer],
    params: Mapping[str, Any] | None = None,
    data: pd.DataFrame | None = None,
) -> list[str]:
    """Run every contract check on a registered model; raise on the first failure.

    Args:
        model: A registered name or the model class.
        params: Constructor parameters of a quick fit, over ``epochs=1``,
            ``device="cpu"``, ``verbose=False`` and ``random_state=0``.
        data: A small real table; default 600 rows of the bundled Adult census data.

    Returns:
        The names of the checks run, all passed.

    Raises:
        AssertionError: Naming the failed check, the model and what went wrong.

    Example:
        >>> from synthkit.testing import check_synthesizer
        >>> check_synthesizer("tvae", params={"batch_size": 100})[-1]
        'check_capabilities'
    """
    cls = GENERATORS.get(model) if isinstance(model, str) else model
    if not (isinstance(cls, type) and issubclass(cls, BaseSynthesizer)):
        raise SynthkitError(f"check_synthesizer needs a model class or name, got {model!r}.")
    if data is None:
        from synthkit.datasets import load_adult

        data = load_adult().sample(600, random_state=0).reset_index(drop=True)
    taken = set(cls._param_names())
    quick = {k: v for k, v in _QUICK.items() if k in taken}
    kit = Kit(cls, {**quick, **dict(params or {})}, data)
    passed = []
    for check in CHECKS:
        try:
            check(kit)
        except AssertionError as error:
            raise AssertionError(f"{check.__name__} failed for {cls.__name__}: {error}") from None
        except Exception as error:
            raise AssertionError(
                f"{check.__name__} failed for {cls.__name__}: {type(error).__name__}: {error}"
            ) from error
        passed.append(check.__name__)
    return passed
