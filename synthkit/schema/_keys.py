"""Metadata for a dataset shape's tables: detected kinds plus the keys the shape knows."""

from __future__ import annotations

import pandas as pd

from synthkit.metadata import Metadata

__all__ = ["metadata_for"]


def metadata_for(
    frame: pd.DataFrame,
    given: Metadata | None = None,
    *,
    id_columns: tuple[str, ...] = (),
    **keys: str | None,
) -> Metadata:
    """Return metadata for ``frame`` with ``keys`` (primary/sequence roles) set.

    ``given`` is validated against ``frame`` and copied; otherwise kinds are
    detected. Key columns listed in ``id_columns`` get the ``id`` kind.
    """
    if given is not None:
        given.validate(frame)
        base = given.to_dict()
        for column in id_columns:
            base["columns"][column] = {"kind": "id"}
    else:
        # Keys are overrides, so detection proposes no rule on a column models never learn.
        overrides = dict.fromkeys(id_columns, "id")
        base = Metadata.detect(frame, overrides=overrides).to_dict()
    base.update({role: column for role, column in keys.items() if column is not None})
    return Metadata.from_dict(base)
