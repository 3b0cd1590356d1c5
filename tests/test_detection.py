"""Column-kind detection on real data and on realistic frames built with Faker."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd
import pytest
from faker import Faker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd

from synthkit._detection import detect_columns
from synthkit.datasets import load_adult
from synthkit.errors import DataError
from synthkit.metadata import KINDS, PII_TYPES

DATA = "tests/data"
ENTRY_KEYS = {
    "numerical": {"kind", "integer", "min", "max", "decimals"},
    "categorical": {"kind"},
    "boolean": {"kind"},
    "datetime": {"kind", "format", "timezone"},
    "text": {"kind", "mean_words"},
}


def kinds(frame: pd.DataFrame) -> dict[str, str]:
    return {name: entry["kind"] for name, entry in detect_columns(frame).columns.items()}


def faker_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """People, contacts, keys, dates, flags and free text, as a CRM export would hold them."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)

    def draw(method, **kwargs):
        return [getattr(fake, method)(**kwargs) for _ in range(n)]

    signup = pd.Series(pd.to_datetime(rng.integers(1.5e9, 1.7e9, n), unit="s"))
    return pd.DataFrame(
        {
            "customer_id": np.arange(5_000, 5_000 + n) * 3,
            "order_uuid": [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)],
            "email": draw("email"),
            "phone_number": draw("phone_number"),
            "full_name": draw("name"),
            "first_name": draw("first_name"),
            "surname": draw("last_name"),
            "ssn": draw("ssn"),
            "home_address": draw("address"),
            "street": draw("street_address"),
            "ip_address": draw("ipv4"),
            "card_number": draw("credit_card_number"),
            "v_email": draw("free_email"),
            "v_phone": draw("phone_number"),
            "v_name": draw("name"),
            "v_ssn": draw("ssn"),
            "v_address": draw("address"),
            "v_street": draw("street_address"),
            "v_ipv4": draw("ipv4_public"),
            "v_ipv6": draw("ipv6"),
            "v_card": draw("credit_card_number"),
            "review": draw("paragraph", nb_sentences=3),
            "signup_day": signup.dt.strftime("%d/%m/%Y %H:%M"),
            "birth_date": [d.strftime("%Y-%m-%d") for d in draw("date_of_birth")],
            "last_seen": pd.date_range("2024-03-01", periods=n, freq="37min", tz="Europe/Berlin"),
            "created": signup,
            "newsletter": rng.integers(0, 2, n),
            "vip": rng.choice(["Y", "N"], n),
            "verified": rng.random(n) < 0.3,
            "balance": rng.normal(1_000, 300, n).round(2),
            "visits": rng.poisson(20, n).astype(float),
            "segment": rng.choice(["gold", "silver", "bronze", "new"], n),
            "city": draw("city"),
            "state": draw("state_abbr"),
        }
    )


@pytest.fixture(scope="module")
def crm() -> pd.DataFrame:
    return faker_frame()


@pytest.fixture(scope="module")
def crm_detected(crm):
    return detect_columns(crm)


# ------------------------------------------------------------------- real data
def test_adult_kinds():
    detected = detect_columns(load_adult("train"))
    numbers = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
    for name, entry in detected.columns.items():
        assert entry["kind"] == ("numerical" if name in numbers else "categorical"), name
    assert detected.primary_key is None
    assert detected.columns["age"] == {
        "kind": "numerical",
        "integer": True,
        "min": 17,
        "max": 90,
        "decimals": 0,
    }


def test_lending_club_kinds():
    frame = pd.read_csv(f"{DATA}/lending_club.csv.gz")
    detected = detect_columns(frame)
    found = {name: entry["kind"] for name, entry in detected.columns.items()}
    assert detected.primary_key == "rownames"
    assert found["addr_state"] == "categorical"  # "addr" alone does not make it an address
    assert found["Class"] == found["term"] == found["sub_grade"] == "categorical"
    assert found["acc_now_delinq"] == "categorical"  # 3 whole values: codes (SDV's rule)
    assert found["delinq_2yrs"] == "numerical"  # 14 values: a count
    assert detected.columns["int_rate"]["decimals"] == 2
    assert detected.columns["revol_util"]["decimals"] == 1
    assert "pii" not in found.values()


def test_actg175_flags_codes_and_keys():
    detected = detect_columns(pd.read_csv(f"{DATA}/actg175.csv.gz"))
    found = {name: entry["kind"] for name, entry in detected.columns.items()}
    for flag in ("hemo", "homo", "drugs", "gender", "race", "cens", "treat"):
        assert found[flag] == "boolean"
    assert found["arms"] == found["strat"] == found["karnof"] == "categorical"
    assert found["zprior"] == "categorical"  # constant column: handled, not an error
    assert detected.columns["pidnum"]["id_type"] == "integer"
    assert detected.columns["pidnum"]["min"] == 10056
    assert detected.primary_key == "Unnamed: 0"
    assert detected.columns["wtkg"]["decimals"] == 5
    assert detected.columns["cd496"]["integer"] is True  # whole floats with NaN
    assert "pii" not in found.values()


def test_cdnow_integer_dates_and_repeated_keys():
    detected = detect_columns(pd.read_csv(f"{DATA}/cdnow_transactions.csv.gz"))
    assert detected.columns["date"] == {"kind": "datetime", "format": "%Y%m%d", "timezone": None}
    # customer_id repeats (one row per purchase): an identifier, never a number to
    # learn, but not a unique key.
    assert detected.columns["customer_id"]["kind"] == "id"
    assert "references to records" in detected.reasons["customer_id"]
    assert detected.columns["dollar_value"]["decimals"] == 2
    assert detected.primary_key is None


def test_repeated_ids_named_as_such_are_identifiers_not_numbers():
    # NAFLD's case.id names the patient a control is matched to: 22 % distinct.
    patients = pd.read_csv(f"{DATA}/nafld1_sample.csv.gz")
    detected = detect_columns(patients)
    assert detected.columns["case.id"]["kind"] == "id"
    assert detected.primary_key == "id"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "store_id": rng.integers(1, 6, 500),  # few values: codes of categories
            "visits": rng.integers(0, 400, 500),  # repeated whole numbers, not named an id
            "paid": rng.integers(0, 400, 500) / 4,  # not whole
        }
    )
    found = detect_columns(frame).columns
    assert found["store_id"]["kind"] == "categorical"
    assert found["visits"]["kind"] == found["paid"]["kind"] == "numerical"


def test_detected_entries_are_plain_json():
    for frame in (load_adult("train"), pd.read_csv(f"{DATA}/actg175.csv.gz"), faker_frame(100)):
        columns = detect_columns(frame).columns
        assert json.loads(json.dumps(columns)) == columns


# ------------------------------------------------------------ realistic frame
EXPECTED_PII = {
    "email": "email",
    "phone_number": "phone",
    "full_name": "name",
    "first_name": "first_name",
    "surname": "last_name",
    "ssn": "ssn",
    "home_address": "address",
    "street": "street_address",
    "ip_address": "ip",
    "card_number": "credit_card",
    "v_email": "email",
    "v_phone": "phone",
    "v_name": "name",
    "v_ssn": "ssn",
    "v_address": "address",
    "v_street": "street_address",
    "v_ipv4": "ip",
    "v_ipv6": "ip",
    "v_card": "credit_card",
}


@pytest.mark.parametrize(("column", "pii_type"), sorted(EXPECTED_PII.items()))
def test_pii_by_name_and_by_values(crm_detected, column, pii_type):
    assert crm_detected.columns[column] == {
        "kind": "pii",
        "pii_type": pii_type,
        "strategy": "fake",
        **({"ip_version": 6} if column == "v_ipv6" else {}),
    }


def test_other_kinds_of_the_crm_frame(crm, crm_detected):
    columns = crm_detected.columns
    assert crm_detected.primary_key == "customer_id"
    assert columns["customer_id"] == {
        "kind": "id",
        "id_type": "integer",
        "min": 15_000,
        "max": 3 * (5_000 + len(crm) - 1),
        "step": 3.0,
    }
    assert columns["order_uuid"] == {
        "kind": "id",
        "id_type": "string",
        "format": "uuid",
        "uppercase": False,
    }
    assert columns["review"]["kind"] == "text"
    assert columns["review"]["mean_words"] == pytest.approx(
        crm["review"].str.split().str.len().mean()
    )
    assert columns["signup_day"] == {
        "kind": "datetime",
        "format": "%d/%m/%Y %H:%M",
        "timezone": None,
    }
    assert columns["birth_date"]["format"] == "%Y-%m-%d"
    assert columns["last_seen"] == {"kind": "datetime", "format": None, "timezone": "Europe/Berlin"}
    assert columns["created"] == {"kind": "datetime", "format": None, "timezone": None}
    for flag in ("newsletter", "vip", "verified"):
        assert columns[flag] == {"kind": "boolean"}
    assert columns["balance"]["integer"] is False and columns["balance"]["decimals"] == 2
    assert columns["visits"]["integer"] is True and isinstance(columns["visits"]["min"], int)
    for category in ("segment", "city", "state"):
        assert columns[category] == {"kind": "categorical"}
    for entry in columns.values():
        if entry["kind"] in ENTRY_KEYS:
            assert set(entry) == ENTRY_KEYS[entry["kind"]]


def test_name_only_pii_with_values_no_pattern_matches():
    n = 50
    frame = pd.DataFrame(
        {
            "Email": [f"user{i} at example dot org" for i in range(n)],
            "mobilePhone": np.arange(n) * 7919 + 1_000_000,
            "cell": [f"+4479{i:08d}" for i in range(n)],
            "customer_name": [f"client {i}" for i in range(n)],
            "e_mail": [f"x{i}" for i in range(n)],
            "social_security_number": [f"{i:09d}" for i in range(n)],
            "billing_address": [f"box {i}" for i in range(n)],
            "client_ip": [f"host-{i}" for i in range(n)],
            "creditCardNumber": [f"card {i}" for i in range(n)],
            "given_name": ["x"] * n,
        }
    )
    found = detect_columns(frame).columns
    assert {name: entry.get("pii_type") for name, entry in found.items()} == {
        "Email": "email",
        "mobilePhone": "phone",
        "cell": "phone",
        "customer_name": "name",
        "e_mail": "email",
        "social_security_number": "ssn",
        "billing_address": "address",
        "client_ip": "ip",
        "creditCardNumber": "credit_card",
        "given_name": "first_name",
    }


def test_names_that_only_mention_pii_are_not_pii():
    n = 40
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "has_email": rng.integers(0, 2, n),
            "phone_verified": rng.choice(["yes", "no"], n),
            "email_domain": rng.choice(["gmail.com", "yahoo.com"], n),
            "phone_type": rng.choice(["mobile", "landline", "voip"], n),
            "addr_state": rng.choice(["CA", "NY", "TX"], n),
            "name_length": rng.integers(3, 30, n),
            "product_name": rng.choice(["Widget Pro", "Gadget Max", "Thing One"], n),
            "phone": rng.choice(["yes", "no"], n),  # a flag despite its name
            "cell_size": rng.normal(10, 2, n),
            "mobile_app": rng.choice(["ios", "android", "web"], n),
            "voicemail_count": rng.integers(0, 9, n).astype(float) + 0.5,
        }
    )
    found = kinds(frame)
    assert found == {
        "has_email": "boolean",
        "phone_verified": "boolean",
        "email_domain": "categorical",
        "phone_type": "categorical",
        "addr_state": "categorical",
        "name_length": "numerical",
        "product_name": "categorical",
        "phone": "boolean",
        "cell_size": "numerical",
        "mobile_app": "categorical",
        "voicemail_count": "numerical",
    }


def test_repeated_person_like_categories_are_not_names():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "region": rng.choice(["North America", "South America", "Western Europe"], 500),
            "team": rng.choice(["Red Sox", "Blue Jays", "White Sox", "Green Bay"], 500),
            # Varied two-word capitalised values that are places, not people.
            "location": [f"{a} {b}" for a, b in rng.choice(PLACE_WORDS, (500, 2))],
        }
    )
    assert frame["location"].nunique() / len(frame) > 0.5  # as varied as names
    assert set(kinds(frame).values()) == {"categorical"}


PLACE_WORDS = [
    *("North", "South", "East", "West", "Lake", "Port", "Mount", "Glen", "Bay", "Fort"),
    *("Saint", "New", "Old", "Upper", "Lower", "Grand", "Little", "Great", "Falls", "Harbor"),
]


def test_single_first_names_are_found_by_values():
    fake = Faker("en_US")
    fake.seed_instance(3)
    frame = pd.DataFrame({"c": [fake.first_name() for _ in range(800)]})
    assert detect_columns(frame).columns["c"]["pii_type"] == "first_name"


# ----------------------------------------------------------------- datetimes
@pytest.mark.parametrize(
    ("fmt", "column"),
    [
        ("%Y-%m-%d", "day"),
        ("%d/%m/%Y", "day"),
        ("%m/%d/%Y", "day"),
        ("%d.%m.%Y", "day"),
        ("%Y-%m-%d %H:%M:%S", "at"),
        ("%d/%m/%Y %H:%M", "at"),
        ("%Y-%m-%dT%H:%M:%S%z", "at"),
        ("%d %B %Y", "day"),
        ("%b %d, %Y", "day"),
        ("%Y%m%d", "order_date"),
    ],
)
def test_string_dates_keep_a_format_that_writes_them_back(fmt, column):
    stamps = pd.Series(pd.date_range("2019-01-13 08:15", periods=300, freq="29h", tz="UTC"))
    values = stamps.dt.strftime(fmt).astype(object)
    values.iloc[5] = None  # missing values do not matter
    entry = detect_columns(pd.DataFrame({column: values}))
    entry = entry.columns[column]
    assert entry["kind"] == "datetime"
    assert entry["format"] == fmt
    parsed = pd.to_datetime(values, format=entry["format"])
    assert (parsed.dt.strftime(entry["format"]).fillna("-") == values.fillna("-")).all()


def test_compact_digit_dates_need_a_date_name():
    values = pd.Series(pd.date_range("2020-01-01", periods=200, freq="D")).dt.strftime("%Y%m%d")
    found = kinds(pd.DataFrame({"ref": values.tolist(), "booking_date": values.tolist()}))
    assert found["booking_date"] == "datetime"
    assert found["ref"] != "datetime"


def test_utc_strings_and_arrow_timestamps():
    stamps = pd.date_range("2024-01-01", periods=50, freq="h", tz="UTC")
    frame = pd.DataFrame(
        {
            "iso": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "arrow": pd.Series(stamps).astype("timestamp[us, tz=UTC][pyarrow]"),
        }
    )
    columns = detect_columns(frame).columns
    assert columns["iso"] == {"kind": "datetime", "format": "%Y-%m-%dT%H:%M:%SZ", "timezone": "UTC"}
    parsed = pd.to_datetime(frame["iso"], format=columns["iso"]["format"])
    assert (parsed.dt.strftime(columns["iso"]["format"]) == frame["iso"]).all()
    assert columns["arrow"] == {"kind": "datetime", "format": None, "timezone": "UTC"}


# -------------------------------------------------------------- other kinds
def test_boolean_shapes():
    frame = pd.DataFrame(
        {
            "bool": [True, False] * 10,
            "nullable": pd.array([True, None] * 10, dtype="boolean"),
            "ints": [0, 1] * 10,
            "floats": [0.0, np.nan] * 9 + [1.0, 1.0],
            "yes_no": ["Yes", "no"] * 10,
            "tf": ["T", "F"] * 10,
            "objects": [True, None] * 9 + [False, True],
            "one_two": [1, 2] * 10,
            "sex": ["Male", "Female"] * 10,
        }
    )
    found = kinds(frame)
    assert found.pop("one_two") == "categorical"
    assert found.pop("sex") == "categorical"
    assert set(found.values()) == {"boolean"}


def test_numbers_categories_and_all_null_columns():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "score": rng.normal(size=200),
            "price": rng.integers(100, 99_999, 200) / 100,
            "whole": rng.integers(0, 500, 200).astype(float),
            "codes": rng.integers(1, 6, 200),
            "cat": pd.Categorical(rng.choice(["a", "b"], 200)),
            "empty_float": np.nan,
            "empty_object": pd.Series([None] * 200, dtype=object),
            "nullable_int": pd.array(rng.integers(0, 1_000, 200), dtype="Int64"),
        }
    )
    columns = detect_columns(frame).columns
    assert columns["score"]["decimals"] is None or columns["score"]["decimals"] == 10
    assert columns["price"]["decimals"] == 2
    assert columns["whole"] == {
        "kind": "numerical",
        "integer": True,
        "min": int(frame["whole"].min()),
        "max": int(frame["whole"].max()),
        "decimals": 0,
    }
    assert columns["codes"] == columns["cat"] == {"kind": "categorical"}
    assert columns["empty_float"] == {
        "kind": "numerical",
        "integer": False,
        "min": None,
        "max": None,
        "decimals": None,
    }
    assert columns["empty_object"] == {"kind": "categorical"}
    assert columns["nullable_int"]["integer"] is True


def test_string_keys_and_primary_key_order():
    n = 100
    frame = pd.DataFrame(
        {
            "note": ["x"] * n,
            "account_no": [f"AC-{i:05d}" for i in range(7, 7 + n)],
            "member_key": [f"m{i}" for i in range(n)],
            "sku": [f"Z{i:04d}Q" for i in range(n)],  # unique codes without a key name
            "parent_id": [1, 2] * 50,  # repeats: not a key
            "maybe_id": [None, *range(n - 1)],  # missing values: an id, not the primary key
        }
    )
    detected = detect_columns(frame)
    assert detected.primary_key == "account_no"
    assert detected.columns["account_no"]["segments"] == [
        {"literal": "AC-"},
        {"class": "digit", "length": 5},
    ]
    assert detected.columns["member_key"]["kind"] == "id"
    assert detected.columns["sku"]["segments"] == [
        {"literal": "Z"},
        {"class": "digit", "length": 4},
        {"class": "upper", "length": 1},
    ]
    assert detected.columns["parent_id"]["kind"] != "id"
    assert detected.columns["maybe_id"]["kind"] == "id"


def test_integer_card_numbers_are_pii():
    fake = Faker()
    fake.seed_instance(4)
    cards = [int(fake.credit_card_number(card_type="visa16")) for _ in range(200)]
    found = detect_columns(pd.DataFrame({"pan_value": cards, "amount": np.arange(200)}))
    assert found.columns["pan_value"]["pii_type"] == "credit_card"
    assert found.columns["amount"]["kind"] == "numerical"


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (None, "DataFrame"),
        ([{"a": 1}], "DataFrame"),
        (pd.DataFrame(), "no columns"),
        (pd.DataFrame({"a": []}), "no rows"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "'a'"),
        (pd.DataFrame({"x": [1.0, np.inf]}), "'x'"),
        (pd.DataFrame({"tags": [["a"], ["b", "c"]]}), "'tags'"),
        (pd.DataFrame({"wait": pd.to_timedelta([1, 2], unit="s")}), "'wait'"),
        (pd.DataFrame({"month": pd.period_range("2020-01", periods=2, freq="M")}), "'month'"),
        (pd.DataFrame({0: [1, 2]}), "strings"),
    ],
)
def test_bad_input_raises_data_error_naming_the_problem(bad, words):
    with pytest.raises(DataError, match=words):
        detect_columns(bad)


# ----------------------------------------------------------------- properties
_cells = st.one_of(
    st.none(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=False),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["yes", "no", "2021-03-04", "a@b.co", "123-45-6789", "10.0.0.1"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hpd.data_frames(
        columns=[
            hpd.column("mixed", elements=_cells),
            hpd.column("num", dtype=float, elements=st.floats(-1e6, 1e6)),
            hpd.column("int", dtype=int, elements=st.integers(0, 3)),
            hpd.column("word", elements=st.sampled_from(["a", "b", "c d e", "x@y.org"])),
            hpd.column("user_id", elements=st.integers(0, 10**6)),
        ],
        index=hpd.range_indexes(min_size=1, max_size=40),
    )
)
def test_detection_never_crashes_on_random_mixed_frames(frame):
    try:
        detected = detect_columns(frame)
    except DataError:
        return
    assert list(detected.columns) == list(frame.columns)
    for entry in detected.columns.values():
        assert entry["kind"] in KINDS
        if entry["kind"] == "pii":
            assert entry["pii_type"] in PII_TYPES
    json.dumps(detected.columns)
    if detected.primary_key is not None:
        assert frame[detected.primary_key].is_unique
