"""Never-learned columns (ids, PII, text): what fitting keeps and how decoding remakes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import DataError

__all__ = ["assemble", "regenerate_column", "regeneration_entry"]


def regeneration_entry(entry: dict[str, Any], series: pd.Series) -> dict[str, Any]:
    """What regenerating a never-learned column needs, without any of its values.

    Name columns get candidate pools with every real word taken out (see
    :func:`synthkit.pii.names.fit_name_pools`).
    """
    from synthkit.pii.names import NAME_TYPES, fit_name_pools

    out = dict(entry)
    if entry["kind"] == "text":
        words = series.dropna().astype(str).str.split().str.len()
        out["mean_words"] = float(words.mean()) if len(words) else 5.0
    if entry["kind"] == "pii" and entry.get("pii_type") in NAME_TYPES:
        out.update(fit_name_pools(entry, series))
    out["null_share"] = float(series.isna().mean())
    return out


# The part of a generated full name each name type takes.
_PART_OF_NAME = {
    "name": "full",
    "first_name": "first",
    "middle_name": "middle",
    "last_name": "last",
    "maiden_name": "last",
}


def regenerate_column(
    entry: dict[str, Any],
    n: int,
    seed: int,
    *,
    column: str = "",
    decoded: dict[str, pd.Series] | None = None,
    drawn: dict[str, dict[str, np.ndarray]] | None = None,
    rows: np.ndarray | None = None,
    inverse: np.ndarray | None = None,
) -> np.ndarray | None:
    """Regenerate one column; names use the decoded gender and the row's full name.

    Args:
        entry: The column's regeneration entry.
        n: Number of rows.
        seed: The column's seed.
        column: Its name (a full name's draw is kept under it for its parts).
        decoded: Columns decoded so far (the sex or gender column is read there).
        drawn: Full names drawn so far with their parts, by column.
        rows: First row of each entity, when rows are grouped.
        inverse: Entity of each row, when rows are grouped.

    Example:
        >>> entry = {"kind": "pii", "pii_type": "first_name", "gender_column": "sex"}
        >>> sex = {"sex": pd.Series(["f", "f", "m"])}
        >>> names = regenerate_column(entry, 3, 0, decoded=sex, rows=np.array([0, 2]),
        ...                     inverse=np.array([0, 0, 1]))
        >>> bool(names[0] == names[1])
        True
    """
    from synthkit.pii import regenerate
    from synthkit.pii.names import NAME_TYPES, generate_names

    if entry["kind"] == "pii" and entry.get("strategy") == "drop":
        return None
    decoded = {} if decoded is None else decoded
    drawn = {} if drawn is None else drawn
    if entry["kind"] == "pii" and entry.get("pii_type") in NAME_TYPES:
        part = entry.get("name_part") or _PART_OF_NAME[entry["pii_type"]]
        source = entry.get("name_column")
        if source in drawn:
            values = np.asarray(drawn[source][part], dtype=object)
        else:
            gender_column = entry.get("gender_column")
            gender = decoded.get(gender_column) if gender_column else None
            if gender is not None:
                gender = gender.reset_index(drop=True)
                gender = gender if rows is None else gender.iloc[rows]
            made = generate_names(entry, n if rows is None else len(rows), seed, gender)
            if inverse is not None:
                made = {key: value[inverse] for key, value in made.items()}
            drawn[column] = made
            values = np.asarray(made[_PART_OF_NAME[entry["pii_type"]]], dtype=object)
    else:
        values = regenerate(entry, n, seed)
    share = entry.get("null_share", 0.0)
    if share > 0:  # codes with missing values keep their share of them; keys have none
        # An entity's personal data is missing on all its rows or on none.
        grouped = rows is not None and inverse is not None and entry["kind"] == "pii"
        draws = np.random.default_rng(seed).random(len(rows) if grouped else n)
        missing = (draws < share)[inverse] if grouped else draws < share
        if np.asarray(values).dtype.kind in "iu":
            values = np.asarray(values, dtype=float)
            values[missing] = np.nan
        else:
            values = np.asarray(values, dtype=object)
            values[missing] = None
    return values


def assemble(
    columns: dict[str, pd.Series],
    n: int,
    seed: int,
    regenerated: Mapping[str, dict[str, Any]],
    output_columns: list[str],
    groups: np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """Add the regenerated columns to decoded ones and order them like the real frame.

    Name parts tied to a full name are regenerated after it, from the same draw;
    names follow the decoded sex or gender column. ``groups`` (one entity code
    per row) gives every row of an entity the same names.

    Args:
        columns: The decoded learned columns by name (filled in place).
        n: Number of rows.
        seed: The decoding seed; regenerated column ``i`` draws from ``seed + 1 + i``.
        regenerated: Each never-learned column's :func:`regeneration_entry`, in
            table order.
        output_columns: The columns of the result, in order.
        groups: Optional entity code of each row.

    Returns:
        The frame with ``output_columns``.

    Raises:
        DataError: If ``groups`` does not hold one code per row.

    Example:
        >>> decoded = {"x": pd.Series([1, 2, 3])}
        >>> entry = {"kind": "id", "null_share": 0.0}
        >>> frame = assemble(decoded, 3, 0, {"key": entry}, ["key", "x"])
        >>> list(frame.columns), frame["key"].is_unique
        (['key', 'x'], True)
    """
    rows = inverse = None
    if groups is not None:
        codes = np.asarray(groups)
        if codes.shape != (n,):
            raise DataError(f"groups has shape {codes.shape}; pass one entity code per row ({n}).")
        _, rows, inverse = np.unique(codes, return_index=True, return_inverse=True)
    drawn: dict[str, dict[str, np.ndarray]] = {}
    ordered = sorted(
        enumerate(regenerated.items()),
        key=lambda item: item[1][1].get("name_column") in regenerated,
    )
    for offset, (column, entry) in ordered:
        values = regenerate_column(
            entry,
            n,
            seed + 1 + offset,
            column=column,
            decoded=columns,
            drawn=drawn,
            rows=rows,
            inverse=inverse,
        )
        if values is not None:
            columns[column] = pd.Series(values, name=column)
    return pd.DataFrame({c: columns[c].reset_index(drop=True) for c in output_columns})
