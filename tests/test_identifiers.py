"""Identifiers and names are never learned: detection, consistent replacement, no copies, leaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthkit
from synthkit._detection import detect_columns
from synthkit.datasets import load_adult
from synthkit.evaluation import METRICS
from synthkit.metadata import Metadata
from synthkit.pii.names import base_pools, gender_codes, is_gender_column, split_full_names
from synthkit.processing.encoder import TableEncoder, _regenerate

DATA = "tests/data"
SMALL = {
    "ctgan": {"embedding_dim": 16, "generator_dim": (32,), "discriminator_dim": (32,), "pac": 5},
    "tvae": {"embedding_dim": 16, "compress_dims": (32,), "decompress_dims": (32,)},
    "autoregressive": {"hidden_dim": 32},
    "flow": {},
}


@pytest.fixture(scope="module")
def titanic() -> pd.DataFrame:
    """Full names ``Last, Title First Middle`` also split into ``first`` and ``last``."""
    frame = pd.read_csv(f"{DATA}/titanic_names.csv.gz")
    parts = split_full_names(frame["Name"])
    frame["first"] = parts["first"]
    frame["last"] = parts["last"]
    return frame


@pytest.fixture(scope="module")
def planes() -> pd.DataFrame:
    return pd.read_csv(f"{DATA}/planes.csv.gz")


def kinds(frame: pd.DataFrame) -> dict[str, str]:
    return {name: entry["kind"] for name, entry in detect_columns(frame).columns.items()}


def gender_of_first_names(names: pd.Series) -> np.ndarray:
    pools = base_pools()
    female, male = set(pools["first_female"]), set(pools["first_male"])
    return np.where(names.isin(female), "female", np.where(names.isin(male), "male", "?"))


# ------------------------------------------------------------------ code-like ids
def test_tail_numbers_are_ids_by_their_values(planes):
    frame = planes.rename(columns={"tailnum": "plane"})
    detected = detect_columns(frame)
    assert detected.columns["plane"]["kind"] == "id"
    assert "distinct and look like codes" in detected.reasons["plane"]
    assert {k: v for k, v in kinds(frame).items() if k != "plane"} == {
        "year": "numerical",
        "type": "categorical",
        "manufacturer": "categorical",
        "model": "categorical",
        "engines": "categorical",
        "seats": "numerical",
        "speed": "numerical",
        "engine": "categorical",
    }


def test_case_numbers_with_duplicates_and_nulls_are_ids_and_keep_their_nulls():
    rng = np.random.default_rng(0)
    numbers = [f"13{n:06d}CF10A" for n in rng.choice(10**6, size=1_000, replace=False)]
    numbers[:8] = numbers[8:16]  # a few people with two rows
    numbers[20:40] = [None] * 20
    frame = pd.DataFrame({"c_case_number": numbers, "age": rng.integers(18, 80, 1_000)})
    metadata = Metadata.detect(frame)
    assert metadata.kind("c_case_number") == "id"
    assert metadata.primary_key is None  # not unique: no primary key
    encoder = TableEncoder().fit(frame, metadata)
    columns = {"age": pd.Series(rng.integers(18, 80, 5_000))}
    synthetic = encoder._assemble(columns, 5_000, seed=3)["c_case_number"]
    assert not synthetic.isin(frame["c_case_number"].dropna()).any()
    assert synthetic.dropna().str.fullmatch(r"\d{8}[A-Z]{2}\d{2}[A-Z]").all()
    assert abs(synthetic.isna().mean() - 0.02) < 0.01


def test_numbers_used_as_codes_are_ids_but_measurements_stay_numerical():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "mrn": rng.choice(10**7, size=500, replace=False),
            "account_no": rng.choice(10**9, size=500, replace=False),
            "reference": 40_000_000 + rng.choice(10**6, size=500, replace=False),  # 8 digits
            "weight_g": rng.choice(np.arange(1_000, 900_000), size=500, replace=False),
        }
    )
    found = kinds(frame)
    assert found == {"mrn": "id", "account_no": "id", "reference": "id", "weight_g": "numerical"}
    adult = load_adult("train").sample(500, random_state=0)
    assert adult["fnlwgt"].nunique() / len(adult) > 0.95
    assert kinds(adult)["fnlwgt"] == "numerical"


def test_high_cardinality_categories_and_free_text_stay_what_they_are():
    rng = np.random.default_rng(2)
    titles = [
        f"{level} {role}"
        for level in (
            "Senior",
            "Junior",
            "Lead",
            "Chief",
            "Assistant",
            "Associate",
            "Principal",
            "Staff",
        )
        for role in (
            "Engineer",
            "Nurse",
            "Clerk",
            "Analyst",
            "Teacher",
            "Driver",
            "Manager",
            "Designer",
            "Chemist",
            "Buyer",
            "Auditor",
            "Pilot",
            "Baker",
            "Welder",
            "Editor",
            "Agent",
            "Planner",
            "Tutor",
            "Curator",
            "Broker",
            "Surveyor",
            "Librarian",
            "Porter",
            "Mechanic",
            "Cashier",
        )
    ]
    charges = [f"POSS CONTROLLED SUBSTANCE SCHEDULE {k}" for k in range(1, 120)] + [
        f"BATTERY ON {who}" for who in ("LEO", "PERSON", "MINOR", "ELDER")
    ]
    sentences = [
        " ".join(rng.choice(["the", "car", "was", "red", "fast", "old"], 8)) for _ in range(3_000)
    ]
    frame = pd.DataFrame(
        {
            "job_title": rng.choice(titles, 3_000),
            "c_charge_desc": rng.choice(charges, 3_000),
            "note": sentences,
        }
    )
    assert len(titles) == 200
    assert kinds(frame) == {
        "job_title": "categorical",
        "c_charge_desc": "categorical",
        "note": "text",
    }


def test_tail_numbers_regenerated_in_their_shapes_never_real(planes):
    encoder = TableEncoder().fit(planes)
    decoded = encoder.decode(encoder.encode(planes.head(500)), random_state=0)
    tails = decoded["tailnum"]
    assert not tails.isin(planes["tailnum"]).any()
    assert tails.str.fullmatch(r"N[0-9A-Z]{4,6}").all()
    assert tails.is_unique


# ------------------------------------------------------------------- name parts
def test_name_parts_of_a_full_name_are_detected_with_reasons(titanic):
    metadata = Metadata.detect(titanic)
    assert metadata.column("Name")["pii_type"] == "name"
    assert metadata.column("first")["pii_type"] == "first_name"
    assert metadata.column("last") == {
        "kind": "pii",
        "pii_type": "last_name",
        "strategy": "fake",
        "name_column": "Name",
        "name_part": "last",
    }
    assert metadata.column("Name")["gender_column"] == "Sex"
    assert "the last name of 'Name' in the same row" in metadata.explain("last")
    assert metadata.kind("PClass") == "categorical"
    again = Metadata.from_dict(metadata.to_dict())
    assert again.explain("last") == metadata.explain("last")
    assert again.update_column("last", kind="categorical").explain("last") == (
        "'last' is categorical: set by the user."
    )


@pytest.mark.parametrize(
    ("column", "pii_type"),
    [
        ("Vorname", "first_name"),
        ("prénom", "first_name"),
        ("primer_nombre", "first_name"),
        ("voornaam", "first_name"),
        ("Nachname", "last_name"),
        ("apellido", "last_name"),
        ("cognome", "last_name"),
        ("sobrenome", "last_name"),
        ("nom_de_famille", "last_name"),
        ("middle_name", "middle_name"),
        ("maiden_name", "maiden_name"),
        ("initials", "initials"),
        ("surname", "last_name"),
    ],
)
def test_name_part_columns_by_name_in_several_languages(column, pii_type):
    rng = np.random.default_rng(3)
    pool = base_pools()["last" if "last" in pii_type or "maiden" in pii_type else "first_male"]
    values = rng.choice(pool, 200)
    if pii_type == "initials":
        values = [f"{v[0]}." for v in values]
    frame = pd.DataFrame({column: values, "x": rng.random(200)})
    entry = detect_columns(frame).columns[column]
    assert (entry["kind"], entry.get("pii_type")) == ("pii", pii_type)


def test_name_parts_by_their_values_alone():
    rng = np.random.default_rng(5)
    pools = base_pools()
    frame = pd.DataFrame(
        {
            "col_a": rng.choice(pools["last"], 300),
            "col_b": rng.choice(pools["first_female"], 300),
            "colour": rng.choice(["Brown", "Green", "White", "Black", "Gray"], 300),
        }
    )
    detected = detect_columns(frame)
    assert detected.columns["col_a"]["pii_type"] == "last_name"
    assert "last names Faker knows" in detected.reasons["col_a"]
    assert detected.columns["col_b"]["pii_type"] == "first_name"
    assert detected.columns["colour"]["kind"] == "categorical"


def test_weak_name_words_need_name_values():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "family": rng.choice(["Rosaceae", "Fabaceae", "Poaceae", "Asteraceae"], 200),
            "first": rng.choice(base_pools()["first_female"], 200),
            "last": rng.choice(["2021-01-01", "2021-02-01", "2022-03-04"], 200),
        }
    )
    found = detect_columns(frame).columns
    assert found["family"]["kind"] == "categorical"
    assert found["first"]["pii_type"] == "first_name"
    assert found["last"]["kind"] == "datetime"


def test_gender_columns_in_several_languages():
    for values in (
        ["M", "F"],
        ["male", "female"],
        ["Männlich", "Weiblich"],
        ["homme", "femme"],
        ["hombre", "mujer"],
        ["man", "vrouw"],
    ):
        assert is_gender_column(pd.Series(values * 5)), values
    assert not is_gender_column(pd.Series(["yes", "no"] * 5))
    assert gender_codes(pd.Series(["Femme", "M", None])).tolist() == [1, 0, -1]


# ------------------------------------------------------------- consistent replacement
def test_encoder_replaces_names_consistently_and_never_with_real_ones(titanic):
    encoder = TableEncoder().fit(titanic)
    state = encoder.to_state()["regenerated"]
    words = set(titanic["Name"].str.split(r"[^\w'-]+", regex=True).explode())
    for column, real in (("Name", words), ("first", titanic["first"]), ("last", titanic["last"])):
        stored = {name for pool in state[column]["pools"].values() for name in pool}
        assert stored and not stored & set(real), column
    decoded = encoder.decode(encoder.encode(titanic), random_state=0)
    parts = split_full_names(decoded["Name"])
    present = decoded["first"].notna()
    assert (parts["first"][present] == decoded["first"][present]).all()
    assert (parts["last"] == decoded["last"]).where(decoded["last"].notna(), True).all()
    for column in ("Name", "first", "last"):
        assert not decoded[column].dropna().isin(titanic[column].dropna()).any(), column
    match = gender_of_first_names(decoded["first"].dropna()) == decoded["Sex"][present]
    assert match.mean() >= 0.95


def test_groups_keep_one_replacement_per_entity():
    entry = {"kind": "pii", "pii_type": "name", "gender_column": "sex", "null_share": 0.0}
    groups = np.array([5, 5, 9, 9, 9, 2])
    _, rows, inverse = np.unique(groups, return_index=True, return_inverse=True)
    sex = {"sex": pd.Series(["f", "f", "m", "m", "m", "f"])}
    names = _regenerate(entry, 6, 0, column="n", decoded=sex, rows=rows, inverse=inverse)
    assert names[0] == names[1] and names[2] == names[3] == names[4]
    assert len({names[0], names[2], names[5]}) == 3


def test_assemble_with_groups(titanic):
    encoder = TableEncoder().fit(titanic.head(200))
    groups = np.repeat(np.arange(50), 4)
    columns = {name: pd.Series(titanic[name].head(200).to_numpy()) for name in encoder.transforms_}
    frame = encoder._assemble(columns, 200, seed=0, groups=groups)
    per_entity = frame.groupby(groups)[["Name", "first", "last"]].nunique(dropna=False)
    assert (per_entity == 1).all().all()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_model_keeps_names_consistent_and_new(name, titanic):
    real = titanic.sample(300, random_state=0).reset_index(drop=True)
    model = synthkit.Synthesizer(
        name, epochs=2, batch_size=100, verbose=False, random_state=0, **SMALL[name]
    )
    synthetic = model.fit(real).sample(300, random_state=1)
    parts = split_full_names(synthetic["Name"])
    present = synthetic["first"].notna()
    assert (parts["first"][present] == synthetic["first"][present]).all()
    for column in ("Name", "first", "last"):
        assert not synthetic[column].dropna().isin(real[column].dropna()).any(), column


def test_first_names_follow_gender_and_are_new():
    resumes = pd.read_csv(f"{DATA}/resume_names.csv.gz")
    metadata = Metadata.detect(resumes)
    assert metadata.column("name")["pii_type"] == "first_name"
    assert metadata.column("name")["gender_column"] == "gender"
    encoder = TableEncoder().fit(resumes, metadata)
    decoded = encoder.decode(encoder.encode(resumes), random_state=0)
    assert not decoded["name"].isin(resumes["name"]).any()
    assert (gender_of_first_names(decoded["name"]) == decoded["gender"]).mean() >= 0.95


# ------------------------------------------------------------------- leak metric
def test_identifier_leak_is_zero_for_synthkit_and_one_for_a_copy(planes):
    model = synthkit.Synthesizer("tvae", epochs=1, verbose=False, random_state=0, **SMALL["tvae"])
    real = planes.head(600)
    synthetic = model.fit(real).sample(600, random_state=0)
    metric = METRICS.get("identifier_leak")()
    assert metric.compute(real, synthetic).value == 0.0
    copied = metric.compute(real, real.sample(frac=1.0, random_state=0))
    assert copied.value == 1.0
    assert next(iter(copied.details["worst_columns"])) == "tailnum"


def test_identifier_leak_catches_a_code_detection_missed():
    real = pd.DataFrame({"code": [f"X{i}" for i in range(50)], "y": np.arange(50.0)})
    metadata = Metadata.detect(real).update_column("code", kind="categorical")
    synthetic = real.copy()
    synthetic.loc[25:, "code"] = "fresh"
    result = METRICS.get("identifier_leak")(k=1).compute(real, synthetic, metadata=metadata)
    assert result.value == pytest.approx(0.5)
    assert METRICS.get("identifier_leak")(k=2).compute(real, real).details["k"] == 2
