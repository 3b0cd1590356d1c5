"""Regeneration of ids, PII and free text: counts, shapes, uniqueness, seeds, no copies."""

from __future__ import annotations

import ipaddress
import re
import uuid

import numpy as np
import pandas as pd
import pytest
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st

from synthkit._detection import detect_columns
from synthkit.errors import MetadataError, ParameterError
from synthkit.pii import fake_text, fake_values, generate_ids, regenerate

DATA = "tests/data"
PII_TYPES = [
    "email",
    "phone",
    "name",
    "first_name",
    "last_name",
    "ssn",
    "address",
    "street_address",
    "ip",
    "credit_card",
]
SHAPES = {
    "email": r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]{2,}",
    "phone": r"[+(]?[0-9][0-9()+. x-]{8,}[0-9]",
    "name": r"[A-Z][A-Za-z'-]+ [A-Z][A-Za-z'-]+",
    "first_name": r"[A-Z][a-z]+",
    "last_name": r"[A-Z][A-Za-z'-]+",
    "ssn": r"(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}",
    "address": r"(?s).+\n.+ [A-Z]{2} \d{5}",
    "street_address": r"\d+ [A-Z][A-Za-z ]+(?: (?:Apt\.|Suite) \d+)?",
    "ip": r"(?:\d{1,3}\.){3}\d{1,3}",
    "credit_card": r"\d{12,19}",
}


def luhn_ok(number: str) -> bool:
    digits = [int(ch) for ch in number][::-1]
    total = sum(d if i % 2 == 0 else (2 * d - 9 if d > 4 else 2 * d) for i, d in enumerate(digits))
    return total % 10 == 0


def pii(pii_type: str, **extra) -> dict:
    return {"kind": "pii", "pii_type": pii_type, "strategy": "fake", **extra}


# ------------------------------------------------------------------------ PII
@pytest.mark.parametrize("pii_type", PII_TYPES)
def test_fake_values_have_the_type_shape_and_are_seeded(pii_type):
    values = fake_values(pii(pii_type), 2_000, seed=11)
    assert values.shape == (2_000,) and values.dtype == object
    assert all(isinstance(value, str) for value in values)
    shaped = pd.Series(values).str.fullmatch(SHAPES[pii_type])
    assert shaped.all(), values[~shaped.to_numpy()][:5]
    assert (fake_values(pii(pii_type), 2_000, seed=11) == values).all()
    assert (fake_values(pii(pii_type), 2_000, seed=12) != values).mean() > 0.5


@pytest.mark.parametrize("pii_type", ["email", "phone", "ssn", "ip", "credit_card"])
def test_identifying_values_are_unique(pii_type):
    values = fake_values(pii(pii_type), 20_000, seed=3)
    assert pd.Series(values).is_unique


def test_card_numbers_pass_luhn_and_keep_issuer_prefixes():
    cards = fake_values(pii("credit_card"), 3_000, seed=5)
    assert all(luhn_ok(card) for card in cards)
    assert {card[0] for card in cards} >= {"3", "4", "5"}  # amex/jcb, visa, mastercard


def test_ipv6_columns_get_ipv6_values():
    values = fake_values(pii("ip", ip_version=6), 500, seed=2)
    assert all(ipaddress.ip_address(value).version == 6 for value in values)
    assert all(ipaddress.ip_address(v).is_global for v in fake_values(pii("ip"), 500, seed=2))


def test_regenerated_values_are_detected_as_the_same_type():
    frame = pd.DataFrame(
        {f"col{i}": fake_values(pii(kind), 1_500, seed=i) for i, kind in enumerate(PII_TYPES)}
    )
    frame["ip6"] = fake_values(pii("ip", ip_version=6), 1_500, seed=99)
    found = detect_columns(frame).columns
    for i, kind in enumerate(PII_TYPES):
        if kind not in ("first_name", "last_name"):  # single words need a telling name
            assert found[f"col{i}"]["pii_type"] == kind
    assert found["ip6"]["ip_version"] == 6


@pytest.mark.parametrize("pii_type", ["email", "phone", "name", "ssn", "address", "credit_card"])
def test_no_real_value_is_copied(pii_type):
    fake = Faker("en_US")
    fake.seed_instance(8)
    method = {
        "email": "email",
        "phone": "phone_number",
        "name": "name",
        "ssn": "ssn",
        "address": "address",
        "credit_card": "credit_card_number",
    }[pii_type]
    real = [getattr(fake, method)() for _ in range(3_000)]
    # Worst case: the real column was itself made by this generator with this seed.
    real += fake_values(pii(pii_type), 3_000, seed=21).tolist()
    regenerated = fake_values(pii(pii_type), 3_000, seed=21, exclude=real)
    assert not set(regenerated) & set(real)
    assert len(regenerated) == 3_000


def test_other_locales_give_ascii_emails():
    emails = fake_values(pii("email"), 300, seed=1, locale="de_DE")
    assert pd.Series(emails).str.fullmatch(SHAPES["email"]).all()
    names = fake_values(pii("name"), 300, seed=1, locale="de_DE")
    assert len(set(names)) > 100


def test_zero_rows_and_bad_arguments():
    assert fake_values(pii("email"), 0, seed=0).shape == (0,)
    assert generate_ids({"kind": "id"}, 0, seed=0).shape == (0,)
    assert fake_text(0, seed=0).shape == (0,)
    for bad_n in (-1, 2.5, True, "3"):
        with pytest.raises(ParameterError, match="n="):
            fake_values(pii("email"), bad_n, seed=0)
    with pytest.raises(ParameterError, match="seed="):
        generate_ids({"kind": "id"}, 3, seed=-4)
    with pytest.raises(ParameterError, match="locale"):
        fake_values(pii("name"), 3, seed=0, locale="xx_YY")
    with pytest.raises(MetadataError, match="passport"):
        fake_values(pii("passport"), 3, seed=0)
    with pytest.raises(ParameterError, match="mean_words"):
        fake_text(3, seed=0, mean_words=0)


# ----------------------------------------------------------------------- text
def test_fake_text_matches_the_mean_length_and_is_seeded():
    texts = fake_text(5_000, seed=4, mean_words=18.5)
    words = pd.Series(texts).str.split().str.len()
    assert words.mean() == pytest.approx(18.5, rel=0.05)
    assert words.min() >= 1
    assert all(text[0].isupper() and text.endswith(".") for text in texts)
    assert (fake_text(5_000, seed=4, mean_words=18.5) == texts).all()
    assert (fake_text(5_000, seed=5, mean_words=18.5) != texts).all()


def test_text_columns_regenerate_with_the_detected_length():
    fake = Faker()
    fake.seed_instance(0)
    real = pd.DataFrame({"review": [fake.paragraph(nb_sentences=4) for _ in range(400)]})
    entry = detect_columns(real).columns["review"]
    texts = regenerate(entry, 2_000, seed=1)
    real_mean = real["review"].str.split().str.len().mean()
    assert pd.Series(texts).str.split().str.len().mean() == pytest.approx(real_mean, rel=0.1)
    assert not set(texts) & set(real["review"])


# ------------------------------------------------------------------------ ids
def test_integer_ids_continue_above_the_real_ones():
    frame = pd.read_csv(f"{DATA}/actg175.csv.gz")
    entry = detect_columns(frame).columns["pidnum"]
    ids = generate_ids(entry, 5_000, seed=3)
    assert ids.dtype == np.int64 and pd.Series(ids).is_unique
    assert ids.min() > frame["pidnum"].max()
    assert (np.diff(ids) > 0).all()
    assert np.diff(ids).mean() == pytest.approx(entry["step"], rel=0.1)  # gaps look real
    assert not (generate_ids(entry, 5_000, seed=4) == ids).all()
    assert (generate_ids(entry, 5_000, seed=3) == ids).all()


def test_row_index_ids_count_on_from_the_end():
    frame = pd.read_csv(f"{DATA}/lending_club.csv.gz")
    entry = detect_columns(frame).columns["rownames"]
    ids = generate_ids(entry, 100, seed=0)
    assert ids.tolist() == list(range(9_858, 9_958))


def test_uuid_ids_are_version_4_and_unique():
    real = [str(uuid.uuid4()).upper() for _ in range(300)]
    entry = detect_columns(pd.DataFrame({"ref": real})).columns["ref"]
    ids = generate_ids(entry, 50_000, seed=9, exclude=real)
    assert pd.Series(ids).is_unique
    assert all(uuid.UUID(value).version == 4 for value in ids[:1_000])
    assert all(value == value.upper() for value in ids[:1_000])
    assert not set(ids) & set(real)


def test_pattern_ids_look_like_the_real_ones_and_avoid_them():
    real = [f"CUST-{i:04d}-{chr(65 + i % 26)}" for i in range(0, 9_000)]
    entry = detect_columns(pd.DataFrame({"customer_code": real})).columns["customer_code"]
    ids = generate_ids(entry, 2_000, seed=1, exclude=real)
    assert pd.Series(ids).str.fullmatch(r"CUST-\d{4,}-[A-Z]").all()
    assert not set(ids) & set(real)
    assert pd.Series(ids).is_unique


def test_small_patterns_grow_to_hold_every_id():
    entry = {
        "kind": "id",
        "id_type": "string",
        "format": "pattern",
        "segments": [{"literal": "X"}, {"class": "digit", "length": 1}],
    }
    ids = generate_ids(entry, 5_000, seed=0)
    assert pd.Series(ids).is_unique and all(value.startswith("X") for value in ids)


def test_without_the_real_keys_new_keys_still_avoid_them():
    real = [f"AC-{i:05d}" for i in range(40_000)]
    entry = detect_columns(pd.DataFrame({"account_no": real})).columns["account_no"]
    assert entry["count"] == 40_000
    ids = generate_ids(entry, 5_000, seed=2)  # the sampler keeps no real values
    assert not set(ids) & set(real)
    assert pd.Series(ids).str.fullmatch(r"AC-\d{6}").all()
    # Keys from a vast space keep their exact shape.
    sparse = {**entry, "count": 10, "segments": [{"class": "alnum", "length": 12}]}
    assert pd.Series(generate_ids(sparse, 100, seed=2)).str.fullmatch(r"[A-Za-z0-9]{12}").all()


def test_nearly_full_patterns_grow_instead_of_failing():
    real = [f"C{i:04d}" for i in range(9_900)]  # 99 % of C0000..C9999 taken
    entry = detect_columns(pd.DataFrame({"code": real})).columns["code"]
    ids = generate_ids(entry, 1_000, seed=0, exclude=real)
    assert pd.Series(ids).is_unique and not set(ids) & set(real)
    assert all(value.startswith("C") and value[1:].isdigit() for value in ids)


def test_ids_from_bare_or_sdv_entries():
    assert generate_ids({"kind": "id"}, 3, seed=0).tolist() == [1, 2, 3]
    assert regenerate({"kind": "id"}, 2, seed=0).tolist() == [1, 2]
    with pytest.raises(MetadataError, match="numerical"):
        regenerate({"kind": "numerical"}, 2, seed=0)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 3_000),
    seed=st.integers(0, 2**32),
    segments=st.lists(
        st.one_of(
            st.fixed_dictionaries({"literal": st.text("AB-_/", min_size=1, max_size=3)}),
            st.fixed_dictionaries(
                {
                    "class": st.sampled_from(["digit", "upper", "lower", "hex", "alnum"]),
                    "length": st.integers(1, 4),
                }
            ),
        ),
        max_size=4,
    ),
)
def test_generated_ids_are_unique_for_any_n(n, seed, segments):
    entry = {"kind": "id", "id_type": "string", "format": "pattern", "segments": segments}
    ids = generate_ids(entry, n, seed)
    assert len(ids) == n and pd.Series(ids, dtype=object).is_unique
    literal = "".join(s.get("literal", "") for s in segments[:1] if "literal" in s)
    assert all(value.startswith(literal) for value in ids)
    numbers = generate_ids({"kind": "id", "id_type": "integer", "min": 0, "max": 5}, n, seed)
    assert len(numbers) == n and pd.Series(numbers).is_unique


def test_ids_regex_classes_are_respected():
    entry = {
        "kind": "id",
        "id_type": "string",
        "format": "pattern",
        "segments": [
            {"class": "upper", "length": 2},
            {"literal": "-"},
            {"class": "hex", "length": 6},
        ],
    }
    ids = generate_ids(entry, 1_000, seed=2)
    assert all(re.fullmatch(r"[A-Z]{2}-[0-9a-f]{6}", value) for value in ids)


def test_threads_drawing_at_once_get_the_same_values_as_alone():
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(kind, seed) for kind in ("email", "address") for seed in range(3)]
    alone = [fake_values(pii(kind), 500, seed) for kind, seed in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda job: fake_values(pii(job[0]), 500, job[1]), jobs))
    assert all((a == b).all() for a, b in zip(alone, together, strict=True))
    assert (regenerate(pii("email"), 500, 0) == alone[0]).all()


# ------------------------------------------------------------ registry, Luhn, ids
def test_every_registered_type_generates_values_its_pattern_reads():
    from synthkit.pii.registry import PII_TYPES as REGISTRY

    for name, pii_type in REGISTRY.items():
        values = pd.Series(fake_values(pii(name), 300, seed=2)).astype(str)
        assert len(values) == 300
        if pii_type.pattern is not None and name not in ("address", "phone"):
            assert values.str.fullmatch(pii_type.pattern).mean() >= 0.9, name


@given(st.lists(st.integers(0, 9), min_size=11, max_size=18))
@settings(max_examples=50, deadline=None)
def test_luhn_digit_written_then_checked(digits):
    from synthkit.pii.luhn import luhn_valid, with_luhn_digit

    number = "".join(map(str, digits))
    fixed = with_luhn_digit(np.array([number]))[0]
    assert fixed[:-1] == number[:-1]
    assert luhn_valid([fixed]).tolist() == [True] == [luhn_ok(fixed)]
    wrong = fixed[:-1] + str((int(fixed[-1]) + 1) % 10)
    assert luhn_valid([wrong]).tolist() == [False]


def test_keys_of_several_shapes_keep_their_shapes_and_shares():
    from synthkit.pii.ids import describe_ids

    real = pd.Series([f"N{i:03d}UW" for i in range(300)] + [f"N{i:05d}" for i in range(100)])
    entry = describe_ids(real, numeric=False)
    assert [shape["share"] for shape in entry["shapes"]] == [0.75, 0.25]
    keys = pd.Series(generate_ids(entry, 4_000, seed=0))
    assert keys.is_unique and not keys.isin(real).any()
    shapes = keys.str.replace(r"\d", "9", regex=True).str.replace(r"[A-Z]", "A", regex=True)
    assert abs(shapes.str.endswith("AA").mean() - 0.75) < 0.03
