"""Bad input ends in a SynthkitError naming what is wrong and the fix, never a raw traceback."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import synthkit
from synthkit.errors import (
    ConditionError,
    DataError,
    MetadataError,
    NotFittedError,
    ParameterError,
    SynthkitError,
    UnknownNameError,
)
from synthkit.generators import GENERATORS

# Floats compare exactly (pandas' default is a relative 1e-5).
assert_frame_equal = functools.partial(pd.testing.assert_frame_equal, check_exact=True)
assert_series_equal = functools.partial(pd.testing.assert_series_equal, check_exact=True)


NAMES = GENERATORS.names()


def raises(error: type[SynthkitError], call: Callable[[], Any], *fragments: str) -> str:
    """Run ``call``; it must raise ``error`` (a SynthkitError) whose message has every fragment."""
    assert issubclass(error, SynthkitError)
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


@pytest.fixture(scope="module")
def data(adult: pd.DataFrame) -> pd.DataFrame:
    return adult.head(600).reset_index(drop=True)


@pytest.fixture(scope="module")
def tvae(fitted):
    return fitted("tvae")


# ------------------------------------------------------------------ the frame
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "frame",
    [pd.DataFrame(), pd.DataFrame({"age": pd.Series([], dtype=int)}), pd.DataFrame(index=[0, 1])],
    ids=["0x0", "0 rows", "0 columns"],
)
def test_empty_frame(name: str, make_model, frame: pd.DataFrame) -> None:
    raises(DataError, lambda: make_model(name).fit(frame), "empty", "at least one row")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "value", [np.zeros((5, 2)), [{"a": 1}], "adult.csv", None], ids=["array", "list", "str", "none"]
)
def test_not_a_dataframe(name: str, make_model, value: object) -> None:
    raises(DataError, lambda: make_model(name).fit(value), "pandas DataFrame", type(value).__name__)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fill", [np.nan, None, pd.NaT], ids=["nan", "none", "nat"])
def test_all_null_column(name: str, make_model, data: pd.DataFrame, fill: object) -> None:
    frame = data.assign(bonus=fill)
    raises(DataError, lambda: make_model(name).fit(frame), "'bonus'", "no values", "drop(")


@pytest.mark.parametrize("name", NAMES)
def test_mixed_type_object_column(name: str, make_model, data: pd.DataFrame) -> None:
    codes = pd.Series([7, "seven"] * (len(data) // 2), dtype=object)
    frame = data.assign(code=codes)
    raises(DataError, lambda: make_model(name).fit(frame), "'code'", "int", "str", "astype(str)")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_values(name: str, make_model, data: pd.DataFrame, value: float) -> None:
    hours = data["hours_per_week"].astype(float)
    hours.iloc[3] = value
    frame = data.assign(hours_per_week=hours)
    raises(
        DataError, lambda: make_model(name).fit(frame), "'hours_per_week'", "infinite", "replace"
    )


def test_duplicate_and_non_string_column_names(make_model, data: pd.DataFrame) -> None:
    twice = pd.concat([data[["age"]], data[["age"]]], axis=1)
    raises(DataError, lambda: make_model("tvae").fit(twice), "['age']", "rename")
    numbered = pd.DataFrame({0: data["age"], 1: data["sex"]})
    raises(DataError, lambda: make_model("tvae").fit(numbered), "strings", "astype(str)")


def test_text_in_a_column_declared_numerical(make_model, data: pd.DataFrame) -> None:
    metadata = synthkit.Metadata.detect(data).update_column("sex", kind="numerical")
    raises(
        DataError,
        lambda: make_model("tvae").fit(data, metadata),
        "'sex'",
        "non-numeric",
        "pd.to_numeric",
    )


def test_datetime_that_does_not_parse(make_model) -> None:
    frame = pd.DataFrame({"day": ["2020-01-02", "2020-13-45"] * 20, "x": range(40)})
    metadata = synthkit.Metadata(
        {"day": {"kind": "datetime", "format": "%Y-%m-%d"}, "x": {"kind": "numerical"}}
    )
    raises(DataError, lambda: make_model("tvae").fit(frame, metadata), "'day'", "format")


def test_metadata_naming_a_missing_column(make_model, data: pd.DataFrame) -> None:
    metadata = synthkit.Metadata.detect(data.assign(extra=1))
    raises(MetadataError, lambda: make_model("tvae").fit(data, metadata), "['extra']")


def test_metadata_missing_a_data_column(make_model, data: pd.DataFrame) -> None:
    metadata = synthkit.Metadata.detect(data.drop(columns="age"))
    raises(MetadataError, lambda: make_model("tvae").fit(data, metadata), "'age'")


def test_metadata_of_the_wrong_type(make_model, data: pd.DataFrame) -> None:
    raises(MetadataError, lambda: make_model("tvae").fit(data, {"columns": {}}), "Metadata")


# ----------------------------------------------------------------- parameters
@pytest.mark.parametrize("device", ["gpu", "cuda", "cuda:3", "tpu", "mps"])
def test_invalid_or_missing_device(make_model, data: pd.DataFrame, device: str) -> None:
    raises(ParameterError, lambda: make_model("tvae", device=device).fit(data), repr(device))


def test_batch_size_not_a_multiple_of_pac(make_model, data: pd.DataFrame) -> None:
    raises(
        ParameterError,
        lambda: make_model("ctgan", batch_size=55, pac=10).fit(data),
        "batch_size=55",
        "pac=10",
        "batch_size=50",
    )


def test_pac_zero(make_model, data: pd.DataFrame) -> None:
    raises(ParameterError, lambda: make_model("ctgan", pac=0).fit(data), "pac=0")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("parameter", "value"),
    [("epochs", 0), ("epochs", 2.5), ("batch_size", -10), ("batch_size", "500"), ("patience", 0)],
)
def test_invalid_training_parameters(name, make_model, data, parameter: str, value) -> None:
    model = make_model(name, **{parameter: value})
    raises(ParameterError, lambda: model.fit(data), f"{parameter}={value!r}")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [-1, 1.5, "seven", True], ids=["negative", "float", "str", "bool"])
def test_invalid_random_state(name: str, make_model, fitted, data, seed) -> None:
    raises(ParameterError, lambda: make_model(name, random_state=seed).fit(data), "random_state")
    raises(ParameterError, lambda: fitted(name).sample(5, random_state=seed), "random_state")


def test_unknown_model_name_suggests_the_closest() -> None:
    message = raises(UnknownNameError, lambda: synthkit.Synthesizer("ctgna"), "'ctgna'")
    assert "Did you mean 'ctgan'?" in message
    assert all(name in message for name in NAMES)
    raises(ParameterError, lambda: synthkit.Synthesizer(), "Name a model", "ctgan")


def test_unknown_parameter_is_a_type_error_of_the_constructor() -> None:
    """Like scikit-learn, an unknown keyword fails at construction, naming the keyword."""
    with pytest.raises(TypeError, match="epoch"):
        synthkit.Synthesizer("ctgan", epoch=3)


# --------------------------------------------------------------------- sample
@pytest.mark.parametrize("n", [0, -5, 2.5, "10", None, True], ids=repr)
def test_invalid_n(tvae, n) -> None:
    raises(ParameterError, lambda: tvae.sample(n), f"n={n!r}", "positive integer")


def test_numpy_integer_n_is_fine(tvae) -> None:
    assert len(tvae.sample(np.int64(4))) == 4


@pytest.mark.parametrize("name", NAMES)
def test_sample_before_fit(name: str) -> None:
    model = synthkit.Synthesizer(name)
    raises(NotFittedError, lambda: model.sample(10), "not been fitted", "fit(data)")


def test_unknown_condition_column_and_category(tvae) -> None:
    raises(ConditionError, lambda: tvae.sample(5, conditions={"salary": 1}), "'salary'")
    raises(
        ConditionError,
        lambda: tvae.sample(5, conditions={"workclass": "Astronaut"}),
        "'workclass'",
        "'Astronaut'",
        "known values include",
    )


def test_errors_keep_numpy_and_torch_out_of_sight(make_model, data: pd.DataFrame) -> None:
    """The chained cause, if any, is not a numpy/torch/pandas internal error users must read."""
    hours = data["hours_per_week"].astype(float)
    hours.iloc[0] = np.inf
    with pytest.raises(DataError) as caught:
        make_model("tvae").fit(data.assign(hours_per_week=hours))
    assert caught.value.__cause__ is None or caught.value.__suppress_context__


# ------------------------------------------------------------ constant columns
@pytest.mark.parametrize("name", NAMES)
def test_constant_columns_are_handled(name: str, make_model, data: pd.DataFrame) -> None:
    frame = data.assign(
        region="EU",
        weight=1.5,
        flag=True,
        since=pd.Timestamp("2020-01-01", tz="Europe/Paris"),
    )
    synthetic = make_model(name, epochs=1).fit(frame).sample(100, random_state=0)
    assert_series_equal(synthetic.dtypes, frame.dtypes)
    for column in ("region", "weight", "flag", "since"):
        assert (synthetic[column] == frame[column].iloc[0]).all(), column


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("rows", [1, 50])
def test_frame_of_constant_columns(name: str, make_model, rows: int) -> None:
    frame = pd.DataFrame({"a": [3] * rows, "b": ["x"] * rows})
    try:
        synthetic = make_model(name, epochs=1).fit(frame).sample(5)
    except SynthkitError as error:  # a clear refusal is acceptable too
        assert re.search(r"constant|one row|nothing to learn", str(error))
        return
    assert_frame_equal(synthetic, pd.DataFrame({"a": [3] * 5, "b": ["x"] * 5}))
