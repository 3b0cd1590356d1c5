"""Evaluation of related tables on NAFLD patients with their lab tests and clinical events."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import synthkit
from synthkit.errors import EvaluationError
from synthkit.evaluation.record_fidelity import (
    children_per_parent,
    foreign_key_paths,
    pair_trends,
    valid_foreign_keys,
)
from synthkit.evaluation.record_privacy import multiset_hashes
from synthkit.evaluation.records import evaluate_records
from synthkit.evaluation.report import Report
from synthkit.schema import RecordDataset, Relationship

from .conftest import DATA

LINKS = [
    Relationship("patients", "labs", "id", "id"),
    Relationship("patients", "events", "id", "id"),
]
PRIVACY = ["dcr_share", "exact_match_rate", "mia_auc"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


FILES = {"patients": "nafld1", "labs": "nafld2", "events": "nafld3"}


@pytest.fixture(scope="module")
def nafld() -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(DATA / f"{stem}_sample.csv.gz") for name, stem in FILES.items()}


@pytest.fixture(scope="module")
def split(nafld) -> dict[str, RecordDataset]:
    """Patients split in three with all their rows: training, holdout and fresh."""
    order = np.random.default_rng(0).permutation(nafld["patients"]["id"].to_numpy())
    parts = {}
    for name, ids in zip(("train", "holdout", "fresh"), np.array_split(order, 3), strict=True):
        tables = {t: f[f["id"].isin(ids)].reset_index(drop=True) for t, f in nafld.items()}
        parts[name] = RecordDataset(tables, LINKS)
    return parts


def tables_of(db: RecordDataset) -> dict[str, pd.DataFrame]:
    return {name: frame.copy() for name, frame in db.tables.items()}


def three_levels(tables: dict[str, pd.DataFrame]) -> RecordDataset:
    """Patients -> visits (a patient's lab tests of one day) -> lab results."""
    labs = tables["labs"]
    visits = labs[["id", "days"]].drop_duplicates().reset_index(drop=True)
    visits.insert(0, "visit", np.arange(len(visits)) + 10 * int(labs["id"].max()))
    results = labs.merge(visits, on=["id", "days"])[["visit", "test", "value"]]
    return RecordDataset(
        {"patients": tables["patients"], "visits": visits, "results": results},
        [
            Relationship("patients", "visits", "id", "id"),
            Relationship("visits", "results", "visit", "visit"),
        ],
    )


def test_copy_of_training_database_is_caught_per_root_entity(split):
    copy = evaluate_records(split["train"], tables_of(split["train"]), split["holdout"], PRIVACY)
    fresh = evaluate_records(split["train"], split["fresh"], split["holdout"], PRIVACY)
    assert copy["exact_match_rate"] == 1.0
    assert copy["dcr_share"] > 0.95
    assert copy["mia_auc"] > 0.9
    assert fresh["exact_match_rate"] == 0.0
    assert fresh["dcr_share"] < 0.8
    assert copy["dcr_share"] - fresh["dcr_share"] > 0.2
    assert copy.info["dcr_share"]["unit"] == "root entity"
    unit = copy.meta["privacy_unit"]
    assert "'patients'" in unit and "labs" in unit and "events" in unit
    assert copy.meta["entities"] == {
        "real": split["train"].tables["patients"].shape[0],
        "synthetic": split["train"].tables["patients"].shape[0],
        "holdout": split["holdout"].tables["patients"].shape[0],
    }


def test_broken_foreign_keys_lower_integrity_by_their_share(split):
    tables = tables_of(split["train"])
    labs = tables["labs"]
    broken = np.random.default_rng(1).choice(len(labs), size=len(labs) // 8, replace=False)
    labs.loc[broken, "id"] = labs["id"].max() + 1000
    report = evaluate_records(split["train"], tables, metrics=["referential_integrity"])
    per_link = report.by_relationship()["referential_integrity"]
    assert per_link["labs.id -> patients"] == pytest.approx(1 - len(broken) / len(labs))
    assert per_link["events.id -> patients"] == 1.0
    assert report["referential_integrity"] == per_link.min()
    example = report.details["referential_integrity"]["broken"]["labs.id -> patients"]
    assert example["invalid_rows"] == len(broken)


def test_repeated_primary_keys_lower_uniqueness(split):
    tables = tables_of(split["train"])
    patients = tables["patients"]
    patients.loc[:3, "id"] = patients.loc[0, "id"]  # rows 0-3 share one key
    report = evaluate_records(split["train"], tables, metrics=["primary_key_uniqueness"])
    assert report["primary_key_uniqueness"] == pytest.approx(1 - 4 / len(patients))


def test_children_dealt_to_other_parents_keep_cardinality_but_lose_trends(split):
    metrics = ["cardinality_similarity", "inter_table_trends", "aggregate_trends"]
    copy = evaluate_records(split["train"], tables_of(split["train"]), metrics=metrics)
    tables = tables_of(split["train"])
    rng = np.random.default_rng(2)
    for name in ("labs", "events"):
        # Permuting the foreign key keeps every parent's number of children.
        tables[name]["id"] = rng.permutation(tables[name]["id"].to_numpy())
    shuffled = evaluate_records(split["train"], tables, metrics=metrics)
    assert copy.to_dict() == {name: 1.0 for name in metrics}
    assert shuffled["cardinality_similarity"] == 1.0
    assert shuffled["inter_table_trends"] < 0.97
    assert shuffled["aggregate_trends"] < 0.97
    relationships = shuffled.by_relationship()
    assert (relationships["inter_table_trends"] < 1.0).all()


def test_cardinality_of_a_known_case():
    parents = pd.DataFrame({"card": list("abcd"), "limit": [1.0, 2.0, 3.0, 4.0]})
    real = RecordDataset(
        {"cards": parents, "payments": pd.DataFrame({"card": list("bccddd"), "amount": 1.0})},
        [Relationship("cards", "payments", "card", "card")],
    )
    # Children per parent: real 0, 1, 2, 3; synthetic 1, 1, 2, 3 (no parent without children).
    synthetic = {
        "cards": parents,
        "payments": pd.DataFrame({"card": list("abccddd"), "amount": 1.0}),
    }
    report = evaluate_records(real, synthetic, metrics=["cardinality_similarity"])
    # Largest gap of the two CDFs: at 0 children, 1/4 against 0.
    assert report["cardinality_similarity"] == pytest.approx(0.75)
    details = report.details["cardinality_similarity"]
    assert details["mean_children"]["payments.card -> cards"] == {"real": 1.5, "synthetic": 1.75}


def test_three_levels_score_k_hop_trends_per_hop(nafld, split):
    real = three_levels(tables_of(split["train"]))
    copy = evaluate_records(real, tables_of(real), metrics=["k_hop_trends", "inter_table_trends"])
    assert copy.details["k_hop_trends"]["per_hop"] == {"2": 1.0}
    assert copy["k_hop_trends"] == 1.0
    pairs = copy.details["k_hop_trends"]["pairs"]
    assert {(p["parent_table"], p["child_table"], p["hops"]) for p in pairs} == {
        ("patients", "results", 2)
    }
    # Visits dealt to other patients keep each visit's results: 1-hop trends between
    # visits and results hold, the 2-hop ones between patients and results break.
    tables = tables_of(real)
    tables["visits"]["id"] = np.random.default_rng(3).permutation(tables["visits"]["id"])
    moved = evaluate_records(real, tables, metrics=["k_hop_trends", "inter_table_trends"])
    assert moved["k_hop_trends"] < 0.97
    links = moved.by_relationship()["inter_table_trends"]
    assert links["results.visit -> visits"] == 1.0
    assert links["visits.id -> patients"] < 1.0


def test_two_level_database_skips_k_hop_with_the_reason(split):
    report = evaluate_records(
        split["train"], split["fresh"], metrics=None, max_rows=2000, random_state=0
    )
    assert "grandparent" in report.skipped["k_hop_trends"]
    assert report["referential_integrity"] == 1.0
    assert set(report.by_table().index) == {"patients", "labs", "events"}
    assert report.by_table()["column_shapes"].between(0, 1).all()
    assert "holdout" in report.skipped["dcr_share"]


def test_html_page_shows_the_schema_with_scores(split, tmp_path):
    report = synthkit.evaluate(
        split["train"],
        split["fresh"],
        holdout=split["holdout"],
        metrics=["column_shapes", "cardinality_similarity", "inter_table_trends", "dcr_share"],
    )
    page = report.to_html(tmp_path / "report.html")
    assert 'data-plot="schema"' in page
    for text in ("patients", "labs.id -&gt; patients", "events.id -&gt; patients", "Privacy unit"):
        assert text in page
    for table in ("patients", "labs", "events"):
        assert f"Table {table}: Column distributions" in page
    assert 'data-plot="distribution:test"' in page  # a lab table column, drawn
    assert "nearer a training root entity than a holdout root entity" in page
    again = Report.from_json(report.to_json())
    pd.testing.assert_frame_equal(again.by_relationship(), report.by_relationship())
    assert json.loads(report.to_json())["meta"]["shape"] == "records"


def test_schemas_that_differ_are_refused(split):
    tables = tables_of(split["fresh"])
    with pytest.raises(EvaluationError, match=r"missing \['events'\]"):
        evaluate_records(split["train"], {k: v for k, v in tables.items() if k != "events"})
    with pytest.raises(EvaluationError, match=r"Table 'labs'.*missing \['value'\]"):
        evaluate_records(split["train"], {**tables, "labs": tables["labs"].drop(columns="value")})
    events = tables["events"].assign(patient=tables["events"]["id"])
    other = RecordDataset(
        {**tables, "events": events},
        [LINKS[0], Relationship("patients", "events", "id", "patient")],
    )
    with pytest.raises(EvaluationError, match="relationships differ"):
        evaluate_records(split["train"], other)
    with pytest.raises(EvaluationError, match="DataFrame"):
        evaluate_records(split["train"], {**tables, "labs": "labs.csv"})


def test_holdout_split_by_row_is_refused(split, nafld):
    overlapping = RecordDataset(
        {t: f[f["id"].isin(nafld["patients"]["id"][:40])] for t, f in nafld.items()}, LINKS
    )
    with pytest.raises(EvaluationError, match=r"patients\.id=.*split by row, not by root entity"):
        synthkit.evaluate(split["train"], split["fresh"], holdout=overlapping)


def test_settings_that_apply_to_tables_only_are_refused(split):
    with pytest.raises(EvaluationError, match="target"):
        synthkit.evaluate(split["train"], split["fresh"], target="status")
    with pytest.raises(EvaluationError, match="RecordDataset too"):
        synthkit.evaluate(split["train"].tables["patients"], split["fresh"])


def test_foreign_key_paths_follow_the_tree():
    links = [
        Relationship("a", "b", "id", "a_id"),
        Relationship("b", "c", "id", "b_id"),
        Relationship("c", "d", "id", "c_id"),
        Relationship("a", "e", "id", "a_id"),
    ]
    ends = {(p[0].parent, p[-1].child) for p in foreign_key_paths(links, 2)}
    assert ends == {("a", "c"), ("b", "d")}
    assert [(p[0].parent, p[-1].child) for p in foreign_key_paths(links, 3)] == [("a", "d")]
    assert foreign_key_paths(links, 4) == []


@settings(max_examples=30, deadline=None)
@given(
    parents=st.lists(st.integers(0, 50), min_size=1, max_size=20, unique=True),
    children=st.lists(st.integers(-5, 60), max_size=40),
)
def test_valid_foreign_keys_are_exactly_those_among_the_parents(parents, children):
    valid = valid_foreign_keys(pd.Series(children, dtype=float), pd.Series(parents))
    assert valid.tolist() == [c in set(parents) for c in children]


def test_a_lookup_table_is_a_second_parent_scored_on_its_own(split):
    def with_lookup(db: RecordDataset) -> RecordDataset:
        tables = tables_of(db)
        names = sorted(split["train"].tables["labs"]["test"].unique())
        tables["lab_tests"] = pd.DataFrame(
            {"test": names, "vital": [n in ("dbp", "sbp") for n in names]}
        )
        links = [*LINKS, Relationship("lab_tests", "labs", "test", "test")]
        return RecordDataset(tables, links, root="patients")

    real, fresh = with_lookup(split["train"]), with_lookup(split["fresh"])
    report = evaluate_records(
        real, fresh, metrics=["referential_integrity", "cardinality_similarity"]
    )
    assert set(report.by_relationship().index) == {
        "labs.id -> patients",
        "events.id -> patients",
        "labs.test -> lab_tests",
    }
    assert report["referential_integrity"] == 1.0
    assert report.meta["root"] == "patients"
    # The lookup is given back as it is: its codes are public, not leaks.
    leaks = evaluate_records(real, fresh, metrics=["identifier_leak"])
    assert leaks.details["identifier_leak"]["kept_tables"] == ["lab_tests"]
    assert "lab_tests" not in leaks.details["identifier_leak"]["per_table"]
    moved = evaluate_records(real, fresh, metrics=["cardinality_similarity"], root="lab_tests")
    assert moved.meta["root"] == "lab_tests"
    assert "'lab_tests', as given" in moved.meta["privacy_unit"]


def test_keys_only_lookup_and_zoned_dates_are_scored(split):
    def variant(db: RecordDataset) -> RecordDataset:
        tables = tables_of(db)
        # A lookup of codes only, and event dates as ISO text with a zone (as CSV files hold them).
        tables["lab_tests"] = pd.DataFrame(
            {"test": sorted(split["train"].tables["labs"]["test"].unique())}
        )
        days = pd.to_timedelta(tables["events"]["days"], unit="D")
        tables["events"]["when"] = (pd.Timestamp("2010-01-01", tz="UTC") + days).astype(str)
        links = [*LINKS, Relationship("lab_tests", "labs", "test", "test")]
        return RecordDataset(tables, links, root="patients")

    metrics = [
        "column_shapes",
        "cardinality_similarity",
        "aggregate_trends",
        "coherence",
        "dcr_share",
    ]
    report = evaluate_records(
        variant(split["train"]), variant(split["fresh"]), variant(split["holdout"]), metrics
    )
    assert "lab_tests" not in report.details["column_shapes"]["per_table"]
    assert report.meta["tables"]["lab_tests"]["scored_columns"] == []
    assert (
        report.details["cardinality_similarity"]["per_relationship"]["labs.test -> lab_tests"] > 0.5
    )
    assert "events.when:mean" in report.meta["entity_features"]
    assert all(0 < report[name] <= 1 for name in metrics)


def renumbered_and_reordered(db: RecordDataset) -> dict[str, pd.DataFrame]:
    """The same entities under new keys, every table's rows in another order."""
    new = {key: key + 100_000 for key in db.tables["patients"]["id"]}
    tables = {}
    for name, frame in db.tables.items():
        tables[name] = frame.assign(id=frame["id"].map(new)).sample(frac=1.0, random_state=4)
    return tables


def test_whole_entity_copies_are_found_under_new_keys_and_row_order(split):
    metrics = ["entity_copy_rate", "exact_match_rate"]
    copy = renumbered_and_reordered(split["train"])
    found = evaluate_records(split["train"], copy, split["holdout"], metrics)
    assert found.to_dict() == {"entity_copy_rate": 1.0, "exact_match_rate": 1.0}
    assert found.details["entity_copy_rate"]["holdout_rate"] == 0.0
    # One lab value changed per patient: only patients without lab tests stay copies.
    labs = copy["labs"].sort_values("id")
    labs.loc[~labs["id"].duplicated(), "value"] += 0.5
    changed = evaluate_records(split["train"], {**copy, "labs": labs}, metrics=metrics)
    patients = split["train"].tables["patients"]["id"]
    without_labs = float((~patients.isin(split["train"].tables["labs"]["id"])).mean())
    assert changed["entity_copy_rate"] == pytest.approx(without_labs)
    assert 0 < without_labs < 0.5


def nested_records(db: RecordDataset) -> RecordDataset:
    """Patients -> visits -> lab tests as nested records, keys generated by synthkit."""
    visits: dict[int, list[dict]] = {}
    for row in db.tables["labs"].sort_values(["id", "days"], kind="stable").itertuples():
        own = visits.setdefault(row.id, [])
        if not own or own[-1]["days"] != row.days:
            own.append({"days": int(row.days), "tests": []})
        own[-1]["tests"].append({"test": row.test, "value": float(row.value)})
    records = [
        {"age": int(p.age), "male": int(p.male), "visits": visits.get(p.id, [])}
        for p in db.tables["patients"].itertuples()
    ]
    return RecordDataset.from_records(records, name="patients")


def test_nested_records_are_scored_without_their_generated_keys(split):
    real, fresh, holdout = (nested_records(split[n]) for n in ("train", "fresh", "holdout"))
    metrics = ["k_hop_trends", "coherence", "dcr_share", "entity_copy_rate"]
    report = evaluate_records(real, fresh, holdout, metrics)
    scored = {t: entry["scored_columns"] for t, entry in report.meta["tables"].items()}
    assert scored == {"patients": ["age", "male"], "visits": ["days"], "tests": ["test", "value"]}
    assert set(report.details["k_hop_trends"]["per_hop"]) == {"2"}
    assert 0 < report["k_hop_trends"] < 1
    assert report["entity_copy_rate"] < 0.1
    # Generated keys number every database from 0: the holdout check cannot use them.
    shuffled = {name: frame.sample(frac=1.0, random_state=5) for name, frame in real.tables.items()}
    copy = evaluate_records(real, shuffled, holdout, ["entity_copy_rate"])
    assert copy["entity_copy_rate"] == 1.0


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_schema_diagram_renders_in_chromium(split, tmp_path):
    metrics = ["column_shapes", "cardinality_similarity", "inter_table_trends"]
    page = tmp_path / "report.html"
    evaluate_records(split["train"], split["fresh"], metrics=metrics).to_html(page)
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rendered = re.search(r'data-rendered-plots="(\d+)"', result.stdout)
    plots = re.findall(r'<svg class="plot" data-plot="([^"]+)"', result.stdout)
    assert rendered and int(rendered.group(1)) == len(plots)
    assert "schema" in plots


def test_children_ordered_by_an_index_are_scored_for_gaps(split):
    order = {"labs": "days", "events": "days"}
    metrics = ["gap_similarity", "coherence"]
    copy = evaluate_records(
        split["train"], tables_of(split["train"]), metrics=metrics, sequence_index=order
    )
    assert copy.to_dict() == {"gap_similarity": 1.0, "coherence": 1.0}
    fresh = evaluate_records(split["train"], split["fresh"], metrics=metrics, sequence_index=order)
    assert set(fresh.by_relationship().index) == {"labs.id -> patients", "events.id -> patients"}
    assert 0 < fresh["gap_similarity"] < 1
    with pytest.raises(
        EvaluationError, match=r"sequence_index\['labs'\]='test'.*\['days', 'value'\]"
    ):
        evaluate_records(split["train"], split["fresh"], sequence_index={"labs": "test"})
    with pytest.raises(EvaluationError, match="table 'visits'"):
        evaluate_records(split["train"], split["fresh"], sequence_index={"visits": "days"})


@settings(max_examples=30, deadline=None)
@given(
    owners=st.lists(st.integers(0, 4), min_size=1, max_size=30),
    values=st.data(),
)
def test_entity_hashes_ignore_row_order_and_see_any_change(owners, values):
    hashes = np.array(
        values.draw(st.lists(st.integers(0, 2**63), min_size=len(owners), max_size=len(owners))),
        dtype=np.uint64,
    )
    owners = np.array(owners)
    found = multiset_hashes(hashes, owners, 5)
    order = np.random.default_rng(len(owners)).permutation(len(owners))
    assert (multiset_hashes(hashes[order], owners[order], 5) == found).all()
    changed = hashes.copy()
    changed[0] += np.uint64(1)
    moved = multiset_hashes(changed, owners, 5)
    assert moved[owners[0]] != found[owners[0]]
    assert children_per_parent(pd.Series(owners), pd.Series(range(5))).sum() == len(owners)


def test_look_alike_root_entities_under_other_keys_are_a_valid_holdout(split):
    # Other patients who happen to equal training ones (no labs or events, same
    # values): disjoint keys prove the split, so privacy is scored, not refused.
    patients = split["train"].tables["patients"]
    twins = patients.assign(id=patients["id"] + 100_000)
    empty = {name: frame.iloc[:0] for name, frame in split["train"].tables.items()}
    holdout = RecordDataset({**empty, "patients": twins}, LINKS)
    report = evaluate_records(split["train"], split["fresh"], holdout, ["dcr_share"])
    assert 0 <= report["dcr_share"] <= 1
    # Generated keys prove nothing: the same nested records as holdout are refused.
    nested = nested_records(split["train"])
    with pytest.raises(EvaluationError, match="feature vectors: The holdout overlaps"):
        evaluate_records(nested, nested_records(split["fresh"]), nested, ["dcr_share"])


def test_pair_trends_bin_synthetic_numbers_in_the_real_bins():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"days": rng.uniform(0, 100, 2_000), "sex": rng.choice(["f", "m"], 2_000)})
    # The same rows plus one value far beyond the real range: with bins of its own the
    # synthetic side would put nearly every row in its first bin.
    synthetic = pd.concat([real, pd.DataFrame({"days": [10_000.0], "sex": ["f"]})])
    (entry,) = pair_trends(real, synthetic, [("days", "sex")], {"days"})
    assert entry["metric"] == "ContingencySimilarity"
    assert entry["score"] > 0.99
