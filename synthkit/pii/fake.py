"""Regenerate columns models never learn: PII with Faker, free text, and unique ids.

Everything here is seeded and vectorized: Faker draws a small pool of parts
(first names, last names, streets, phone layouts, card prefixes) from a seeded
instance, and numpy combines and re-digits them for every row. Ids, emails,
phones, SSNs, cards and IPs never repeat within a call. Values that point at a
person (those, plus full names and addresses) skip every value passed in
``exclude`` (pass the real column), so no real value is copied into synthetic
data. Every type comes from the registry (:mod:`synthkit.pii.registry`); name
columns fitted by the encoder are drawn by :mod:`synthkit.pii.names` instead,
with the real names taken out of the pools.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from synthkit.errors import MetadataError, ParameterError
from synthkit.pii.common import checked_count, fill, seed_for
from synthkit.pii.ids import generate_ids
from synthkit.pii.makers import Parts, faker_for
from synthkit.pii.registry import PII_TYPES

__all__ = ["fake_text", "fake_values", "regenerate"]


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
    n = checked_count(n)
    pii_type = entry.get("pii_type", "name")
    if pii_type not in PII_TYPES:
        raise MetadataError(
            f"pii_type={pii_type!r} cannot be generated; use one of {', '.join(PII_TYPES)}."
        )
    kind = PII_TYPES[pii_type]
    parts = Parts(faker_for(locale), seed_for(seed, pii_type))
    return fill(
        lambda size: kind.make(parts, size, entry),
        n,
        unique=kind.unique,
        exclude=exclude if kind.identifying else None,
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
    n = checked_count(n)
    if not np.isfinite(mean_words) or mean_words < 1:
        raise ParameterError(f"mean_words={mean_words!r} must be a number >= 1.")
    parts = Parts(faker_for(locale), seed_for(seed, "text"))
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
