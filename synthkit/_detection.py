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

import functools
import importlib
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from synthkit._tables import check_table
from synthkit.errors import DataError

__all__ = ["DetectedColumns", "detect_columns"]

#: Share of a value sample that must match a PII pattern for value-based detection.
PII_MATCH_SHARE = 0.9
#: Size of the sample of non-null values that value-based checks look at.
SAMPLE_SIZE = 1_000
#: Most digits after the decimal point recorded for a numerical column.
MAX_DECIMALS = 10

_BOOLEAN_WORDS = (
    {"yes", "no"},
    {"y", "n"},
    {"true", "false"},
    {"t", "f"},
)

# ----------------------------------------------------------------- value patterns
_EMAIL = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_SSN = r"\d{3}-\d{2}-\d{4}"
_IPV4_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_IPV4_OCTET}(?:\.{_IPV4_OCTET}){{3}}"
_IPV6 = r"(?=[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:)(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}"
# North-American and international shapes: separators or a leading + are required,
# so plain digit strings (ids, amounts) are never taken for phone numbers.
_PHONE = (
    r"(?:\+\d{1,3}[\s.-]?|00\d{1,3}[\s.-]?|1[\s.-])?"
    r"(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{2,4}(?:[\s.-]\d{2,4}){1,2}"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,5})?"
    r"|\+\d{7,15}"
)
_CARD = r"\d(?:[ -]?\d){11,18}"
_STREET = (
    r"\d{1,6}[A-Za-z]?\s+(?:[A-Z0-9][A-Za-z0-9'.-]*\s+){0,4}[A-Z][A-Za-z'.-]*"
    r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|#)\s*[A-Za-z0-9-]+)?"
)
_CITY_LINE = r"[A-Z][A-Za-z .'-]*,?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?"
_MILITARY = (
    r"(?:PSC|Unit|USNS|USNV|USS|USCGC)\s+[A-Za-z0-9 ,]+"
    r"(?:\n|,\s*)(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5}"
)
_ADDRESS = rf"(?:{_STREET}(?:\n|,\s*){_CITY_LINE}|{_MILITARY})"
_NAME_WORD = r"[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)*"
_NAME_PREFIX = r"(?:(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+)?"
_NAME_SUFFIX = r"(?:,?\s+(?:Jr\.?|Sr\.?|II|III|IV|MD|PhD|DDS|DVM|Esq\.?))?"
_FULL_NAME = rf"{_NAME_PREFIX}{_NAME_WORD}(?:\s+(?:[A-Z]\.|{_NAME_WORD})){{1,2}}{_NAME_SUFFIX}"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

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
# Name words with other meanings too ("cell_size", "pan_width", "mobile_app"): their
# PII reading needs the values to agree.
_WEAK_PII_WORDS = frozenset({"cell", "mobile", "fax", "tel", "pan", "addr", "residence"})
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
        primary_key: The first id column, or ``None``.
    """

    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    primary_key: str | None = None


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
        detected.columns[str(name)] = entry
        if entry["kind"] == "id" and detected.primary_key is None:
            detected.primary_key = str(name)
    return detected


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
        return {"kind": "categorical"}
    if ptypes.is_bool_dtype(dtype):
        return {"kind": "boolean"}
    if ptypes.is_datetime64_any_dtype(dtype):
        return {"kind": "datetime", "format": None, "timezone": _timezone_of(dtype)}
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
    if name_pii is not None and _name_pii_holds(name_pii, tokens, values, numeric):
        return _pii_entry(name_pii, values)

    unique = bool(series.notna().all() and values.is_unique)
    if unique and (_is_key_name(tokens, squashed) or _INDEX_NAMES.match(name.strip().lower())):
        entry = _id_entry(values, numeric)
        if entry is not None:
            return entry
    if is_category:
        return {"kind": "categorical"}
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
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    tokens = re.findall(r"[a-z]+|\d+", spaced.lower())
    return tokens, "".join(tokens)


def _is_key_name(tokens: list[str], squashed: str) -> bool:
    if not tokens:
        return False
    return squashed.endswith(_KEY_SUFFIXES) or tokens[-1] in _KEY_TOKENS


def _pii_type_from_name(tokens: list[str], squashed: str) -> str | None:
    """Return the PII type a column name announces, or ``None``."""
    words = set(tokens)
    if not words or words & _NOT_PII_WORDS:
        return None
    if "email" in squashed.replace("voicemail", "") or "mail" in words:
        return "email"
    if "ssn" in words or "socialsecurity" in squashed:
        return "ssn"
    if any(part in squashed for part in ("creditcard", "cardnumber", "cardno", "ccnum")) or (
        "pan" in words
    ):
        return "credit_card"
    if words & {"ip", "ipv"} or "ipaddress" in squashed or squashed in ("remoteaddr", "clientip"):
        return "ip"
    if "phone" in squashed or words & {"tel", "telephone", "mobile", "cell", "fax", "msisdn"}:
        return "phone"
    if any(part in squashed for part in ("firstname", "givenname", "forename")) or (
        "fname" in words
    ):
        return "first_name"
    if any(part in squashed for part in ("lastname", "surname", "familyname")) or (
        "lname" in words
    ):
        return "last_name"
    street_parts = ("street", "addressline", "address1", "address2", "addr1", "addr2")
    if any(part in squashed for part in street_parts):
        return "street_address"
    if words & {"address", "addr", "residence"}:
        return "address"
    if "name" in words and (squashed in ("name", "names", "fullname") or words & _PERSON_WORDS):
        return "name"
    return None


def _name_pii_holds(pii_type: str, tokens: list[str], values: pd.Series, numeric: bool) -> bool:
    """Whether a PII-sounding name is borne out: not a key, a flag or a number of the wrong kind."""
    if tokens[-1] in _STRONG_KEY_TOKENS or _looks_boolean(values, numeric):
        return False
    if numeric and pii_type not in ("phone", "ssn", "credit_card"):
        return False
    return not set(tokens) & _WEAK_PII_WORDS or _values_agree(pii_type, values)


def _values_agree(pii_type: str, values: pd.Series) -> bool:
    """Whether at least half of a sample looks like ``pii_type`` (for weak name hints)."""
    sample = _sample(values).astype(str).str.strip()
    if pii_type == "phone":
        return bool(sample.str.fullmatch(rf"{_PHONE}|\+?\d{{7,15}}").mean() >= 0.5)
    if pii_type == "credit_card":
        return _luhn_share(sample) >= 0.5
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


def _common_prefix(first: str, last: str) -> str:
    """Longest common prefix of the smallest and largest string: that of all strings."""
    size = 0
    for a, b in zip(first, last, strict=False):  # loop over characters of one key
        if a != b:
            break
        size += 1
    return first[:size]


def _names_a_date(tokens: list[str]) -> bool:
    return bool(set(tokens) & _DATE_NAME_WORDS)


# --------------------------------------------------------------------- entries
def _pii_entry(pii_type: str, values: pd.Series) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": "pii", "pii_type": pii_type, "strategy": "fake"}
    if pii_type == "ip":
        sample = _sample(values).astype(str).str.strip()
        if sample.str.fullmatch(_IPV6).mean() >= PII_MATCH_SHARE:
            entry["ip_version"] = 6
    return entry


def _id_entry(values: pd.Series, numeric: bool) -> dict[str, Any] | None:
    """Describe a unique key so look-alike ids can be generated; None if it is no key."""
    if numeric:
        numbers = values.to_numpy(dtype=float)
        if not np.all(np.isfinite(numbers)) or not np.all(numbers == np.round(numbers)):
            return None
        low, high = int(values.min()), int(values.max())
        step = (high - low) / (len(values) - 1) if len(values) > 1 else 1.0
        return {
            "kind": "id",
            "id_type": "integer",
            "min": low,
            "max": high,
            "step": round(max(step, 1.0), 6),
        }
    return _string_id_entry(values.astype(str))


def _string_id_entry(values: pd.Series) -> dict[str, Any]:
    sample = _sample(values)
    if sample.str.fullmatch(_UUID).all():
        upper = not bool(sample.str.contains(r"[a-f]").any())
        return {"kind": "id", "id_type": "string", "format": "uuid", "uppercase": upper}
    listed = values.tolist()
    prefix = _common_prefix(min(listed), max(listed))
    # "AC-00007".."AC-00106" share "AC-00", but those zeros belong to the number.
    prefix = re.sub(r"\d+$", "", prefix)
    lengths = values.str.len()
    return {
        "kind": "id",
        "id_type": "string",
        "format": "pattern",
        "segments": _segments(sample, prefix, int(lengths.min()), int(lengths.max())),
        "count": len(values),
    }


_CLASS_TESTS = (
    ("digit", r"[0-9]+"),
    ("upper", r"[A-Z]+"),
    ("lower", r"[a-z]+"),
    ("hex", r"[0-9a-f]+"),
    ("HEX", r"[0-9A-F]+"),
    ("upper_digit", r"[A-Z0-9]+"),
    ("lower_digit", r"[a-z0-9]+"),
    ("alnum", r"[A-Za-z0-9]+"),
)


def _char_class(chars: str) -> str:
    for name, pattern in _CLASS_TESTS:
        if re.fullmatch(pattern, chars):
            return name
    return "alnum"


def _segments(sample: pd.Series, prefix: str, min_len: int, max_len: int) -> list[dict[str, Any]]:
    """Literal prefix plus per-position character classes of a string key."""
    segments: list[dict[str, Any]] = [{"literal": prefix}] if prefix else []
    rest = sample.str.slice(len(prefix))
    width = max_len - len(prefix)
    if width <= 0:
        return segments or [{"class": "digit", "length": 1}]
    if min_len != max_len:
        chars = "".join(pd.unique(np.array(list("".join(rest.tolist())))))
        return [*segments, {"class": _char_class(chars), "length": width}]
    matrix = np.array(rest.tolist(), dtype=f"<U{width}").view("<U1").reshape(len(rest), width)
    classes = []
    for position in range(width):  # loop over key positions, not rows
        column = pd.unique(matrix[:, position])
        if len(column) == 1 and not column[0].isalnum():
            classes.append(("literal", str(column[0])))
        else:
            classes.append(("class", _char_class("".join(column))))
    for kind, value in classes:
        last = segments[-1] if segments else None
        if kind == "literal" and last is not None and "literal" in last:
            last["literal"] += value
        elif kind == "class" and last is not None and last.get("class") == value:
            last["length"] += 1
        elif kind == "literal":
            segments.append({"literal": value})
        else:
            segments.append({"class": value, "length": 1})
    return segments


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
        return {"kind": "boolean"}
    if whole and len(distinct) <= min(round(n_rows / 10), 10):
        return {"kind": "categorical"}
    if whole and _names_a_date(tokens) and _all_yyyymmdd(distinct):
        return {"kind": "datetime", "format": "%Y%m%d", "timezone": None}
    if _card_numbers(values):
        return _pii_entry("credit_card", values)
    integer = whole
    # Integer dtypes give exact bounds; floats through float64.
    bounds = values if ptypes.is_integer_dtype(values.dtype) else numbers
    low, high = bounds.min(), bounds.max()
    return {
        "kind": "numerical",
        "integer": bool(integer),
        "min": int(low) if integer else float(low),
        "max": int(high) if integer else float(high),
        "decimals": 0 if integer else _decimals(distinct),
    }


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
        return {"kind": "boolean"}
    date_format = _date_format(distinct, _names_a_date(tokens))
    if date_format is not None:
        if date_format.endswith("%z") and bool(distinct.str.endswith("Z").all()):
            # strftime writes %z as "+0000": a literal Z writes "...Z" values back unchanged.
            return {"kind": "datetime", "format": date_format[:-2] + "Z", "timezone": "UTC"}
        return {"kind": "datetime", "format": date_format, "timezone": None}
    sample = _sample(values).astype(str)
    pii_type = _pii_type_from_values(sample, tokens)
    if pii_type is not None:
        return _pii_entry(pii_type, sample)
    if unique and sample.str.fullmatch(_UUID).all():
        return _string_id_entry(distinct)
    words = sample.str.count(r"\S+")
    if len(distinct) / len(values) >= 0.5 and words.mean() >= 3:
        mean_words = _sample(values, 20 * SAMPLE_SIZE).astype(str).str.count(r"\S+").mean()
        return {"kind": "text", "mean_words": round(float(mean_words), 3)}
    if unique and n_rows >= 20 and (words == 1).all():
        return _string_id_entry(distinct)
    return {"kind": "categorical"}


def _sample(values: pd.Series, size: int = SAMPLE_SIZE) -> pd.Series:
    """A fixed random sample, so detection gives the same answer every time."""
    if len(values) <= size:
        return values
    return values.sample(size, random_state=0)


def _date_format(distinct: pd.Series, named_like_date: bool) -> str | None:
    """The one strptime format every value parses with, or None."""
    from pandas.tseries.api import guess_datetime_format

    probe = distinct.iloc[:20].tolist()
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
        and sample.isin(_known_first_names()).mean() >= PII_MATCH_SHARE
    ):
        return "first_name"
    if person_hint and share(_NAME_WORD) >= PII_MATCH_SHARE:
        if words & {"first", "given"}:
            return "first_name"
        if words & {"last", "family"}:
            return "last_name"
    return None


@functools.cache
def _known_first_names() -> frozenset[str]:
    """First names Faker knows for several Western locales (a few thousand)."""
    names: set[str] = set()
    for locale in ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR"):
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            listed = getattr(provider, attribute, ())
            names.update(listed.keys() if isinstance(listed, dict) else listed)
    return frozenset(names)


def _first_name_share(sample: pd.Series) -> float:
    first_words = sample.str.replace(rf"^{_NAME_PREFIX}", "", regex=True).str.split(" ").str[0]
    return float(first_words.isin(_known_first_names()).mean())


def _luhn_share(sample: pd.Series) -> float:
    """Share of values that are 12-19 digit numbers passing the Luhn checksum."""
    shaped = sample.str.fullmatch(_CARD)
    if not shaped.any():
        return 0.0
    digits = sample[shaped].str.replace(r"[ -]", "", regex=True)
    return float(_luhn_valid(digits).sum() / len(sample))


def _luhn_valid(digits: pd.Series) -> np.ndarray:
    """Luhn check of digit strings, vectorized over a right-aligned digit matrix."""
    width = int(digits.str.len().max())
    padded = digits.str.pad(width, side="left", fillchar="0").tolist()
    matrix = np.array(padded, dtype=f"<U{width}").view("<U1").reshape(len(padded), width)
    numbers = matrix.astype(np.int64)
    doubled = numbers[:, ::-1].copy()
    doubled[:, 1::2] *= 2
    doubled[doubled > 9] -= 9
    return doubled.sum(axis=1) % 10 == 0
