"""A declared formula: a column computed from others, in plain and private fits.

The NAFLD patients record ``bmi`` next to ``weight`` (kg) and ``height`` (cm);
the real values carry rounding, so they differ from the formula by up to 0.3.
"""

from __future__ import annotations

import json
import math
import warnings
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import synthkit
from synthkit.errors import ConditionError, ParameterError
from synthkit.metadata import Metadata
from synthkit.rules import Formula, RuleError, rule_from_dict, share_held
from synthkit.rules._transform import RuleTransform
from tests.conftest import DATA

BMI = "weight / (height / 100) ** 2"
YEARS = "`fu.days` / 365.25"


@pytest.fixture(scope="module")
def nafld() -> pd.DataFrame:
    """300 NAFLD patients; ``fu.years`` is the follow-up in whole years (int64)."""
    frame = pd.read_csv(DATA / "nafld1_sample.csv.gz").rename(columns={"futime": "fu.days"})
    frame["fu.years"] = (frame["fu.days"] / 365.25).round().astype("int64")
    return frame


def _metadata(frame: pd.DataFrame) -> Metadata:
    metadata = Metadata.detect(frame, rules=False)
    metadata.add_rule("formula", column="bmi", expression=BMI)
    metadata.add_rule("formula", column="fu.years", expression=YEARS, decimals=0)
    return metadata


def _bmi(frame: pd.DataFrame) -> pd.Series:
    return frame["weight"] / (frame["height"] / 100) ** 2


def _assert_bmi_is_the_formula(synthetic: pd.DataFrame) -> None:
    expected = _bmi(synthetic)
    present = synthetic["bmi"].notna()
    assert np.allclose(synthetic.loc[present, "bmi"], expected[present], rtol=1e-12)
    # Missing where weight or height is, or where the model drew "no bmi".
    assert synthetic.loc[expected.isna(), "bmi"].isna().all()


@pytest.fixture(scope="module")
def fitted(nafld: pd.DataFrame) -> synthkit.Synthesizer:
    model = synthkit.Synthesizer("ar", epochs=2, random_state=0, verbose=False, device="cpu")
    return model.fit(nafld, metadata=_metadata(nafld))


# ------------------------------------------------------------------ a fitted model
def test_every_sampled_bmi_is_the_formula_of_its_weight_and_height(
    fitted: synthkit.Synthesizer, nafld: pd.DataFrame
) -> None:
    synthetic = fitted.sample(600, random_state=1)

    _assert_bmi_is_the_formula(synthetic)
    real_missing = nafld["bmi"].isna().mean()
    assert abs(synthetic["bmi"].isna().mean() - real_missing) < 0.1
    columns = ["bmi", "weight", "height", "fu.years"]
    assert synthetic[columns].dtypes.equals(nafld[columns].dtypes)
    rule = fitted.metadata_.rules[0]
    assert share_held(rule, synthetic, fitted.metadata_.columns) == 1.0
    # Real rows carry rounding: the fit takes them, and the rule is a definition.
    assert share_held(rule, nafld, fitted.metadata_.columns) < 0.5


def test_an_integer_column_with_decimals_0_comes_back_in_whole_years(
    fitted: synthkit.Synthesizer,
) -> None:
    synthetic = fitted.sample(300, random_state=2)

    assert synthetic["fu.years"].dtype == np.int64
    expected = np.round(synthetic["fu.days"] / 365.25)
    assert (synthetic["fu.years"] == expected).all()


def test_conditions_go_on_what_the_formula_reads(fitted: synthkit.Synthesizer) -> None:
    with pytest.raises(ConditionError, match=r"Cannot condition on column 'bmi'.*weight, height"):
        fitted.sample(10, conditions={"bmi": (20, 30)})
    rows = fitted.sample(30, conditions={"weight": (60, 80)}, random_state=3)
    assert rows["weight"].between(60, 80).all()
    _assert_bmi_is_the_formula(rows)


def test_the_transform_keeps_no_real_value_and_round_trips(nafld: pd.DataFrame) -> None:
    rules = RuleTransform.fit(nafld, _metadata(nafld))
    forward = rules.forward(nafld)
    assert forward["bmi"].tolist() == nafld["bmi"].notna().tolist()
    assert rules.state()["steps"][0] == {
        "rule": {"kind": "formula", "column": "bmi", "expression": BMI},
        "dtype": "float64",
        "integer": False,
    }
    back = RuleTransform.from_state(json.loads(json.dumps(rules.state()))).inverse(forward)
    assert back.dtypes.equals(nafld.dtypes)
    assert back["fu.years"].equals(nafld["fu.years"])
    assert np.allclose(back["bmi"], nafld["bmi"], atol=0.5, equal_nan=True)


def test_a_nullable_integer_column_stays_nullable(nafld: pd.DataFrame) -> None:
    frame = nafld.assign(pounds=(nafld["weight"] * 2.20462).round().astype("Int64"))
    metadata = Metadata.detect(frame, rules=False)
    metadata.add_rule("formula", column="pounds", expression="weight * 2.20462")
    rules = RuleTransform.fit(frame, metadata)

    back = rules.inverse(rules.forward(frame))

    assert back["pounds"].dtype == "Int64"
    assert back["pounds"].equals(frame["pounds"])


# ------------------------------------------------------------ differential privacy
def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def test_a_private_fit_keeps_the_formula_and_stores_no_real_bmi(
    nafld: pd.DataFrame, tmp_path
) -> None:
    metadata = _metadata(nafld)
    model = synthkit.Synthesizer(
        "ar", epsilon=4.0, epochs=1, random_state=0, verbose=False, device="cpu"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # narrow noisy ranges on 300 rows
        model.fit(nafld, metadata=metadata)

    assert model.metadata_.rules == metadata.rules
    path = model.save(tmp_path / "m.synthkit")
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("model.json"))
    numbers = {float(v) for v in _leaves(manifest) if isinstance(v, (int, float))}
    real_bmi = set(nafld["bmi"].dropna().astype(float))
    assert not numbers & real_bmi, sorted(numbers & real_bmi)
    reloaded = synthkit.load_model(path)
    synthetic = reloaded.sample(200, random_state=4)
    assert synthetic.equals(model.sample(200, random_state=4))
    _assert_bmi_is_the_formula(synthetic)


def test_a_private_fit_still_refuses_other_declared_rules(nafld: pd.DataFrame) -> None:
    metadata = _metadata(nafld).add_rule("inequality", low="weight", high="height")
    model = synthkit.Synthesizer("ar", epsilon=4.0, epochs=1, verbose=False, device="cpu")
    with pytest.raises(ParameterError, match=r"declares \[Inequality\(height >= weight\)\]"):
        model.fit(nafld, metadata=metadata)


def test_detection_never_proposes_a_formula(nafld: pd.DataFrame) -> None:
    assert not any(isinstance(rule, Formula) for rule in Metadata.detect(nafld).rules)


# ------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "a.b",
        "a[0]",
        '"x"',
        "lambda: 1",
        "open('f')",
        "a < b",
        "a if b else c",
        "log(a, base=2)",
        "round(a, b)",
        "a % 2",
        "True + a",
        "(a := 2)",
        "[a][0]",
    ],
)
def test_expressions_other_than_arithmetic_are_refused(expression: str) -> None:
    with pytest.raises(RuleError, match=r"Formula for 'x': .* is not"):
        Formula("x", expression)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"column": "bmi", "expression": "weight / height_m ** 2"}, "'height_m'.*not in the"),
        ({"column": "bmi", "expression": "weight * male"}, "needs numerical columns"),
        ({"column": "bmi", "expression": "bmi * 2"}, "reads 'bmi' itself"),
        ({"column": "bmi", "expression": "2 * 3"}, "reads no column"),
        ({"column": "bmi", "expression": "`weight * 2"}, "unmatched or empty backtick"),
        ({"column": "bmi", "expression": BMI, "decimals": 1.5}, "decimals=1.5"),
        ({"column": "bmi", "expression": BMI, "share": 0.9}, "takes the parameters"),
    ],
)
def test_bad_formulas_are_refused_with_the_reason(
    nafld: pd.DataFrame, params: dict, message: str
) -> None:
    with pytest.raises(RuleError, match=message):
        Metadata.detect(nafld, rules=False).add_rule("formula", **params)


def test_a_formula_column_is_derived_by_no_other_rule(nafld: pd.DataFrame) -> None:
    metadata = Metadata.detect(nafld, rules=False).add_rule("formula", column="bmi", expression=BMI)
    with pytest.raises(RuleError, match=r"derives column 'bmi'.*Drop one"):
        metadata.add_rule("sum", total="bmi", parts=["weight", "height"])


def test_backticks_quote_column_names_that_are_not_identifiers() -> None:
    rule = Formula("total", "`case.id` * 2 + `min` - min(`a b`, 3)")
    assert rule.anchors == ("case.id", "min", "a b")
    values = {"case.id": np.array([1.0]), "min": np.array([5.0]), "a b": np.array([7.0])}
    assert rule.evaluate(values).tolist() == [4.0]


# ------------------------------------------------------------------ property-based
_NAMES = ("a", "b", "c")
_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "/": lambda x, y: x / y,
    "//": lambda x, y: x // y,
}
_Term = tuple[str, Callable[[dict[str, float]], float]]


def _leaf() -> st.SearchStrategy[_Term]:
    names = st.sampled_from(_NAMES).map(lambda n: (n, lambda row, n=n: row[n]))
    numbers = st.floats(0.1, 100, allow_nan=False).map(lambda v: (repr(v), lambda row, v=v: v))
    return names | numbers


def _extend(terms: st.SearchStrategy[_Term]) -> st.SearchStrategy[_Term]:
    def binary(left: _Term, op: str, right: _Term) -> _Term:
        f, g, apply = left[1], right[1], _BINARY[op]
        return f"({left[0]} {op} {right[0]})", lambda row: apply(f(row), g(row))

    def power(term: _Term, exponent: int) -> _Term:
        return f"({term[0]}) ** {exponent}", lambda row: term[1](row) ** exponent

    def negative(term: _Term) -> _Term:
        return f"-({term[0]})", lambda row: -term[1](row)

    return (
        st.builds(binary, terms, st.sampled_from(sorted(_BINARY)), terms)
        | st.builds(power, terms, st.sampled_from([2, 3]))
        | st.builds(negative, terms)
    )


def _python(term: _Term, row: dict[str, float]) -> float:
    try:
        return term[1](row)
    except (ZeroDivisionError, OverflowError):
        return math.nan


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(_leaf(), _extend, max_leaves=8).filter(lambda t: any(n in t[0] for n in _NAMES)),
    st.lists(st.tuples(*[st.floats(-1e3, 1e3)] * 3), min_size=1, max_size=8),
)
def test_expressions_evaluate_like_python_arithmetic(
    term: _Term, rows: list[tuple[float, float, float]]
) -> None:
    rule = Formula("x", term[0])
    assert rule_from_dict(rule.to_dict()) == rule
    assert set(rule.anchors) <= set(_NAMES)
    values = {name: np.array([row[i] for row in rows]) for i, name in enumerate(_NAMES)}
    got = rule.evaluate(values)
    expected = np.array([_python(term, dict(zip(_NAMES, row, strict=True))) for row in rows])
    finite = np.isfinite(expected)
    assert np.allclose(got[finite], expected[finite], rtol=1e-9, atol=1e-12)


def test_a_formula_takes_its_column_before_a_range_s_implied_bound_order() -> None:
    # ``visit`` lies between ``tstart`` and ``end``; ``end`` is defined as ``tstop``.
    cgd = pd.read_csv(DATA / "cgd.csv.gz")
    frame = cgd.assign(visit=(cgd["tstart"] + cgd["tstop"]) // 2, end=cgd["tstop"])
    metadata = Metadata.detect(frame, rules=False)
    metadata.add_rule("range", low="tstart", column="visit", high="end")
    metadata.add_rule("formula", column="end", expression="tstop + 0")
    model = synthkit.Synthesizer("ar", epochs=1, random_state=0, verbose=False, device="cpu")
    model.fit(frame, metadata=metadata)

    synthetic = model.sample(100, random_state=5)

    assert (synthetic["end"] == synthetic["tstop"]).all()
    assert synthetic["visit"].between(synthetic["tstart"], synthetic["end"]).all()
