"""Regenerate columns models never learn: PII with Faker, free text, and unique ids.

Everything here is seeded and vectorized: Faker draws a small pool of parts
(first names, last names, streets, phone layouts, card prefixes) from a seeded
instance, and numpy combines and re-digits them for every row. Ids, emails,
phones, SSNs, cards and IPs never repeat within a call. Values that point at a
person (those, plus full names and addresses) skip every value passed in
``exclude`` (pass the real column), so no real value is copied into synthetic
data. First and last names alone identify nobody and may coincide with real ones.
"""

from __future__ import annotations

import functools
import threading
import unicodedata
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import MetadataError, ParameterError

__all__ = ["fake_text", "fake_values", "generate_ids", "regenerate"]

#: How many parts (names, streets, layouts...) Faker draws per call at most.
POOL_SIZE = 1_000
#: Rounds of redrawing duplicates and excluded values before giving up.
MAX_ROUNDS = 50

_FAKER_LOCK = threading.Lock()
_DIGITS = np.array(list("0123456789"))
_HEX = np.array(list("0123456789abcdef"))
_ALPHABETS = {
    "digit": "0123456789",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "lower": "abcdefghijklmnopqrstuvwxyz",
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "upper_digit": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "lower_digit": "abcdefghijklmnopqrstuvwxyz0123456789",
    "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
}
# Types whose values point at one person or device: kept away from real values.
_IDENTIFYING = frozenset(
    {"email", "phone", "ssn", "credit_card", "ip", "name", "address", "street_address"}
)
# Types whose values are unique in real tables too (two people may share a name).
_UNIQUE = frozenset({"email", "phone", "ssn", "credit_card", "ip"})


# ------------------------------------------------------------------ public API
def fake_values(
    entry: dict[str, Any],
    n: int,
    seed: int,
    locale: str = "en_US",
    *,
    exclude: Iterable[Any] | None = None,
) -> np.ndarray:
    """Generate ``n`` realistic values of a ``pii`` column's type.

    Args:
        entry: The column's metadata entry, ``{"kind": "pii", "pii_type": ...}``.
        n: Number of values.
        seed: Seed; the same seed gives the same values.
        locale: Faker locale for names, streets and phone layouts.
        exclude: Values that must not appear (the real column), for identifying types.

    Returns:
        An object array of ``n`` strings.

    Raises:
        ParameterError: If ``n`` is negative or the locale is unknown.
        MetadataError: If the entry's ``pii_type`` is unknown.

    Example:
        >>> emails = fake_values({"kind": "pii", "pii_type": "email"}, 3, seed=1)
        >>> len(emails), all("@" in email for email in emails)
        (3, True)
        >>> first, again = (fake_values({"pii_type": "ssn"}, 5, seed=7) for _ in range(2))
        >>> bool((first == again).all())
        True
    """
    n = _checked_count(n)
    pii_type = entry.get("pii_type", "name")
    makers: dict[str, Callable[[_Parts, int], np.ndarray]] = {
        "email": _emails,
        "phone": _phones,
        "name": _full_names,
        "first_name": lambda parts, size: parts.pick("first_name", size),
        "last_name": lambda parts, size: parts.pick("last_name", size),
        "ssn": _ssns,
        "address": lambda parts, size: parts.redigit("address", size),
        "street_address": lambda parts, size: parts.redigit("street_address", size),
        "ip": _ipv6s if entry.get("ip_version") == 6 else _ipv4s,
        "credit_card": _cards,
    }
    if pii_type not in makers:
        raise MetadataError(
            f"pii_type={pii_type!r} cannot be generated; use one of {', '.join(makers)}."
        )
    parts = _Parts(_faker(locale), _seed_for(seed, pii_type))
    identifying = pii_type in _IDENTIFYING
    return _fill(
        lambda size: makers[pii_type](parts, size),
        n,
        unique=pii_type in _UNIQUE,
        exclude=exclude if identifying else None,
    )


def fake_text(n: int, seed: int, mean_words: float = 12.0, locale: str = "en_US") -> np.ndarray:
    """Generate ``n`` texts of sentences averaging ``mean_words`` words, for ``text`` columns.

    Args:
        n: Number of texts.
        seed: Seed; the same seed gives the same texts.
        mean_words: Average number of words per text (at least one word each).
        locale: Faker locale of the word list.

    Returns:
        An object array of ``n`` strings.

    Example:
        >>> texts = fake_text(4, seed=0, mean_words=6)
        >>> len(texts), all(text.endswith(".") for text in texts)
        (4, True)
    """
    n = _checked_count(n)
    if not np.isfinite(mean_words) or mean_words < 1:
        raise ParameterError(f"mean_words={mean_words!r} must be a number >= 1.")
    parts = _Parts(_faker(locale), _seed_for(seed, "text"))
    rng = parts.rng
    if n == 0:
        return np.array([], dtype=object)
    counts = 1 + rng.poisson(mean_words - 1, size=n)
    total = int(counts.sum())
    words = parts.pool("word", lambda fake: fake.word()).tolist()
    # Every word in six spellings (plain or capitalized; followed by a space, a full
    # stop, or the end of a text), so rows are assembled by indexing alone.
    spellings = np.array(
        [
            (word[:1].upper() + word[1:] if capital else word) + ending
            for capital in (False, True)
            for ending in (" ", ". ", ".\x1e")
            for word in words
        ],
        dtype=object,
    )
    last_of_row = np.cumsum(counts) - 1
    # Sentences of about ten words: a word ends one at random and always at a row's end.
    ending = (rng.random(total) < 0.1).astype(np.int64)
    ending[last_of_row] = 2
    capital = np.roll(ending > 0, 1)
    index = rng.integers(0, len(words), size=total) + len(words) * (ending + 3 * capital)
    joined = "".join(spellings[index].tolist())
    return np.array(joined.split("\x1e")[:n], dtype=object)


def generate_ids(
    entry: dict[str, Any], n: int, seed: int, *, exclude: Iterable[Any] | None = None
) -> np.ndarray:
    """Generate ``n`` unique ids shaped like the real ones described by an ``id`` entry.

    Integer ids continue above the real maximum with gaps like the real ones; UUID
    ids are random version-4 UUIDs; other string ids keep the literal prefix and
    the character class of every position (``"CUST-0042"`` gives ``"CUST-7315"``).

    Args:
        entry: The column's metadata entry from detection (``id_type``, ``min``,
            ``max``, ``step``, ``format``, ``segments``); a bare ``{"kind": "id"}``
            gives integers from 1.
        n: Number of ids.
        seed: Seed; the same seed gives the same ids.
        exclude: Values that must not appear (the real column).

    Returns:
        An int64 array (integer ids) or an object array of strings.

    Example:
        >>> generate_ids({"kind": "id", "id_type": "integer", "min": 1, "max": 100}, 3, 0)
        array([101, 102, 103])
        >>> entry = {"kind": "id", "id_type": "string", "format": "pattern",
        ...          "segments": [{"literal": "C-"}, {"class": "digit", "length": 4}]}
        >>> [len(key) for key in generate_ids(entry, 2, seed=0)]
        [6, 6]
    """
    n = _checked_count(n)
    rng = np.random.default_rng(_seed_for(seed, "id"))
    exclude = None if exclude is None else list(exclude)
    if entry.get("id_type", "integer") == "integer":
        return _integer_ids(entry, n, rng, exclude)
    if entry.get("format") == "uuid":
        upper = bool(entry.get("uppercase", False))
        return _fill(lambda size: _uuids(rng, size, upper), n, unique=True, exclude=exclude)
    template = entry.get("segments") or [{"class": "digit", "length": 8}]
    segments = _roomy_segments(template, n + len(exclude or ()))
    if exclude is None and entry.get("count"):
        segments = _disjoint_segments(segments, int(entry["count"]))
    return _fill(lambda size: _patterned(rng, segments, size), n, unique=True, exclude=exclude)


def regenerate(
    entry: dict[str, Any],
    n: int,
    seed: int,
    locale: str = "en_US",
    *,
    exclude: Iterable[Any] | None = None,
) -> np.ndarray:
    """Regenerate a column a model does not learn, from its metadata entry.

    ``id`` columns get :func:`generate_ids`, ``pii`` columns :func:`fake_values`
    and ``text`` columns :func:`fake_text` with the entry's ``mean_words``.

    Example:
        >>> regenerate({"kind": "text", "mean_words": 3.0}, 2, seed=0).shape
        (2,)
    """
    kind = entry.get("kind")
    if kind == "id":
        return generate_ids(entry, n, seed, exclude=exclude)
    if kind == "pii":
        return fake_values(entry, n, seed, locale, exclude=exclude)
    if kind == "text":
        return fake_text(n, seed, float(entry.get("mean_words", 12.0)), locale)
    raise MetadataError(
        f"Only id, pii and text columns are regenerated; got kind={kind!r}. "
        "Learned columns come from the model."
    )


# --------------------------------------------------------------------- helpers
def _checked_count(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"n={n!r} must be a whole number >= 0.")
    return int(n)


def _seed_for(seed: int, purpose: str) -> np.random.SeedSequence:
    """Independent streams per purpose, so an id and an email column never share draws."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a whole number >= 0.")
    return np.random.SeedSequence([int(seed), zlib.crc32(purpose.encode())])


@functools.lru_cache(maxsize=8)
def _cached_faker(locale: str) -> Any:
    from faker import Faker

    try:
        return Faker(locale)
    except AttributeError as error:
        raise ParameterError(
            f"locale={locale!r} is not a Faker locale; use one such as 'en_US' or 'de_DE'."
        ) from error


def _faker(locale: str) -> Any:
    return _cached_faker(str(locale))


class _Parts:
    """Seeded pools of Faker parts plus the numpy generator that combines them."""

    def __init__(self, fake: Any, seed: np.random.SeedSequence) -> None:
        self.fake = fake
        self.rng = np.random.default_rng(seed)
        # Faker's own seed comes from our stream, never from global random state.
        self.faker_seed = int(self.rng.integers(0, 2**31 - 1))
        self._pools: dict[str, np.ndarray] = {}

    def pool(self, name: str, draw: Callable[[Any], str], size: int = POOL_SIZE) -> np.ndarray:
        if name not in self._pools:
            # The Faker instance is shared per locale: seeding and drawing happen under a
            # lock so threads (parallel shards) cannot interleave and break reproducibility.
            with _FAKER_LOCK:
                self.fake.seed_instance(self.faker_seed + zlib.crc32(name.encode()))
                values = [draw(self.fake) for _ in range(size)]  # loop over the pool, not rows
            self._pools[name] = np.array(values, dtype=str)
        return self._pools[name]

    def pick(self, name: str, size: int) -> np.ndarray:
        values = self.pool(name, lambda fake: getattr(fake, name)())
        return values[self.rng.integers(0, len(values), size=size)]

    def redigit(self, name: str, size: int, keep: int = 0) -> np.ndarray:
        """Pick layouts from a Faker pool and replace their digits with fresh ones."""
        return _redigit(self.pick(name, size), self.rng, keep)


def _redigit(
    values: np.ndarray, rng: np.random.Generator, keep: int | np.ndarray = 0
) -> np.ndarray:
    """Replace every digit after position ``keep`` with a random one (runs never start at 0)."""
    if values.size == 0:
        return values.astype(str)
    width = max(int(np.strings.str_len(values).max()), 1)
    chars = values.astype(f"<U{width}").view("<U1").reshape(len(values), width).copy()
    is_digit = (chars >= "0") & (chars <= "9")
    positions = np.arange(width)[None, :]
    is_digit &= positions >= np.asarray(keep).reshape(-1, 1)
    run_start = is_digit & ~np.concatenate(
        [np.zeros((len(values), 1), dtype=bool), is_digit[:, :-1]], axis=1
    )
    fresh = rng.integers(0, 10, size=chars.shape)
    fresh[run_start] = rng.integers(1, 10, size=int(run_start.sum()))
    chars[is_digit] = _DIGITS[fresh[is_digit]]
    return chars.reshape(-1).view(f"<U{width}")


def _ascii_lower(values: np.ndarray) -> np.ndarray:
    """Lower-case ASCII letters only, for email local parts from any locale."""

    def fold(text: str) -> str:
        plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return "".join(ch for ch in plain.lower() if ch.isalnum()) or "user"

    distinct, inverse = np.unique(values, return_inverse=True)
    return np.array([fold(text) for text in distinct.tolist()], dtype=str)[inverse]


def _emails(parts: _Parts, size: int) -> np.ndarray:
    first = _ascii_lower(parts.pick("first_name", size))
    last = _ascii_lower(parts.pick("last_name", size))
    initial = np.strings.slice(first, 0, 1)
    layouts = [
        np.strings.add(np.strings.add(first, "."), last),
        np.strings.add(initial, last),
        np.strings.add(first, last),
        np.strings.add(np.strings.add(first, "_"), last),
    ]
    which = parts.rng.integers(0, len(layouts), size=size)
    local = np.choose(which, layouts)
    number = parts.rng.integers(1, 1000, size=size).astype(str)
    with_number = parts.rng.random(size) < 0.6
    local = np.where(with_number, np.strings.add(local, number), local)
    domains = np.concatenate(
        [
            parts.pool("free_email_domain", lambda fake: fake.free_email_domain(), 50),
            parts.pool("domain_name", lambda fake: fake.domain_name(), 100),
        ]
    )
    domain = domains[parts.rng.integers(0, len(domains), size=size)]
    return np.strings.add(np.strings.add(local, "@"), domain)


def _phones(parts: _Parts, size: int) -> np.ndarray:
    layouts = parts.pool("phone_number", lambda fake: fake.phone_number(), 200)
    # A country or trunk prefix (+1, 001, +49, (0...) stays; the number itself is new.
    prefix = pd.Series(layouts).str.extract(r"^(\+\d{1,3}|00\d{1,3})", expand=False)
    keep = prefix.str.len().fillna(0).to_numpy(dtype=int)
    chosen = parts.rng.integers(0, len(layouts), size=size)
    return _redigit(layouts[chosen], parts.rng, keep[chosen])


def _full_names(parts: _Parts, size: int) -> np.ndarray:
    first = parts.pick("first_name", size)
    last = parts.pick("last_name", size)
    return np.strings.add(np.strings.add(first, " "), last)


def _ssns(parts: _Parts, size: int) -> np.ndarray:
    rng = parts.rng
    area = rng.integers(1, 900, size=size)
    area[area == 666] = 667  # never issued
    group = rng.integers(1, 100, size=size)
    serial = rng.integers(1, 10_000, size=size)
    text = [
        np.strings.zfill(area.astype(str), 3),
        np.strings.zfill(group.astype(str), 2),
        np.strings.zfill(serial.astype(str), 4),
    ]
    return np.strings.add(np.strings.add(np.strings.add(text[0], "-"), text[1]), "-" + text[2])


def _ipv4s(parts: _Parts, size: int) -> np.ndarray:
    rng = parts.rng
    first = rng.integers(1, 224, size=size)
    first[np.isin(first, (10, 127))] += 1  # stay out of private and loopback blocks
    octets = [first, rng.integers(0, 256, size=size), rng.integers(0, 256, size=size)]
    octets.append(rng.integers(1, 255, size=size))
    text = octets[0].astype(str)
    for octet in octets[1:]:
        text = np.strings.add(np.strings.add(text, "."), octet.astype(str))
    return text


def _ipv6s(parts: _Parts, size: int) -> np.ndarray:
    nibbles = _HEX[parts.rng.integers(0, 16, size=(size, 8, 4))]
    colons = np.full((size, 8, 1), ":")
    chars = np.concatenate([nibbles, colons], axis=2).reshape(size, 40)[:, :39]
    return np.ascontiguousarray(chars).view("<U39").reshape(-1)


def _cards(parts: _Parts, size: int) -> np.ndarray:
    layouts = parts.pool("credit_card_number", lambda fake: fake.credit_card_number(), 200)
    # Keep the 6-digit issuer prefix, draw the account digits, then fix the check digit.
    cards = _redigit(layouts[parts.rng.integers(0, len(layouts), size=size)], parts.rng, keep=6)
    return _with_luhn_digit(cards)


def _with_luhn_digit(cards: np.ndarray) -> np.ndarray:
    """Replace the last digit of each digit string with its Luhn check digit."""
    lengths = np.strings.str_len(cards)
    width = int(lengths.max())
    chars = cards.astype(f"<U{width}").view("<U1").reshape(len(cards), width).copy()
    digits = np.where(np.char.isdigit(chars), chars, "0").astype(np.int64)
    from_right = lengths[:, None] - 1 - np.arange(width)[None, :]
    doubled = np.where(from_right % 2 == 1, digits * 2, digits)
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    payload = np.where(from_right >= 1, doubled, 0).sum(axis=1)
    check = (10 - payload % 10) % 10
    chars[np.arange(len(cards)), lengths - 1] = _DIGITS[check]
    return chars.reshape(-1).view(f"<U{width}")


def _uuids(rng: np.random.Generator, size: int, upper: bool) -> np.ndarray:
    raw = rng.integers(0, 256, size=(size, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    nibbles = np.stack([raw >> 4, raw & 0x0F], axis=2).reshape(size, 32)
    alphabet = np.strings.upper(_HEX) if upper else _HEX
    chars = alphabet[nibbles]
    dash = np.full((size, 1), "-")
    pieces = [chars[:, :8], dash, chars[:, 8:12], dash, chars[:, 12:16], dash]
    pieces += [chars[:, 16:20], dash, chars[:, 20:]]
    return np.ascontiguousarray(np.concatenate(pieces, axis=1)).view("<U36").reshape(-1)


def _roomy_segments(segments: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Lengthen the longest class segment until the pattern holds 20 times ``n`` ids.

    ``n`` counts the ids wanted plus those to avoid, so redraws stay rare; the
    longest segment is the running number of most keys ("CUST-0042-A").
    """
    segments = [dict(segment) for segment in segments]
    classes = [segment for segment in segments if "class" in segment]
    if not classes:
        segments.append({"class": "digit", "length": 1})
        classes = segments[-1:]
    for segment in classes:
        if segment["class"] not in _ALPHABETS:
            raise MetadataError(
                f"id segment class {segment['class']!r} is unknown; use one of "
                f"{', '.join(_ALPHABETS)}."
            )

    longest = max(reversed(classes), key=lambda segment: segment["length"])
    while _space(segments) < 20.0 * max(n, 1):
        longest["length"] += 1
    return segments


def _disjoint_segments(segments: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """Without the real keys at hand, keep clear of them by construction.

    If the ``count`` real keys fill more than a millionth of the pattern, a random
    key could be a real one: one more character in the longest segment makes every
    new key longer than any real key, so none can coincide.
    """
    if count <= _space(segments) * 1e-6:
        return segments
    segments = [dict(segment) for segment in segments]
    classes = [segment for segment in segments if "class" in segment]
    max(reversed(classes), key=lambda segment: segment["length"])["length"] += 1
    return segments


def _space(segments: list[dict[str, Any]]) -> float:
    """How many different keys a pattern can spell."""
    sizes = [float(len(_ALPHABETS[s["class"]])) ** s["length"] for s in segments if "class" in s]
    return float(np.prod(sizes))


def _patterned(rng: np.random.Generator, segments: list[dict[str, Any]], size: int) -> np.ndarray:
    text = np.full(size, "", dtype="<U1")
    for segment in segments:  # loop over the key's segments, not rows
        if "literal" in segment:
            text = np.strings.add(text, str(segment["literal"]))
            continue
        alphabet = np.array(list(_ALPHABETS[segment["class"]]))
        length = int(segment["length"])
        chars = alphabet[rng.integers(0, len(alphabet), size=(size, length))]
        text = np.strings.add(text, np.ascontiguousarray(chars).view(f"<U{length}").reshape(-1))
    return text


def _integer_ids(
    entry: dict[str, Any], n: int, rng: np.random.Generator, exclude: Iterable[Any] | None
) -> np.ndarray:
    step = max(float(entry.get("step", 1.0) or 1.0), 1.0)
    gaps = np.ones(n, dtype=np.int64)
    if step > 1.0:
        gaps += rng.poisson(step - 1.0, size=n)
    top = [int(entry["max"])] if entry.get("max") is not None else []
    if exclude is not None:
        numbers = pd.to_numeric(pd.Series(list(exclude), dtype=object), errors="coerce").dropna()
        top += [int(numbers.max())] if len(numbers) else []
    start = max(top) + 1 if top else 1
    if start + int(gaps.sum()) > np.iinfo(np.int64).max:
        raise ParameterError(
            f"Cannot fit {n} new integer ids above the real maximum {start - 1}; "
            "declare the column a string id instead (update_column(..., id_type='string'))."
        )
    return start + np.cumsum(gaps) - gaps[:1].sum()


def _fill(
    make: Callable[[int], np.ndarray],
    n: int,
    *,
    unique: bool,
    exclude: Iterable[Any] | None,
) -> np.ndarray:
    """Draw ``n`` values, redrawing duplicates (if ``unique``) and excluded values."""
    values = pd.Series(make(n), dtype=object)
    forbidden = (
        pd.Index(pd.Series(list(exclude), dtype=object).astype(str).unique())
        if (exclude is not None)
        else None
    )
    for _ in range(MAX_ROUNDS):  # rounds of redraws, each vectorized
        bad = values.duplicated() if unique else pd.Series(False, index=values.index)
        if forbidden is not None:
            bad |= values.isin(forbidden)
        count = int(bad.sum())
        if count == 0:
            break
        values[bad.to_numpy()] = make(count)
    else:
        if unique:
            raise ParameterError(
                f"Could not draw {n} distinct values of this kind; there are too few "
                "possible values. Use strategy='drop' or a string id with longer keys."
            )
    return values.to_numpy(dtype=object)
