"""Rules between columns: declared, detected, serialized, and kept by every model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import synthkit
from synthkit.errors import ConditionError, SynthkitError
from synthkit.generators import GENERATORS
from synthkit.metadata import Metadata
from synthkit.processing.encoder import TableEncoder
from synthkit.rules import FixedCombinations, Inequality, Range, RuleError, Sum, share_held
from synthkit.rules._transform import RuleTransform

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def cgd() -> pd.DataFrame:
    """The cgd trial: 203 infection intervals, ``tstart < tstop`` in every row."""
    return pd.read_csv(DATA / "cgd.csv.gz")


@pytest.fixture(scope="module")
def cgd_plus(cgd: pd.DataFrame) -> pd.DataFrame:
    """cgd with columns that obey one rule of each kind.

    ``end_date`` (a date string) is at least ``random`` (datetime inequality),
    ``visit`` lies between ``tstart`` and ``tstop`` (range), ``size`` is
    ``height + weight`` (sum), and ``center``/``hos.cat`` are fixed combinations.
    """
    rng = np.random.default_rng(0)
    frame = cgd.copy()
    start = pd.to_datetime(frame["random"])
    frame["end_date"] = (start + pd.to_timedelta(frame["tstop"], unit="D")).dt.strftime("%Y-%m-%d")
    span = frame["tstop"] - frame["tstart"]
    frame["visit"] = frame["tstart"] + np.floor(rng.random(len(frame)) * span).astype(int)
    frame["size"] = (frame["height"] + frame["weight"]).round(1)
    return frame


def _declared(frame: pd.DataFrame) -> Metadata:
    metadata = Metadata.detect(frame, rules=False)
    metadata.add_rule("inequality", low="tstart", high="tstop", strict=True)
    metadata.add_rule("inequality", low="random", high="end_date")
    metadata.add_rule("range", low="tstart", column="visit", high="tstop")
    metadata.add_rule("sum", total="size", parts=["height", "weight"])
    metadata.add_rule("fixed_combinations", columns=["center", "hos.cat"])
    return metadata


def _combinations(frame: pd.DataFrame, columns: list[str]) -> set[tuple]:
    return set(frame[columns].astype(str).itertuples(index=False, name=None))


# ------------------------------------------------------------------ metadata
def test_add_rule_builds_each_kind_and_round_trips_through_json(cgd_plus: pd.DataFrame) -> None:
    metadata = _declared(cgd_plus)
    kinds = [type(rule) for rule in metadata.rules]
    assert kinds == [Inequality, Inequality, Range, Sum, FixedCombinations]
    again = Metadata.from_json(metadata.to_json())
    assert again == metadata
    assert again.rules == metadata.rules
    assert "tstop > tstart" in repr(metadata)
    # Rule objects work as well as kind names.
    other = Metadata.detect(cgd_plus, rules=False).add_rule(Inequality("tstart", "tstop"))
    assert other.rules == [Inequality("tstart", "tstop")]


def test_metadata_without_rules_serializes_as_before(cgd: pd.DataFrame) -> None:
    assert "rules" not in Metadata.detect(cgd, rules=False).to_dict()


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("ordering", {"low": "tstart", "high": "tstop"}, "Unknown rule kind"),
        ("inequality", {"low": "tstart", "high": "nope"}, "not in the metadata"),
        ("inequality", {"low": "tstart", "hi": "tstop"}, "takes the parameters"),
        ("inequality", {"low": "center", "high": "tstop"}, "needs numerical or datetime"),
        ("inequality", {"low": "random", "high": "tstop"}, "different kinds"),
        ("sum", {"total": "tstop", "parts": []}, "needs parts"),
        ("fixed_combinations", {"columns": ["center"]}, "at least two columns"),
        ("inequality", {"low": "tstart", "high": "tstop", "min_gap": "x"}, "must be a number"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(
    cgd: pd.DataFrame, kind: str, params: dict, message: str
) -> None:
    metadata = Metadata.detect(cgd, rules=False)
    with pytest.raises(RuleError, match=message):
        metadata.add_rule(kind, **params)


def test_rules_on_columns_that_are_never_learned_are_refused(cgd: pd.DataFrame) -> None:
    metadata = Metadata.detect(cgd, rules=False).update_column("tstart", kind="id")
    with pytest.raises(RuleError, match="never learned"):
        metadata.add_rule("inequality", low="tstart", high="tstop")
    # A kind changed after the rule was declared is caught at fit.
    metadata = Metadata.detect(cgd, rules=False).add_rule("inequality", low="tstart", high="tstop")
    metadata.update_column("tstop", kind="pii", pii_type="name")
    with pytest.raises(RuleError, match="never learned"):
        TableEncoder().fit(cgd, metadata)


# ------------------------------------------------------------------ detection
def test_detection_proposes_tstop_after_tstart_with_its_share(cgd: pd.DataFrame) -> None:
    rules = Metadata.detect(cgd).rules
    assert Inequality("tstart", "tstop", strict=True, share=1.0) in rules
    # Age in years and weight in kilos are not the same unit: no rule between them.
    assert not any({"age", "weight"} <= set(rule.columns) for rule in rules)
    # The centre determines its hospital category: only seen combinations.
    assert FixedCombinations(("center", "hos.cat"), share=1.0) in rules


def test_detection_skips_pairs_ordered_by_their_ranges_and_states_shares() -> None:
    rng = np.random.default_rng(1)
    n = 2_000
    admitted = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    stay = rng.integers(0, 20, n)
    stay[:50] = -1  # 2.5 % of discharges recorded before the admission
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": rng.integers(10_000, 90_000, n),  # always above age: says nothing
            "admitted": admitted,
            "discharged": admitted + pd.to_timedelta(stay, unit="D"),
        }
    )
    rules = Metadata.detect(frame).rules
    assert [r.columns for r in rules] == [("admitted", "discharged")]
    assert rules[0].strict is False
    assert rules[0].share == pytest.approx(0.975, abs=1e-3)


# ---------------------------------------------------------------- fit errors
def test_a_declared_rule_the_data_breaks_raises_naming_it_and_the_share(
    make_model,
    cgd: pd.DataFrame,
) -> None:
    metadata = Metadata.detect(cgd, rules=False).add_rule("inequality", low="tstop", high="tstart")
    with pytest.raises(RuleError, match=r"tstart >= tstop in 203 of 203 rows \(100.00 % viol"):
        make_model("ctgan").fit(cgd, metadata)
    assert issubclass(RuleError, SynthkitError)


def test_a_rule_held_by_most_rows_keeps_its_real_violations(cgd: pd.DataFrame) -> None:
    frame = cgd.copy()
    frame.loc[:4, "tstop"] = frame.loc[:4, "tstart"] - 3  # 5 of 203 rows break it
    metadata = Metadata.detect(frame)
    rule = next(r for r in metadata.rules if isinstance(r, Inequality) and r.high == "tstop")
    assert rule.share == pytest.approx(198 / 203, abs=1e-4)
    encoder = TableEncoder().fit(frame, metadata)
    back = encoder.decode(encoder.encode(frame, random_state=0, dtype=torch.float64))
    # The patient id repeats over a patient's rows: an identifier, regenerated.
    assert metadata.kind("id") == "id"
    learned = frame.drop(columns="id")
    assert back.drop(columns="id").equals(learned)  # negative gaps are learned, not clamped


# ------------------------------------------------------------ every model
@pytest.mark.parametrize("name", GENERATORS.names())
def test_every_model_keeps_every_rule_kind(make_model, name: str, cgd_plus: pd.DataFrame) -> None:
    metadata = _declared(cgd_plus)
    model = make_model(name).fit(cgd_plus, metadata)
    synthetic = model.sample(300, random_state=1)
    columns = metadata.columns
    for rule in metadata.rules:
        if isinstance(rule, FixedCombinations):
            seen = _combinations(cgd_plus, list(rule.columns))
            assert _combinations(synthetic, list(rule.columns)) <= seen
        else:
            assert share_held(rule, synthetic, columns) == 1.0, rule
    # Datetimes keep their dtype and format; every column keeps its dtype.
    assert synthetic.dtypes.equals(cgd_plus.dtypes)
    assert synthetic["end_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    # Conditions on columns a rule rewrites still hold, and so does the rule.
    rows = model.sample(40, conditions={"tstop": (100, 200)}, random_state=2)
    assert rows["tstop"].between(100, 200).all() and (rows["tstop"] > rows["tstart"]).all()
    rows = model.sample(20, conditions={"hos.cat": "US:other"}, random_state=3)
    assert (rows["hos.cat"] == "US:other").all()


@pytest.mark.parametrize("name", GENERATORS.names())
def test_a_range_alone_keeps_its_bounds_in_order(make_model, name: str, cgd_plus) -> None:
    # Without a declared tstart < tstop, a model left to draw both bounds freely would
    # swap them in some rows, where no value can lie between them.
    metadata = Metadata.detect(cgd_plus, rules=False)
    metadata.add_rule("range", low="tstart", column="visit", high="tstop")
    synthetic = make_model(name).fit(cgd_plus, metadata).sample(300, random_state=5)
    assert share_held(metadata.rules[0], synthetic, metadata.columns) == 1.0
    assert (synthetic["tstart"] <= synthetic["tstop"]).all()


@pytest.mark.parametrize("name", GENERATORS.names())
def test_detected_tstop_after_tstart_holds_as_often_as_in_real_rows(
    make_model, name: str, cgd: pd.DataFrame
) -> None:
    metadata = Metadata.detect(cgd)
    model = make_model(name).fit(cgd, metadata)
    synthetic = model.sample(500, random_state=4)
    real_share = float((cgd["tstop"] > cgd["tstart"]).mean())
    synthetic_share = float((synthetic["tstop"] > synthetic["tstart"]).mean())
    assert abs(real_share - synthetic_share) <= 0.01


def test_saved_models_keep_their_rules(make_model, cgd_plus: pd.DataFrame, tmp_path) -> None:
    metadata = _declared(cgd_plus)
    model = make_model("ctgan").fit(cgd_plus, metadata)
    loaded = synthkit.load_model(model.save(tmp_path / "cgd.synthkit"))
    synthetic = loaded.sample(200, random_state=5)
    assert all(share_held(r, synthetic, metadata.columns) == 1.0 for r in metadata.rules)
    assert loaded.sample(50, random_state=6).equals(model.sample(50, random_state=6))


def test_a_rule_the_rewrite_cannot_take_is_kept_by_rejection(make_model, cgd: pd.DataFrame) -> None:
    frame = cgd.assign(onset=cgd["tstart"] - 1)
    metadata = Metadata.detect(frame, rules=False)
    metadata.add_rule("inequality", low="tstart", high="tstop", strict=True)
    metadata.add_rule("inequality", low="onset", high="tstop")  # tstop derived twice
    model = make_model("ctgan").fit(frame, metadata)
    assert model.encoder_.rules_.checked == [metadata.rules[1]]
    synthetic = model.sample(100, random_state=7)
    assert all(share_held(r, synthetic, metadata.columns) == 1.0 for r in metadata.rules)
    # tstop near its minimum with tstart near its maximum breaks tstop > tstart.
    with pytest.raises(ConditionError, match="rows met the conditions"):
        model.sample(10, conditions={"tstop": (4, 5), "tstart": (300, 373)}, random_state=8)


def test_rare_combinations_leave_no_trace(cgd: pd.DataFrame) -> None:
    frame = cgd.copy()
    frame.loc[0, ["center", "hos.cat"]] = ["Rare Clinic", "Europe: other"]
    metadata = Metadata.detect(frame, rules=False)
    metadata.add_rule("fixed_combinations", columns=["center", "hos.cat"])
    encoder = TableEncoder(rare_category_threshold=5).fit(frame, metadata)
    assert "Rare Clinic" not in json.dumps(encoder.to_state())
    back = encoder.decode(encoder.encode(frame, random_state=0), random_state=0)
    seen = _combinations(cgd, ["center", "hos.cat"])
    assert _combinations(back, ["center", "hos.cat"]) <= seen


# --------------------------------------------------------------- transforms
_CITIES = {"Oslo": "NO", "Bergen": "NO", "Lyon": "FR", "Nice": "FR", "Rome": "IT"}


@st.composite
def _obeying_frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(2, 30))
    ints = st.integers(-10_000, 10_000)
    low = np.array(draw(st.lists(ints, min_size=n, max_size=n)))
    gap = np.array(draw(st.lists(st.integers(1, 5_000), min_size=n, max_size=n)))
    share = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    cents = st.integers(-(10**6), 10**6)
    part_a = np.array(draw(st.lists(cents, min_size=n, max_size=n))) / 100
    part_b = np.array(draw(st.lists(cents, min_size=n, max_size=n))) / 100
    days = np.array(draw(st.lists(st.integers(0, 20_000), min_size=n, max_size=n)))
    stay = np.array(draw(st.lists(st.integers(0, 400), min_size=n, max_size=n)))
    cities = draw(st.lists(st.sampled_from(sorted(_CITIES)), min_size=n, max_size=n))
    start = pd.Timestamp("1970-01-01") + pd.to_timedelta(days, unit="h")
    since = pd.Timestamp("2001-03-01", tz="Europe/Oslo") + pd.to_timedelta(days, unit="min")
    frame = pd.DataFrame(
        {
            "low": low,
            "high": low + gap,
            "mid": low + np.floor(share * gap).astype(np.int64),
            "a": part_a,
            "b": part_b,
            "total": np.round(part_a + part_b, 2),
            "admitted": start,
            "discharged": (start + pd.to_timedelta(stay, unit="h")).strftime("%Y-%m-%d %H:%M"),
            "since": since,
            "until": since + pd.to_timedelta(stay, unit="s"),
            "city": cities,
            "country": [_CITIES[c] for c in cities],
        }
    )
    missing = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    missing[0] = False  # an all-missing column is refused at fit
    frame.loc[np.array(missing), "a"] = np.nan
    frame["total"] = np.round(frame["a"].fillna(0) + frame["b"], 2)
    return frame


@settings(max_examples=40, deadline=None)
@given(_obeying_frames())
def test_rule_transforms_round_trip_exactly(frame: pd.DataFrame) -> None:
    columns = {
        **{c: {"kind": "numerical"} for c in ("low", "high", "mid", "a", "b", "total")},
        "admitted": {"kind": "datetime"},
        "discharged": {"kind": "datetime", "format": "%Y-%m-%d %H:%M"},
        "since": {"kind": "datetime"},
        "until": {"kind": "datetime"},
        "city": {"kind": "categorical"},
        "country": {"kind": "categorical"},
    }
    metadata = Metadata(columns)
    metadata.add_rule("inequality", low="low", high="high", strict=True)
    metadata.add_rule("inequality", low="admitted", high="discharged")
    metadata.add_rule("inequality", low="since", high="until", max_gap="400s")
    metadata.add_rule("range", low="low", column="mid", high="high")
    metadata.add_rule("sum", total="total", parts=["a", "b"])
    metadata.add_rule("fixed_combinations", columns=["city", "country"])
    rules = RuleTransform.fit(frame, metadata)
    forward = rules.forward(frame)
    assert (forward["high"] >= 1).all()
    assert forward["mid"].between(0, 1).all()
    assert (forward["total"] == 0).all()
    back = rules.inverse(forward)
    pd.testing.assert_frame_equal(back, frame)
    again = RuleTransform.from_state(rules.state())
    pd.testing.assert_frame_equal(again.inverse(again.forward(frame)), frame)
