"""Conditional sampling: exact counts and values, ranges, and clear errors."""

from __future__ import annotations

import functools

import pandas as pd
import pytest

from synthkit.errors import ConditionError
from synthkit.generators import GENERATORS

# Floats compare exactly (pandas' default is a relative 1e-5).
assert_frame_equal = functools.partial(pd.testing.assert_frame_equal, check_exact=True)


NAMES = GENERATORS.names()
NATIVE = [name for name in NAMES if GENERATORS.get(name).native_conditions]


@pytest.fixture(scope="module")
def ctgan(fitted):
    return fitted("ctgan")


def rare_value(data: pd.DataFrame, column: str, below: float) -> str:
    """The most frequent value of ``column`` rarer than ``below`` (a share of rows)."""
    shares = data[column].value_counts(normalize=True)
    return str(shares[shares < below].index[0])


# ------------------------------------------------------ native (CTGAN) exactness
def test_ctgan_10k_rows_of_one_income(ctgan) -> None:
    rows = ctgan.sample(10_000, conditions={"income": ">50K"}, random_state=0)
    assert len(rows) == 10_000
    assert (rows["income"] == ">50K").all()
    assert rows.index.equals(pd.RangeIndex(10_000))


def test_ctgan_rare_category_below_half_a_percent(ctgan, adult: pd.DataFrame) -> None:
    country = rare_value(adult, "native_country", 0.005)
    share = (adult["native_country"] == country).mean()
    assert 0 < share < 0.005
    rows = ctgan.sample(10_000, conditions={"native_country": country}, random_state=1)
    assert len(rows) == 10_000
    assert (rows["native_country"] == country).all()


def test_ctgan_every_category_of_a_small_column(ctgan, adult: pd.DataFrame) -> None:
    for race in adult["race"].unique():
        rows = ctgan.sample(500, conditions={"race": race}, random_state=2)
        assert len(rows) == 500
        assert (rows["race"] == race).all(), race


def test_ctgan_missing_value_as_a_category(ctgan, adult: pd.DataFrame) -> None:
    assert adult["workclass"].isna().any()
    rows = ctgan.sample(300, conditions={"workclass": None}, random_state=3)
    assert len(rows) == 300
    assert rows["workclass"].isna().all()


def test_ctgan_list_of_values_follows_training_frequencies(ctgan, adult: pd.DataFrame) -> None:
    wanted = ["Husband", "Wife", "Unmarried"]
    rows = ctgan.sample(6000, conditions={"relationship": wanted}, random_state=4)
    assert len(rows) == 6000
    assert set(rows["relationship"]) == set(wanted)
    real = adult["relationship"][adult["relationship"].isin(wanted)].value_counts(normalize=True)
    made = rows["relationship"].value_counts(normalize=True)
    assert (made - real).abs().max() < 0.03  # spread by training frequency


def test_ctgan_two_categories_and_a_range(ctgan) -> None:
    rows = ctgan.sample(
        400,
        conditions={"sex": "Female", "income": ">50K", "hours_per_week": (30, 50)},
        random_state=5,
    )
    assert len(rows) == 400
    assert (rows["sex"] == "Female").all() and (rows["income"] == ">50K").all()
    assert rows["hours_per_week"].between(30, 50).all()


# --------------------------------------------------------- every model: rejection
@pytest.mark.parametrize("name", NAMES)
def test_numeric_range(name: str, fitted) -> None:
    rows = fitted(name).sample(1000, conditions={"age": (30, 40)}, random_state=6)
    assert len(rows) == 1000
    assert rows["age"].between(30, 40).all()
    assert rows["age"].nunique() > 1


@pytest.mark.parametrize("name", NAMES)
def test_open_ended_range(name: str, fitted) -> None:
    rows = fitted(name).sample(500, conditions={"age": (None, 35)}, random_state=7)
    assert len(rows) == 500 and (rows["age"] <= 35).all()


@pytest.mark.parametrize("name", NAMES)
def test_category_and_range(name: str, fitted) -> None:
    rows = fitted(name).sample(500, conditions={"sex": "Male", "age": (25, 45)}, random_state=8)
    assert len(rows) == 500
    assert (rows["sex"] == "Male").all()
    assert rows["age"].between(25, 45).all()


@pytest.mark.parametrize("name", NAMES)
def test_common_category(name: str, fitted) -> None:
    rows = fitted(name).sample(1000, conditions={"income": ">50K"}, random_state=9)
    assert len(rows) == 1000 and (rows["income"] == ">50K").all()


@pytest.mark.parametrize("name", NAMES)
def test_conditioned_samples_are_reproducible(name: str, fitted) -> None:
    model = fitted(name)
    conditions = {"sex": "Female", "age": (20, 60)}
    first = model.sample(200, conditions=conditions, random_state=10)
    assert_frame_equal(first, model.sample(200, conditions=conditions, random_state=10))


@pytest.mark.parametrize("name", NATIVE)
def test_datetime_range_on_integer_dates(name: str, make_model, cdnow: pd.DataFrame) -> None:
    """CDNOW dates are yyyymmdd integers: a date range comes back as such integers."""
    data = cdnow.sample(3000, random_state=0).reset_index(drop=True)
    model = make_model(name, epochs=1).fit(data)
    rows = model.sample(300, conditions={"date": ("1997-02-01", "1997-03-31")}, random_state=0)
    assert len(rows) == 300
    assert rows["date"].dtype == data["date"].dtype
    assert rows["date"].between(19970201, 19970331).all()


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("conditions", "column", "fix"),
    [
        ({"incomee": ">50K"}, "incomee", "the columns are"),
        ({"income": ">60K"}, "income", "known values include '<=50K', '>50K'"),
        ({"income": []}, "income", "lists no values"),
        ({"income": (0, 1)}, "income", "ask for a value or a list"),
        ({"age": (40, 30)}, "age", "empty"),
        ({"age": (200, 300)}, "age", "outside the training values"),
        ({"age": "thirty"}, "age", "condition on a number"),
        ({"age": (1, 2, 3)}, "age", "needs (low, high)"),
    ],
)
def test_condition_errors_name_the_column(fitted, conditions, column: str, fix: str) -> None:
    model = fitted("ctgan")
    with pytest.raises(ConditionError) as caught:
        model.sample(10, conditions=conditions)
    message = str(caught.value)
    assert repr(column) in message
    assert fix in message


def test_conditions_must_be_a_mapping(ctgan) -> None:
    with pytest.raises(ConditionError, match="must be a dict"):
        ctgan.sample(10, conditions=[("income", ">50K")])


@pytest.mark.parametrize("name", NAMES)
def test_never_learned_columns_cannot_be_conditioned_on(name: str, make_model, adult) -> None:
    data = adult.head(600).assign(
        member_id=range(10_000, 10_600),
        email=[f"person{i}@example.org" for i in range(600)],
    )
    model = make_model(name, epochs=1).fit(data)
    assert model.metadata_.kind("member_id") == "id"
    assert model.metadata_.kind("email") == "pii"
    for column, value in (("member_id", 10_001), ("email", "person1@example.org")):
        with pytest.raises(ConditionError, match=f"'{column}'.*never learn"):
            model.sample(5, conditions={column: value})


@pytest.mark.parametrize("name", NAMES)
def test_constant_column_conditions(name: str, make_model, adult) -> None:
    model = make_model(name, epochs=1).fit(adult.head(500).assign(batch=7))
    assert (model.sample(20, conditions={"batch": 7}, random_state=0)["batch"] == 7).all()
    with pytest.raises(ConditionError, match="'batch' only ever takes the value 7"):
        model.sample(20, conditions={"batch": 8})


@pytest.mark.parametrize("name", NAMES)
def test_unmeetable_conditions_name_the_column(name: str, fitted) -> None:
    """Age is an integer column: 30.5 lies inside the range but is never generated."""
    with pytest.raises(ConditionError) as caught:
        fitted(name).sample(10, conditions={"age": 30.5})
    assert "'age'" in str(caught.value)


@pytest.mark.parametrize(
    "name",
    NAMES,
)
def test_unobserved_category_of_a_category_dtype_is_refused(name: str, make_model, adult) -> None:
    grade = pd.Categorical(
        (adult["age"].head(800) > 40).map({True: "senior", False: "junior"}),
        categories=["junior", "senior", "retired"],
    )
    model = make_model(name, epochs=1).fit(adult.head(800).assign(grade=grade))
    with pytest.raises(ConditionError, match="'grade'"):
        model.sample(5, conditions={"grade": "retired"})


_POOLING = [n for n in NAMES if "rare_category_threshold" in GENERATORS.get(n)._param_names()]


@pytest.mark.parametrize(
    "name",
    _POOLING,
)
def test_condition_on_a_pooled_rare_category_is_met_or_refused(
    name: str, make_model, adult: pd.DataFrame
) -> None:
    counts = adult["native_country"].value_counts()
    pooled = str(counts[counts < 20].index[0])  # the most frequent of the pooled values
    model = make_model(name, epochs=1, rare_category_threshold=20).fit(adult)
    try:
        rows = model.sample(200, conditions={"native_country": pooled}, random_state=0)
    except ConditionError as error:  # refusing is fine: the value was pooled for privacy
        assert "'native_country'" in str(error)
        return
    assert len(rows) == 200
    assert (rows["native_country"] == pooled).all()
