"""Infer the kind of every column of a table (numbers, categories, dates, keys, PII, text).

Rules, in the order they are tried for each column:

1. An all-null column is ``numerical`` if its dtype is float, else ``categorical``
   (the encoder rejects it at fit time with a clear error).
2. ``bool`` dtypes are ``boolean``; ``datetime64`` dtypes are ``datetime`` (timezone kept).
3. A column whose *name* says it holds PII (``email``, ``phone``, ``first_name``,
   ``ssn``, ``street``, ``ip_address``, ``card_number``...) is ``pii`` unless the name
   also says it is about the PII (``has_email``, ``phone_type``, ``email_domain``...),
   ends in a key word (``email_id``), or its values are two-valued flags. Words with
   other meanings (``cell``, ``mobile``, ``fax``, ``tel``, ``pan``, ``addr``) count
   only when at least half of the values look the part.
4. A unique, non-null column whose name looks like a key (``id``, ``*_id``, ``*id``,
   ``key``, ``uuid``, names ending in ``num``/``no``/``code``/``number``, or a row
   index such as ``rownames``/``Unnamed: 0``) is an ``id``; so is a unique column of
   UUID-shaped strings. The first id column is the primary key.
5. Numbers: values in {0, 1} are ``boolean``; whole numbers with at most
   ``min(round(rows / 10), 10)`` distinct values are ``categorical`` codes (SDV's
   ordinal rule, so Adult's 16-valued ``education_num`` stays numerical); an integer
   column named like a date whose values are all valid ``yyyymmdd`` dates is a
   ``datetime`` with format ``"%Y%m%d"``; 12-19 digit integers passing the Luhn check
   are card numbers; everything else is ``numerical``.
6. Strings: two-valued yes/no, y/n, true/false, t/f columns are ``boolean``; values
   that all parse as dates with one format are ``datetime`` (the strptime format is
   kept so values are written back the same way; ``"%Y%m%d"`` only for columns named
   like a date; ISO values ending in ``Z`` keep a literal ``Z`` and timezone ``UTC``);
   values where at least 90 % of a sample of up to 1,000 match an email, phone, SSN,
   IP, Luhn-valid card number, street address, postal address or person name pattern
   are ``pii`` (person names need a telling column name, or varied values that mostly
   start with a first name Faker knows; lone first names need that list too); mostly
   unique values of several words are ``text``; unique single-word strings (20 rows or
   more) are ``id``; the rest is ``categorical``. A ``category`` dtype stays
   ``categorical`` unless its name says PII.

Entries hold plain JSON values and nothing copied from the data but bounds:

- numerical: ``integer``, ``min``, ``max``, ``decimals`` (``None`` when a value needs
  more than 10 digits after the point);
- datetime: ``format`` (``None`` for datetime dtypes), ``timezone``;
- id: ``id_type`` ``"integer"`` with ``min``, ``max`` and the mean ``step`` between
  sorted keys, or ``"string"`` with ``format`` ``"uuid"`` (and ``uppercase``) or
  ``"pattern"`` with ``segments``: ``{"literal": "AC-"}`` and
  ``{"class": "digit", "length": 5}`` pieces (classes: digit, upper, lower, hex,
  HEX, upper_digit, lower_digit, alnum) and the ``count`` of real keys;
- pii: ``pii_type``, ``strategy`` ``"fake"``, and ``ip_version: 6`` for IPv6 values;
- text: ``mean_words`` (the mean number of words per value).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from synthkit._tables import check_table
from synthkit.errors import DataError
from synthkit.pii.ids import UUID_PATTERN, describe_ids
from synthkit.pii.luhn import luhn_valid
from synthkit.pii.names import (
    PART_TYPES,
    is_gender_column,
    known_first_names,
    known_name_share,
    name_relation,
    strip_accents,
)
from synthkit.pii.registry import PII_TYPES, patterns

__all__ = ["DetectedColumns", "detect_columns"]

#: Share of a value sample that must match a PII pattern for value-based detection.
PII_MATCH_SHARE = 0.9
#: Size of the sample of non-null values that value-based checks look at.
SAMPLE_SIZE = 1_000
#: Most digits after the decimal point recorded for a numerical column.
MAX_DECIMALS = 10
#: Share of distinct values (among non-null ones) that makes codes identifiers.
CODE_DISTINCT_SHARE = 0.95
#: Share of rows where a column equals a part of the full name that makes it that part.
NAME_PART_SHARE = 0.8
#: Fewest non-null values a column needs before uniqueness says it holds codes.
MIN_CODE_ROWS = 20
# Codes: letters and digits, optionally in groups joined by a separator ("AB-1234/5").
_CODE = r"[A-Za-z0-9]+(?:[-_/.:#][A-Za-z0-9]+)*"
# Last words of the name of a number used as a code (account or medical record numbers).
_CODE_WORDS = frozenset(
    {"account", "acct", "mrn", "iban", "policy", "serial", "passport", "license", "licence"}
)

_BOOLEAN_WORDS = (
    {"yes", "no"},
    {"y", "n"},
    {"true", "false"},
    {"t", "f"},
)

_EMAIL = patterns.EMAIL
_SSN = patterns.SSN
_IPV4 = patterns.IPV4
_IPV6 = patterns.IPV6
_PHONE = patterns.PHONE
_CARD = patterns.CARD
_STREET = patterns.STREET
_ADDRESS = patterns.ADDRESS
_NAME_WORD = patterns.NAME_WORD
_NAME_PREFIX = patterns.NAME_PREFIX
_FULL_NAME = patterns.FULL_NAME

# ------------------------------------------------------------------ name patterns
# Words that make a PII-sounding name describe something else (a flag, a count, a part).
_NOT_PII_WORDS = frozenset(
    [
        "has",
        "is",
        "was",
        "count",
        "cnt",
        "n",
        "verified",
        "valid",
        "validated",
        "flag",
        "type",
        "status",
        "domain",
        "provider",
        "country",
        "state",
        "city",
        "zip",
        "zipcode",
        "postcode",
        "postal",
        "length",
        "len",
        "opt",
        "optin",
        "optout",
        "consent",
        "format",
        "hash",
        "hashed",
        "md5",
        "sha",
        "encrypted",
        "masked",
        "date",
        "time",
        "at",
        "changed",
        "updated",
        "confirmed",
        "bounce",
        "bounced",
        "bounces",
        "prefix",
        "suffix",
        "area",
        "region",
        "kind",
        "category",
        "class",
    ]
)
_PERSON_WORDS = frozenset(
    [
        "full",
        "customer",
        "client",
        "person",
        "patient",
        "employee",
        "contact",
        "holder",
        "cardholder",
        "owner",
        "applicant",
        "member",
        "borrower",
        "account",
        "beneficiary",
        "recipient",
        "sender",
        "payee",
        "payer",
        "driver",
        "passenger",
        "guest",
        "student",
        "teacher",
        "doctor",
        "physician",
        "author",
        "buyer",
        "seller",
        "tenant",
        "insured",
        "subscriber",
    ]
)
_KEY_SUFFIXES = ("id", "uuid", "guid", "key", "num", "code")
_KEY_TOKENS = frozenset({"no", "nr", "number", "ref", "pk", "identifier"})
# Last words that make a name a key even when it mentions PII (``email_id``).
_STRONG_KEY_TOKENS = frozenset({"id", "uuid", "guid", "key", "pk"})
_INDEX_NAMES = re.compile(
    r"^(?:index|level_0|rownames?|row_?names?|row_?num(?:ber)?|row_?id|unnamed:?\s*_?\d+)$"
)
_DATE_NAME_WORDS = frozenset({"date", "dt", "day", "dob", "birthday", "birthdate", "ymd"})


@dataclass
class DetectedColumns:
    """What :func:`detect_columns` found.

    Attributes:
        columns: Column name to entry (``{"kind": ..., ...}``), in the frame's order.
        primary_key: The first id column whose values are unique and never missing.
        reasons: Column name to a sentence saying why it got its kind.
    """

    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    primary_key: str | None = None
    reasons: dict[str, str] = field(default_factory=dict)


def detect_columns(data: pd.DataFrame) -> DetectedColumns:
    """Infer a kind and its details for every column of ``data``.

    See the module docstring for the rules.

    Args:
        data: The real table, with at least one row and one column and unique
            column names.

    Returns:
        The entries per column and the primary key.

    Raises:
        DataError: If ``data`` is not a non-empty DataFrame, has duplicate column
            names, or a column holds values detection cannot handle (inf, lists...).

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({
        ...     "user_id": [10, 11, 12, 13],
        ...     "email": ["ann@x.org", "bo@y.com", "cy@z.net", "di@x.org"],
        ...     "score": [1.5, 2.25, 3.0, 0.5],
        ...     "active": [0, 1, 1, 0],
        ... })
        >>> found = detect_columns(df)
        >>> {name: entry["kind"] for name, entry in found.columns.items()}
        {'user_id': 'id', 'email': 'pii', 'score': 'numerical', 'active': 'boolean'}
        >>> found.primary_key, found.columns["score"]["decimals"]
        ('user_id', 2)
    """
    check_table(data)
    detected = DetectedColumns()
    for name in data.columns:
        entry = _detect_column(str(name), data[name])
        detected.reasons[str(name)] = entry.pop(REASON, None) or _DEFAULT_REASONS[entry["kind"]]
        detected.columns[str(name)] = entry
        if (
            entry["kind"] == "id"
            and detected.primary_key is None
            and bool(data[name].notna().all() and data[name].is_unique)
        ):
            detected.primary_key = str(name)
    _find_name_parts(data, detected)
    return detected


# Where an entry carries its reason while it is built (moved to DetectedColumns.reasons).
REASON = "_reason"
_DEFAULT_REASONS = {
    "numerical": "its values are numbers",
    "categorical": "its values repeat (a few distinct values)",
    "boolean": "its values are two-valued flags",
    "datetime": "its values are dates or times",
    "id": "its values are unique keys",
    "pii": "its values are personal data",
    "text": "its values are free text",
}


def _because(entry: dict[str, Any], reason: str) -> dict[str, Any]:
    entry[REASON] = reason
    return entry


def _find_name_parts(data: pd.DataFrame, detected: DetectedColumns) -> None:
    """Second pass: columns holding a part of a detected full name in the same row.

    Such a column becomes a name part that records its full-name column and part,
    and every name column records a sex or gender column of the frame, if any, so
    regeneration keeps them consistent.
    """
    full = [c for c, e in detected.columns.items() if e.get("pii_type") == "name"]
    for column, entry in detected.columns.items():
        if entry["kind"] not in ("categorical", "text", "id", "pii") or column in full:
            continue
        if entry["kind"] == "pii" and entry["pii_type"] not in PART_TYPES.values():
            continue
        if ptypes.is_numeric_dtype(data[column].dtype):
            continue
        for name in full:  # a frame has one or two full-name columns
            part, share = name_relation(data[name], data[column])
            if part is None or share < NAME_PART_SHARE:
                continue
            pii_type = PART_TYPES[part]
            found = f"{share:.0%} of its values are the {part} name of {name!r} in the same row"
            detected.reasons[column] = (
                f"{detected.reasons[column]}; {found}" if entry["kind"] == "pii" else found
            )
            detected.columns[column] = {
                "kind": "pii",
                "pii_type": pii_type,
                "strategy": "fake",
                "name_column": name,
                "name_part": part,
            }
            break
    gender = [
        c
        for c, e in detected.columns.items()
        if e["kind"] in ("categorical", "boolean") and is_gender_column(data[c])
    ]
    if gender:
        for entry in detected.columns.values():
            if entry["kind"] == "pii" and entry["pii_type"] in ("name", "first_name"):
                entry["gender_column"] = gender[0]


# ------------------------------------------------------------------- per column
def _detect_column(name: str, series: pd.Series) -> dict[str, Any]:
    dtype = series.dtype
    values = series.dropna()
    if values.empty:
        if ptypes.is_float_dtype(dtype):
            return {
                "kind": "numerical",
                "integer": False,
                "min": None,
                "max": None,
                "decimals": None,
            }
        return _because({"kind": "categorical"}, "every value is missing")
    if ptypes.is_bool_dtype(dtype):
        return _because({"kind": "boolean"}, f"its dtype is {dtype}")
    if ptypes.is_datetime64_any_dtype(dtype):
        return _because(
            {"kind": "datetime", "format": None, "timezone": _timezone_of(dtype)},
            f"its dtype is {dtype}",
        )
    if isinstance(dtype, pd.PeriodDtype):
        raise DataError(
            f"Column {name!r} has dtype {dtype}; convert it to datetimes with "
            "series.dt.to_timestamp() or to strings first."
        )
    if ptypes.is_timedelta64_dtype(dtype) or ptypes.is_complex_dtype(dtype):
        raise DataError(
            f"Column {name!r} has dtype {dtype}, which synthkit does not model; convert it "
            "to numbers (for example series.dt.total_seconds()) or strings first."
        )
    is_category = isinstance(dtype, pd.CategoricalDtype)
    if is_category:
        values = values.astype(values.cat.categories.dtype)
    elif ptypes.is_object_dtype(dtype):
        values = _typed_objects(name, values)
        if ptypes.is_bool_dtype(values.dtype):
            return {"kind": "boolean"}
        if ptypes.is_datetime64_any_dtype(values.dtype):
            return {"kind": "datetime", "format": None, "timezone": _timezone_of(values.dtype)}

    numeric = ptypes.is_numeric_dtype(values.dtype)
    tokens, squashed = _name_tokens(name)
    name_pii = _pii_type_from_name(tokens, squashed)
    if name_pii is not None and _name_pii_holds(*name_pii, tokens, values, numeric):
        reason = "weak name word confirmed by its values" if name_pii[1] else "name word"
        if name_pii[0] == "name":
            part = _single_name_part(values)
            if part is not None:
                return _pii_entry(part[0], values, f"its name says name and {part[1]}")
        return _pii_entry(name_pii[0], values, f"its name says {name_pii[0]} ({reason})")

    unique = bool(series.notna().all() and values.is_unique)
    key_name = _is_key_name(tokens, squashed) or bool(_INDEX_NAMES.match(name.strip().lower()))
    if unique and key_name:
        entry = describe_ids(values, numeric)
        if entry is not None:
            return _because(entry, "its name says key and every value is distinct")
    if is_category:
        return _because({"kind": "categorical"}, "its dtype is category")

    if numeric:
        return _numeric_kind(name, tokens, squashed, values, len(series))
    return _string_kind(tokens, values, unique, len(series))


def _typed_objects(name: str, values: pd.Series) -> pd.Series:
    """Give an object column of Python numbers, bools or datetimes a proper dtype."""
    inferred = ptypes.infer_dtype(values, skipna=True)
    if inferred == "boolean":
        return values.astype(bool)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return pd.to_numeric(values)
    if inferred in ("datetime", "datetime64", "date"):
        try:
            return pd.to_datetime(values)
        except (ValueError, TypeError):
            return values.astype(str)
    if inferred in ("mixed", "mixed-integer", "bytes", "unknown-array"):
        try:
            values.nunique()
        except TypeError:
            raise DataError(
                f"Column {name!r} holds unhashable values such as lists or dicts; "
                "flatten it into scalar columns or convert it to strings first."
            ) from None
    return values


def _timezone_of(dtype: Any) -> str | None:
    tz = getattr(dtype, "tz", None)
    if tz is None and isinstance(dtype, pd.ArrowDtype):
        tz = getattr(dtype.pyarrow_dtype, "tz", None)
    return None if tz is None else str(tz)


# ---------------------------------------------------------------------- names
def _name_tokens(name: str) -> tuple[list[str], str]:
    """Split ``"customerEmail_2"`` into ``["customer", "email", "2"]`` plus ``"customeremail2"``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", strip_accents(name))
    tokens = re.findall(r"[a-z]+|\d+", spaced.lower())
    return tokens, "".join(tokens)


def _is_key_name(tokens: list[str], squashed: str) -> bool:
    if not tokens:
        return False
    return squashed.endswith(_KEY_SUFFIXES) or tokens[-1] in _KEY_TOKENS


def _pii_type_from_name(tokens: list[str], squashed: str) -> tuple[str, bool] | None:
    """The PII type a column name announces and whether the word is weak, or ``None``.

    The words come from the registry (:data:`synthkit.pii.PII_TYPES`), tried in its
    order; a weak word (``cell``, ``first``, ``nom``) counts only when the values agree.
    """
    words = set(tokens)
    if not words or words & _NOT_PII_WORDS:
        return None
    if squashed in ("remoteaddr", "clientip"):
        return "ip", False
    squashed = squashed.replace("voicemail", "")
    weak: str | None = None
    for name, pii in PII_TYPES.items():  # a dozen types, tried in the registry's order
        if any(part in squashed for part in pii.name_parts) or words & pii.name_words:
            return name, False
        if weak is None and words & pii.weak_words:
            weak = name
    if "name" in words and (squashed in ("name", "names") or words & _PERSON_WORDS):
        return "name", False
    return (weak, True) if weak is not None else None


def _single_name_part(values: pd.Series) -> tuple[str, str] | None:
    """A ``name`` column of single words holds first or last names only (``"Allison"``)."""
    sample = _sample(values).astype(str).str.strip()
    if sample.str.contains(r"\s|,").mean() > 0.1:
        return None
    for pii_type in ("first_name", "last_name"):
        share = known_name_share(sample, pii_type)
        if share >= 0.5:
            return pii_type, f"{share:.0%} of a sample are single {pii_type.replace('_', ' ')}s"
    return None


def _name_pii_holds(
    pii_type: str, weak: bool, tokens: list[str], values: pd.Series, numeric: bool
) -> bool:
    """Whether a PII-sounding name is borne out: not a key, a flag or a number of the wrong kind."""
    if tokens[-1] in _STRONG_KEY_TOKENS or _looks_boolean(values, numeric):
        return False
    if numeric and pii_type not in ("phone", "ssn", "credit_card"):
        return False
    return not weak or _values_agree(pii_type, values)


def _values_agree(pii_type: str, values: pd.Series) -> bool:
    """Whether a sample looks like ``pii_type`` (for weak name hints).

    Half the values must look the part; name parts need three in ten to be names
    Faker knows (a ``family`` column of plant families is no surname).
    """
    sample = _sample(values).astype(str).str.strip()
    if pii_type == "phone":
        return bool(sample.str.fullmatch(rf"{_PHONE}|\+?\d{{7,15}}").mean() >= 0.5)
    if pii_type == "credit_card":
        return _luhn_share(sample) >= 0.5
    if pii_type == "initials":
        return bool(sample.str.fullmatch(patterns.INITIALS).mean() >= PII_MATCH_SHARE)
    if PII_TYPES[pii_type].name_part:
        return known_name_share(sample, pii_type) >= 0.3
    # Addresses: a number and words.
    return bool(sample.str.contains(r"\d+\s+\w+", regex=True).mean() >= 0.5)


def _looks_boolean(values: pd.Series, numeric: bool) -> bool:
    """Two-valued flags such as 0/1 or yes/no (``phone`` as a has-a-phone flag)."""
    distinct = pd.unique(values)
    if len(distinct) != 2:
        return False
    if numeric:
        return set(np.asarray(distinct, dtype=float).tolist()) == {0.0, 1.0}
    return {str(value).strip().lower() for value in distinct} in _BOOLEAN_WORDS


def _names_a_date(tokens: list[str]) -> bool:
    return bool(set(tokens) & _DATE_NAME_WORDS)


# --------------------------------------------------------------------- entries
def _pii_entry(pii_type: str, values: pd.Series, reason: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": "pii", "pii_type": pii_type, "strategy": "fake"}
    entry[REASON] = reason
    if pii_type == "ip":
        sample = _sample(values).astype(str).str.strip()
        if sample.str.fullmatch(_IPV6).mean() >= PII_MATCH_SHARE:
            entry["ip_version"] = 6
    return entry


def _numeric_kind(
    name: str, tokens: list[str], squashed: str, values: pd.Series, n_rows: int
) -> dict[str, Any]:
    numbers = values.to_numpy(dtype=float)
    if not np.all(np.isfinite(numbers)):
        raise DataError(
            f"Column {name!r} holds infinite values; replace them with NaN or finite "
            "numbers (df[col].replace([np.inf, -np.inf], np.nan)) before detection."
        )
    whole = bool(np.all(numbers == np.round(numbers)))
    distinct = np.unique(numbers)
    if whole and len(distinct) == 2 and set(distinct.tolist()) == {0.0, 1.0}:
        return _because({"kind": "boolean"}, "its values are 0 and 1")
    if whole and len(distinct) <= min(round(n_rows / 10), 10):
        return _because(
            {"kind": "categorical"},
            f"its whole numbers take only {len(distinct)} distinct values (codes of categories)",
        )
    if whole and _names_a_date(tokens) and _all_yyyymmdd(distinct):
        return _because(
            {"kind": "datetime", "format": "%Y%m%d", "timezone": None},
            "its name says date and every value is a yyyymmdd date",
        )
    if _card_numbers(values):
        return _pii_entry("credit_card", values, "its values are card numbers (Luhn check)")
    code = _number_codes(tokens, squashed, values, distinct, whole)
    if code is not None:
        return code
    if whole and tokens and tokens[-1] in _STRONG_KEY_TOKENS:
        # Repeated ids (NAFLD's case.id: the patient a control is matched to) point at
        # records; their numbers measure nothing and name people, so they are not learned.
        entry = describe_ids(values, numeric=True)
        if entry is not None:
            return _because(
                entry,
                f"its name says identifier and its {len(values)} whole numbers take "
                f"{len(distinct)} distinct values (references to records, not measures)",
            )
    integer = whole
    # Integer dtypes give exact bounds; floats through float64.
    bounds = values if ptypes.is_integer_dtype(values.dtype) else numbers
    low, high = bounds.min(), bounds.max()
    entry = {
        "kind": "numerical",
        "integer": bool(integer),
        "min": int(low) if integer else float(low),
        "max": int(high) if integer else float(high),
        "decimals": 0 if integer else _decimals(distinct),
    }
    return _because(entry, "its values are numbers")


def _number_codes(
    tokens: list[str], squashed: str, values: pd.Series, distinct: np.ndarray, whole: bool
) -> dict[str, Any] | None:
    """An ``id`` entry for nearly unique whole numbers used as codes, not measures.

    The name must say so (``account``, ``mrn``, ``*_number``, ``*_code``...) or every
    value must have the same number of digits (six or more): a nearly unique
    measurement such as Adult's ``fnlwgt`` stays numerical.
    """
    share = len(distinct) / len(values)
    if not whole or len(values) < MIN_CODE_ROWS or share < CODE_DISTINCT_SHARE:
        return None
    if distinct.min() < 0:
        return None
    named = _is_key_name(tokens, squashed) or bool(tokens and tokens[-1] in _CODE_WORDS)
    digits = np.unique(np.floor(np.log10(np.maximum(distinct, 1))).astype(np.int64) + 1)
    fixed = len(digits) == 1 and int(digits[0]) >= 6
    if not (named or fixed):
        return None
    entry = describe_ids(values, numeric=True)
    if entry is None:
        return None
    why = "its name says code or number" if named else f"every value has {int(digits[0])} digits"
    return _because(entry, f"{share:.0%} of its {len(values)} whole numbers are distinct and {why}")


def _card_numbers(values: pd.Series) -> bool:
    """Integer columns of 12-19 digit numbers that pass the Luhn check."""
    if not ptypes.is_integer_dtype(values.dtype) or values.min() < 10**11:
        return False
    sample = _sample(values).astype("int64").astype(str)
    return _luhn_share(sample) >= PII_MATCH_SHARE


def _decimals(distinct: np.ndarray) -> int | None:
    """Most digits after the point any value needs (<= MAX_DECIMALS), else None."""
    remaining = distinct[:100_000]
    for digits in range(MAX_DECIMALS + 1):  # loop over digit counts, not rows
        # A few float ulps: 0.1 + 0.2 still has one decimal.
        tolerance = 8 * np.spacing(np.abs(remaining))
        remaining = remaining[np.abs(np.round(remaining, digits) - remaining) > tolerance]
        if remaining.size == 0:
            return digits
    return None


def _all_yyyymmdd(distinct: np.ndarray) -> bool:
    if distinct.min() < 1000_01_01 or distinct.max() > 2999_12_31:
        return False
    text = pd.Series(distinct.astype("int64")).astype(str)
    parsed = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
    return bool(parsed.notna().all())


def _string_kind(tokens: list[str], values: pd.Series, unique: bool, n_rows: int) -> dict[str, Any]:
    # Work on distinct values and samples: a million-row column costs one hash pass.
    distinct = pd.Series(pd.unique(values)).astype(str)
    if len(distinct) == 2 and set(distinct.str.strip().str.lower()) in _BOOLEAN_WORDS:
        return _because({"kind": "boolean"}, f"its two values are {sorted(distinct)}")
    date_format = _date_format(distinct, _names_a_date(tokens))
    if date_format is not None:
        reason = f"every value parses as a date with format {date_format!r}"
        if date_format.endswith("%z") and bool(distinct.str.endswith("Z").all()):
            # strftime writes %z as "+0000": a literal Z writes "...Z" values back unchanged.
            entry = {"kind": "datetime", "format": date_format[:-2] + "Z", "timezone": "UTC"}
            return _because(entry, reason)
        return _because({"kind": "datetime", "format": date_format, "timezone": None}, reason)
    sample = _sample(values).astype(str)
    pii_type = _pii_type_from_values(sample, tokens)
    if pii_type is not None:
        return _pii_entry(pii_type, sample, _value_reason(pii_type, sample, tokens))
    if unique and sample.str.fullmatch(UUID_PATTERN).all():
        return _because(describe_ids(distinct, numeric=False), "its values are distinct UUIDs")
    code = _string_codes(values, distinct, sample)
    if code is not None:
        return code
    words = sample.str.count(r"\S+")
    distinct_share = len(distinct) / len(values)
    if distinct_share >= 0.5 and words.mean() >= 3:
        mean_words = _sample(values, 20 * SAMPLE_SIZE).astype(str).str.count(r"\S+").mean()
        return _because(
            {"kind": "text", "mean_words": round(float(mean_words), 3)},
            f"{distinct_share:.0%} of its values are distinct, of {words.mean():.1f} words "
            "on average (free text)",
        )
    if unique and n_rows >= 20 and (words == 1).all():
        return _because(
            describe_ids(distinct, numeric=False), "every value is a distinct single word"
        )
    return _because(
        {"kind": "categorical"},
        f"its {len(values)} values take {len(distinct)} distinct strings",
    )


def _string_codes(
    values: pd.Series, distinct: pd.Series, sample: pd.Series
) -> dict[str, Any] | None:
    """An ``id`` entry for nearly unique codes of a stable shape (``13011352CF10A``, ``N10156``).

    A few duplicates and missing values are allowed: such a column points at people
    or things one by one, so it is regenerated, never learned.
    """
    share = len(distinct) / len(values)
    if len(values) < MIN_CODE_ROWS or share < CODE_DISTINCT_SHARE:
        return None
    if sample.str.fullmatch(_CODE).mean() < 0.95 or sample.str.contains(r"\d").mean() < 0.9:
        return None
    lengths = sample.str.len()
    if lengths.median() < 4 or lengths.quantile(0.95) - lengths.quantile(0.05) > 3:
        return None
    return _because(
        describe_ids(distinct, numeric=False),
        f"{share:.0%} of its {len(values)} values are distinct and look like codes "
        f"(letters and digits, about {int(lengths.median())} characters)",
    )


def _value_reason(pii_type: str, sample: pd.Series, tokens: list[str]) -> str:
    pattern = PII_TYPES[pii_type].pattern
    if pii_type == "credit_card":
        return f"{_luhn_share(sample):.0%} of a sample are card numbers passing the Luhn check"
    if pii_type in ("first_name", "last_name") and pattern is not None:
        share = known_name_share(sample, pii_type)
        return f"{share:.0%} of a sample are {pii_type.replace('_', ' ')}s Faker knows"
    share = float(sample.str.fullmatch(pattern).mean()) if pattern else 1.0
    return f"{share:.0%} of a sample match the {pii_type} pattern"


def _sample(values: pd.Series, size: int = SAMPLE_SIZE) -> pd.Series:
    """A fixed random sample, so detection gives the same answer every time."""
    if len(values) <= size:
        return values
    return values.sample(size, random_state=0)


def _date_format(distinct: pd.Series, named_like_date: bool) -> str | None:
    """The one strptime format every value parses with, or None."""
    from pandas.tseries.api import guess_datetime_format

    # str(): the guesser rejects subclasses of str, such as numpy's strings.
    probe = [str(value) for value in distinct.iloc[:20].tolist()]
    candidates: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dayfirst in (False, True):
            for value in probe:
                guess = guess_datetime_format(value, dayfirst=dayfirst)
                if guess and guess not in candidates:
                    candidates.append(guess)
    for candidate in candidates:  # a handful of formats, each checked vectorized
        if not re.search(r"%[Yy]", candidate) or not re.search(r"%[mbB]", candidate):
            continue
        if candidate == "%Y%m%d" and not named_like_date:
            continue
        # A sample first: most wrong formats fail there, before a full pass.
        if _parses(distinct.iloc[:SAMPLE_SIZE], candidate) and _parses(distinct, candidate):
            return candidate
    return None


def _parses(values: pd.Series, date_format: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, format=date_format, errors="coerce", utc=True)
    return bool(parsed.notna().all())


# ------------------------------------------------------------------- PII values
def _pii_type_from_values(sample: pd.Series, tokens: list[str]) -> str | None:
    """PII type that at least PII_MATCH_SHARE of the sample matches, else None."""

    def share(pattern: str) -> float:
        return float(sample.str.fullmatch(pattern).mean())

    if share(_EMAIL) >= PII_MATCH_SHARE:
        return "email"
    if share(_SSN) >= PII_MATCH_SHARE:
        return "ssn"
    if share(_IPV4) >= PII_MATCH_SHARE or share(_IPV6) >= PII_MATCH_SHARE:
        return "ip"
    if _luhn_share(sample) >= PII_MATCH_SHARE:
        return "credit_card"
    # Bare 10-11 digit numbers count as phones only beside mostly formatted ones.
    formatted = sample.str.fullmatch(_PHONE)
    if formatted.mean() >= 0.5 and (formatted | sample.str.fullmatch(r"\d{10,11}")).mean() >= (
        PII_MATCH_SHARE
    ):
        return "phone"
    if share(_ADDRESS) >= PII_MATCH_SHARE:
        return "address"
    if share(_STREET) >= PII_MATCH_SHARE:
        return "street_address"
    words = set(tokens)
    if words & {"city", "town", "country", "company", "product", "state", "county", "brand"}:
        return None
    distinct_share = sample.nunique() / len(sample)
    person_hint = bool(words & (_PERSON_WORDS | {"name"}))
    # Without a telling column name, names must also be varied and mostly start with a
    # known first name, so "New York" or "Red Sox" categories are not taken for people.
    if share(_FULL_NAME) >= PII_MATCH_SHARE and (
        person_hint or (distinct_share >= 0.3 and _first_name_share(sample) >= 0.5)
    ):
        return "name"
    if (
        sample.nunique() >= 20
        and distinct_share >= 0.02
        and sample.isin(known_first_names()).mean() >= PII_MATCH_SHARE
    ):
        return "first_name"
    # Surnames: Faker's lists hold fewer of them, so seven in ten single words suffice.
    if (
        sample.nunique() >= 20
        and distinct_share >= 0.02
        and share(patterns.NAME_PART) >= PII_MATCH_SHARE
        and known_name_share(sample, "last_name") >= 0.7
    ):
        return "last_name"
    if person_hint and share(_NAME_WORD) >= PII_MATCH_SHARE:
        if words & {"first", "given"}:
            return "first_name"
        if words & {"last", "family"}:
            return "last_name"
    return None


def _first_name_share(sample: pd.Series) -> float:
    first_words = sample.str.replace(rf"^{_NAME_PREFIX}", "", regex=True).str.split(" ").str[0]
    return float(first_words.isin(known_first_names()).mean())


def _luhn_share(sample: pd.Series) -> float:
    """Share of values that are 12-19 digit numbers passing the Luhn checksum."""
    shaped = sample.str.fullmatch(_CARD)
    if not shaped.any():
        return 0.0
    digits = sample[shaped].str.replace(r"[ -]", "", regex=True)
    return float(luhn_valid(digits.to_numpy(dtype=str)).sum() / len(sample))
