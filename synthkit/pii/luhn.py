"""The Luhn checksum of card numbers, vectorized: checked in detection, written in generation."""

from __future__ import annotations

import numpy as np

__all__ = ["luhn_check_digits", "luhn_valid", "with_luhn_digit"]

_DIGITS = np.array(list("0123456789"))


def luhn_check_digits(payload: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The Luhn check digit of each row of a digit matrix, left-aligned.

    Args:
        payload: ``[rows, width]`` integer digits; row ``i`` holds its number in its
            first ``lengths[i]`` entries (zeros after them are ignored).
        lengths: How many digits of each row form the payload.

    Returns:
        The digit (0-9) that makes each payload plus that digit pass the check.

    Example:
        >>> digits = np.array([[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]])
        >>> luhn_check_digits(digits, np.array([10])).tolist()
        [3]
    """
    width = payload.shape[1]
    # Position counted from the right of the full number (the check digit is position 0).
    from_right = lengths[:, None] - np.arange(width)[None, :]
    inside = from_right >= 1
    doubled = np.where(from_right % 2 == 1, payload * 2, payload)
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = np.where(inside, doubled, 0).sum(axis=1)
    return (10 - total % 10) % 10


def luhn_valid(numbers: list[str] | np.ndarray) -> np.ndarray:
    """Whether each digit string passes the Luhn check.

    Example:
        >>> luhn_valid(["79927398713", "79927398710"]).tolist()
        [True, False]
    """
    texts = np.asarray(numbers, dtype=str)
    if texts.size == 0:
        return np.zeros(0, dtype=bool)
    lengths = np.strings.str_len(texts)
    width = max(int(lengths.max()), 1)
    chars = texts.astype(f"<U{width}").view("<U1").reshape(len(texts), width)
    digits = np.where(np.char.isdigit(chars), chars, "0").astype(np.int64)
    last = digits[np.arange(len(texts)), np.maximum(lengths - 1, 0)]
    return luhn_check_digits(digits, lengths - 1) == last


def with_luhn_digit(cards: np.ndarray) -> np.ndarray:
    """Replace the last digit of each digit string with its Luhn check digit.

    Example:
        >>> with_luhn_digit(np.array(["79927398710"])).tolist()
        ['79927398713']
    """
    lengths = np.strings.str_len(cards)
    width = int(lengths.max())
    chars = cards.astype(f"<U{width}").view("<U1").reshape(len(cards), width).copy()
    digits = np.where(np.char.isdigit(chars), chars, "0").astype(np.int64)
    check = luhn_check_digits(digits, lengths - 1)
    chars[np.arange(len(cards)), lengths - 1] = _DIGITS[check]
    return chars.reshape(-1).view(f"<U{width}")
