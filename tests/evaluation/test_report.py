"""Report: dict, frame, JSON round trip, gates and a self-contained, escaped HTML page."""

from __future__ import annotations

import json
import math

import pytest

import synthkit
from synthkit.errors import ParameterError, UnknownNameError
from synthkit.evaluation import Report


@pytest.fixture(scope="module")
def report(small_split):
    return synthkit.evaluate(
        small_split["train"],
        small_split["fresh"],
        holdout=small_split["holdout"],
        metrics=[
            "column_shapes",
            "column_pair_trends",
            "alpha_precision",
            "beta_recall",
            "exact_match_rate",
            "exact_match_rate_holdout",
            "dcr_share",
            "singling_out_risk",
            "inference_risk",
        ],
        max_rows=1000,
    )


def test_to_dict_and_frame_carry_direction_and_explanation(report):
    scores = report.to_dict()
    frame = report.to_frame()
    assert list(frame.index) == list(scores)
    assert frame.loc["dcr_share", "direction"] == 0.5
    assert frame.loc["column_shapes", "direction"] == "higher"
    assert frame.loc["exact_match_rate_holdout", "direction"] == "reference"
    assert frame["explanation"].str.len().gt(10).all()
    low, high = report.intervals["singling_out_risk"]
    assert frame.loc["singling_out_risk", "low"] == low
    assert frame.loc["singling_out_risk", "high"] == high
    assert math.isnan(frame.loc["column_shapes", "low"])


def test_json_round_trip(report, tmp_path):
    path = tmp_path / "report.json"
    text = report.to_json(path)
    assert path.read_text() == text
    payload = json.loads(text)
    assert payload["scores"] == pytest.approx(report.to_dict())
    again = Report.from_json(path)
    assert again.to_dict() == pytest.approx(report.to_dict())
    assert (
        again.details["column_shapes"]["columns"].keys()
        == report.details["column_shapes"]["columns"].keys()
    )
    assert again.to_json() == text


def test_failed_write_leaves_the_old_file(report, tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    path.write_text("previous")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("pathlib.Path.write_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        report.to_json(path)
    assert path.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_gates(report):
    gates = report.check(
        {
            "column_shapes": 0.9,
            "dcr_share": 0.55,
            "exact_match_rate": 0.0,
            "exact_match_rate_holdout": (0.0, 0.05),
            "tstr_auc": 0.8,
        }
    )
    assert gates["column_shapes"].passed and gates["dcr_share"].passed
    assert gates["exact_match_rate_holdout"].passed
    assert not gates["tstr_auc"].passed
    assert gates["tstr_auc"].reason == "not computed (not requested)"
    assert not gates.passed
    assert {g.metric for g in gates.failures} >= {"tstr_auc"}
    strict = report.check({"dcr_share": 0.5000001, "column_shapes": 0.99999})
    assert not strict["column_shapes"].passed
    assert "higher is better" in strict["column_shapes"].reason


def test_gate_errors(report):
    with pytest.raises(UnknownNameError, match="Did you mean 'dcr_share'"):
        report.check({"dcr_shares": 0.5})
    with pytest.raises(ParameterError, match="baseline"):
        report.check({"exact_match_rate_holdout": 0.01})
    with pytest.raises(ParameterError, match="use a number or a"):
        report.check({"dcr_share": "0.5"})


def test_html_is_self_contained_with_every_section(report, tmp_path):
    path = tmp_path / "report.html"
    page = report.to_html(path)
    assert path.read_text(encoding="utf-8") == page
    for section in (
        "Scorecard",
        "Column distributions",
        "Pairwise trends",
        "Privacy",
        "Sample-level fidelity",
    ):
        assert section in page
    assert page.count('data-plot="distribution:') == 15
    assert 'data-plot="pair-trend-heatmap"' in page
    assert 'data-plot="privacy-risks"' in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<link" not in page


def test_html_escapes_column_names_and_values():
    import pandas as pd

    frame = pd.DataFrame(
        {"<script>alert(1)</script>": ["<b>x</b>", "y", "y", "x"], "n": [1.0, 2.0, 3.0, 4.0]}
    )
    page = synthkit.evaluate(frame, frame, metrics=["column_shapes"]).to_html()
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>x</b>" not in page


def _results():
    from hypothesis import strategies as st

    from synthkit.evaluation import MetricResult

    score = st.floats(allow_nan=True, allow_infinity=False, width=64)
    interval = st.none() | st.tuples(st.floats(0, 1), st.floats(0, 1))
    details = st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3)
    result = st.builds(MetricResult, score, interval, details)
    return st.dictionaries(st.sampled_from(["column_shapes", "dcr_share", "tstr_auc"]), result)


def test_json_round_trip_property():
    from hypothesis import given, settings

    @settings(max_examples=50, deadline=None)
    @given(_results())
    def check(results):
        info = {name: {"direction": "higher", "category": "fidelity"} for name in results}
        report = Report(results, info, {"nndr": "needs holdout"}, {"rows": {"real": 3}})
        again = Report.from_json(report.to_json())
        assert again.to_json() == report.to_json()
        for name, result in results.items():
            value = again.results[name].value
            assert (math.isnan(value) and math.isnan(result.value)) or value == result.value
            assert again.results[name].interval == result.interval
            assert again.details[name] == result.details
        assert again.skipped == report.skipped

    check()
