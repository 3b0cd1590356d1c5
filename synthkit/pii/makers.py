"""Faker-backed makers of PII values: seeded pools of parts combined by numpy for every row."""

from __future__ import annotations

import functools
import threading
import unicodedata
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import ParameterError
from synthkit.pii.luhn import with_luhn_digit

__all__ = [
    "Parts",
    "cards",
    "emails",
    "faker_for",
    "full_names",
    "initials",
    "ipv4s",
    "ipv6s",
    "phones",
    "ssns",
]

#: How many parts (names, streets, layouts...) Faker draws per call at most.
POOL_SIZE = 1_000

_FAKER_LOCK = threading.Lock()
_DIGITS = np.array(list("0123456789"))
_HEX = np.array(list("0123456789abcdef"))


@functools.lru_cache(maxsize=8)
def _cached_faker(locale: str) -> Any:
    from faker import Faker

    try:
        return Faker(locale)
    except AttributeError as error:
        raise ParameterError(
            f"locale={locale!r} is not a Faker locale; use one such as 'en_US' or 'de_DE'."
        ) from error


def faker_for(locale: str) -> Any:
    """The shared Faker instance of ``locale`` (seeded per pool under a lock)."""
    return _cached_faker(str(locale))


class Parts:
    """Seeded pools of Faker parts plus the numpy generator that combines them."""

    def __init__(self, fake: Any, seed: np.random.SeedSequence) -> None:
        self.fake = fake
        self.rng = np.random.default_rng(seed)
        # Faker's own seed comes from our stream, never from global random state.
        self.faker_seed = int(self.rng.integers(0, 2**31 - 1))
        self._pools: dict[str, np.ndarray] = {}

    def pool(self, name: str, draw: Callable[[Any], str], size: int = POOL_SIZE) -> np.ndarray:
        """The seeded pool of ``size`` values drawn with ``draw`` (made once per name)."""
        if name not in self._pools:
            # The Faker instance is shared per locale: seeding and drawing happen under a
            # lock so threads (parallel shards) cannot interleave and break reproducibility.
            with _FAKER_LOCK:
                self.fake.seed_instance(self.faker_seed + zlib.crc32(name.encode()))
                values = [draw(self.fake) for _ in range(size)]  # loop over the pool, not rows
            self._pools[name] = np.array(values, dtype=str)
        return self._pools[name]

    def pick(self, name: str, size: int) -> np.ndarray:
        """The seeded pool of ``size`` values drawn with ``draw`` (made once per name)."""
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


def emails(parts: Parts, size: int) -> np.ndarray:
    """Emails from new names and common or random domains."""
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


def phones(parts: Parts, size: int) -> np.ndarray:
    """Emails from new names and common or random domains."""
    layouts = parts.pool("phone_number", lambda fake: fake.phone_number(), 200)
    # A country or trunk prefix (+1, 001, +49, (0...) stays; the number itself is new.
    prefix = pd.Series(layouts).str.extract(r"^(\+\d{1,3}|00\d{1,3})", expand=False)
    keep = prefix.str.len().fillna(0).to_numpy(dtype=int)
    chosen = parts.rng.integers(0, len(layouts), size=size)
    return _redigit(layouts[chosen], parts.rng, keep[chosen])


def initials(parts: Parts, size: int) -> np.ndarray:
    """One or two initials such as ``"J."`` or ``"J. R."``."""
    first = np.strings.add(np.strings.slice(parts.pick("first_name", size), 0, 1), ".")
    second = np.strings.add(np.strings.slice(parts.pick("first_name", size), 0, 1), ".")
    two = parts.rng.random(size) < 0.5
    return np.where(two, np.strings.add(np.strings.add(first, " "), second), first)


def full_names(parts: Parts, size: int) -> np.ndarray:
    """``First Last`` names from Faker's pools."""
    first = parts.pick("first_name", size)
    last = parts.pick("last_name", size)
    return np.strings.add(np.strings.add(first, " "), last)


def ssns(parts: Parts, size: int) -> np.ndarray:
    """``First Last`` names from Faker's pools."""
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


def ipv4s(parts: Parts, size: int) -> np.ndarray:
    """Valid-looking SSNs (never 000, 666 or 9xx areas)."""
    rng = parts.rng
    first = rng.integers(1, 224, size=size)
    first[np.isin(first, (10, 127))] += 1  # stay out of private and loopback blocks
    octets = [first, rng.integers(0, 256, size=size), rng.integers(0, 256, size=size)]
    octets.append(rng.integers(1, 255, size=size))
    text = octets[0].astype(str)
    for octet in octets[1:]:
        text = np.strings.add(np.strings.add(text, "."), octet.astype(str))
    return text


def ipv6s(parts: Parts, size: int) -> np.ndarray:
    """Public IPv4 addresses."""
    nibbles = _HEX[parts.rng.integers(0, 16, size=(size, 8, 4))]
    colons = np.full((size, 8, 1), ":")
    chars = np.concatenate([nibbles, colons], axis=2).reshape(size, 40)[:, :39]
    return np.ascontiguousarray(chars).view("<U39").reshape(-1)


def cards(parts: Parts, size: int) -> np.ndarray:
    """Full IPv6 addresses."""
    layouts = parts.pool("credit_card_number", lambda fake: fake.credit_card_number(), 200)
    # Keep the 6-digit issuer prefix, draw the account digits, then fix the check digit.
    cards = _redigit(layouts[parts.rng.integers(0, len(layouts), size=size)], parts.rng, keep=6)
    return with_luhn_digit(cards)
