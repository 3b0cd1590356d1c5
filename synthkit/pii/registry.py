"""The one registry of PII types, read by metadata, detection and regeneration alike.

Each type has its SDV sdtype, the column-name words that announce it, its value
pattern and its generator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthkit.pii import makers
from synthkit.pii.makers import Parts

__all__ = ["NAME_PARTS", "PII_TYPES", "PiiType", "patterns"]


class patterns:  # noqa: N801 - a namespace of regular expressions
    """Value patterns of the PII types (full matches), shared by detection and tests."""

    EMAIL = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    SSN = r"\d{3}-\d{2}-\d{4}"
    _IPV4_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    IPV4 = rf"{_IPV4_OCTET}(?:\.{_IPV4_OCTET}){{3}}"
    IPV6 = r"(?=[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:)(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}"
    # North-American and international shapes: separators or a leading + are required,
    # so plain digit strings (ids, amounts) are never taken for phone numbers.
    PHONE = (
        r"(?:\+\d{1,3}[\s.-]?|00\d{1,3}[\s.-]?|1[\s.-])?"
        r"(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{2,4}(?:[\s.-]\d{2,4}){1,2}"
        r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,5})?"
        r"|\+\d{7,15}"
    )
    CARD = r"\d(?:[ -]?\d){11,18}"
    STREET = (
        r"\d{1,6}[A-Za-z]?\s+(?:[A-Z0-9][A-Za-z0-9'.-]*\s+){0,4}[A-Z][A-Za-z'.-]*"
        r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|#)\s*[A-Za-z0-9-]+)?"
    )
    _CITY_LINE = r"[A-Z][A-Za-z .'-]*,?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?"
    _MILITARY = (
        r"(?:PSC|Unit|USNS|USNV|USS|USCGC)\s+[A-Za-z0-9 ,]+"
        r"(?:\n|,\s*)(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5}"
    )
    ADDRESS = rf"(?:{STREET}(?:\n|,\s*){_CITY_LINE}|{_MILITARY})"
    NAME_WORD = r"[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)*"
    NAME_PREFIX = r"(?:(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+)?"
    _NAME_SUFFIX = r"(?:,?\s+(?:Jr\.?|Sr\.?|II|III|IV|MD|PhD|DDS|DVM|Esq\.?))?"
    FULL_NAME = rf"{NAME_PREFIX}{NAME_WORD}(?:\s+(?:[A-Z]\.|{NAME_WORD})){{1,2}}{_NAME_SUFFIX}"
    # One or a few name words in any script, capitalized or not ("van der Berg", "MÜLLER").
    _LETTERS = r"[^\W\d_][^\W\d_'\u2019.\- ]*\.?"
    NAME_PART = rf"{_LETTERS}(?:[ '\u2019-]{_LETTERS}){{0,3}}"
    INITIALS = r"[A-Z]\.?(?:\s?[A-Z]\.?){0,3}"


Maker = Callable[[Parts, int, dict[str, Any]], np.ndarray]


@dataclass(frozen=True)
class PiiType:
    """One kind of personal data synthkit recognises and regenerates.

    Attributes:
        name: The ``pii_type`` of a metadata entry.
        sdtype: SDV's sdtype for it.
        make: ``make(parts, size, entry)`` draws ``size`` new values.
        name_parts: Fragments of a squashed column name that announce the type
            (``"firstname"`` in ``"CustomerFirstName"``), in English, German, French,
            Spanish, Italian, Dutch and Portuguese.
        name_words: Whole words of a column name that announce it (``"fname"``).
        weak_words: Words that announce it only when the values look the part
            (``"first"``, ``"last"``, ``"nom"``).
        pattern: A full-match regular expression of its values, if it has one.
        identifying: Whether one value points at one person (kept away from real values).
        unique: Whether real values are unique too (generated values never repeat).
        name_part: Whether it is part of a person's name (generated with the full name).
    """

    name: str
    sdtype: str
    make: Maker
    name_parts: tuple[str, ...] = ()
    name_words: frozenset[str] = field(default_factory=frozenset)
    weak_words: frozenset[str] = field(default_factory=frozenset)
    pattern: str | None = None
    identifying: bool = True
    unique: bool = False
    name_part: bool = False


def _pick(faker_method: str) -> Maker:
    return lambda parts, size, entry: parts.pick(faker_method, size)


def _redigit(faker_method: str) -> Maker:
    return lambda parts, size, entry: parts.redigit(faker_method, size)


def _ip(parts: Parts, size: int, entry: dict[str, Any]) -> np.ndarray:
    return makers.ipv6s(parts, size) if entry.get("ip_version") == 6 else makers.ipv4s(parts, size)


_TYPES = [
    PiiType(
        "email",
        "email",
        lambda parts, size, entry: makers.emails(parts, size),
        name_parts=("email", "courriel", "correo"),
        name_words=frozenset({"mail"}),
        pattern=patterns.EMAIL,
        unique=True,
    ),
    PiiType(
        "ssn",
        "ssn",
        lambda parts, size, entry: makers.ssns(parts, size),
        name_parts=("socialsecurity",),
        name_words=frozenset({"ssn"}),
        pattern=patterns.SSN,
        unique=True,
    ),
    PiiType(
        "credit_card",
        "credit_card_number",
        lambda parts, size, entry: makers.cards(parts, size),
        name_parts=("creditcard", "cardnumber", "cardno", "ccnum"),
        weak_words=frozenset({"pan"}),
        pattern=patterns.CARD,
        unique=True,
    ),
    PiiType(
        "ip",
        "ipv4_address",
        _ip,
        name_parts=("ipaddress",),
        name_words=frozenset({"ip", "ipv"}),
        pattern=rf"{patterns.IPV4}|{patterns.IPV6}",
        unique=True,
    ),
    PiiType(
        "phone",
        "phone_number",
        lambda parts, size, entry: makers.phones(parts, size),
        name_parts=("phone", "telefon", "telefono", "telephone"),
        name_words=frozenset({"telephone", "msisdn"}),
        weak_words=frozenset({"tel", "mobile", "cell", "fax"}),
        pattern=patterns.PHONE,
        unique=True,
    ),
    PiiType(
        "maiden_name",
        "last_name",
        _pick("last_name"),
        name_parts=(
            "maidenname",
            "birthname",
            "geburtsname",
            "nomdejeunefille",
            "apellidodesoltera",
            "cognomedanubile",
            "meisjesnaam",
            "nomedesolteira",
        ),
        name_words=frozenset({"maiden"}),
        pattern=patterns.NAME_PART,
        name_part=True,
    ),
    PiiType(
        "middle_name",
        "first_name",
        _pick("first_name"),
        name_parts=(
            "middlename",
            "secondname",
            "zweitname",
            "zweitervorname",
            "deuxiemeprenom",
            "segundonombre",
            "secondonome",
            "tussenvoegsel",
            "nomedomeio",
        ),
        name_words=frozenset({"mname"}),
        weak_words=frozenset({"middle"}),
        pattern=patterns.NAME_PART,
        name_part=True,
    ),
    PiiType(
        "first_name",
        "first_name",
        _pick("first_name"),
        name_parts=(
            "firstname",
            "givenname",
            "forename",
            "christianname",
            "vorname",
            "prenom",
            "voornaam",
            "primernombre",
            "primeironome",
        ),
        name_words=frozenset({"fname"}),
        weak_words=frozenset({"first", "given", "nome", "nombre"}),
        pattern=patterns.NAME_PART,
        name_part=True,
    ),
    PiiType(
        "last_name",
        "last_name",
        _pick("last_name"),
        name_parts=(
            "lastname",
            "surname",
            "familyname",
            "nachname",
            "familienname",
            "nomdefamille",
            "apellido",
            "cognome",
            "achternaam",
            "sobrenome",
            "apelido",
        ),
        name_words=frozenset({"lname"}),
        weak_words=frozenset({"last", "family", "nom"}),
        pattern=patterns.NAME_PART,
        name_part=True,
    ),
    PiiType(
        "initials",
        "first_name",
        lambda parts, size, entry: makers.initials(parts, size),
        name_parts=("initials", "initialen", "iniciales", "iniziali", "iniciais"),
        weak_words=frozenset({"initial"}),
        pattern=patterns.INITIALS,
        name_part=True,
    ),
    PiiType(
        "street_address",
        "street_address",
        _redigit("street_address"),
        name_parts=("street", "addressline", "address1", "address2", "addr1", "addr2"),
        pattern=patterns.STREET,
    ),
    PiiType(
        "address",
        "address",
        _redigit("address"),
        name_words=frozenset({"address"}),
        weak_words=frozenset({"addr", "residence"}),
        pattern=patterns.ADDRESS,
    ),
    PiiType(
        "name",
        "name",
        lambda parts, size, entry: makers.full_names(parts, size),
        name_parts=(
            "fullname",
            "nomcomplet",
            "nombrecompleto",
            "nomecompleto",
            "vollername",
            "volledigenaam",
        ),
        pattern=patterns.FULL_NAME,
    ),
]

#: Every PII type by name, in the order column names are tested against them.
PII_TYPES: dict[str, PiiType] = {pii.name: pii for pii in _TYPES}

#: The PII types that are parts of a person's name.
NAME_PARTS = tuple(name for name, pii in PII_TYPES.items() if pii.name_part)
