"""Identifier leaks: synthetic values copied verbatim from the training data's rare values.

A value seen once in the training rows (a case number, a name, a one-off job
title) points at one person; finding it in synthetic rows is a leak whatever
kind detection gave the column. The check runs on every string column, so it
catches a copied identifier even when detection took it for a category.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.api import types as ptypes

from synthkit.errors import ParameterError
from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.data import EvaluationData

__all__ = ["IdentifierLeak", "rare_value_leaks"]


def rare_value_leaks(real: pd.Series, synthetic: pd.Series, k: int = 1) -> float:
    """Share of non-null synthetic values found among the real values seen at most ``k`` times.

    Example:
        >>> real = pd.Series(["A1", "B2", "C3", "C3"])
        >>> rare_value_leaks(real, pd.Series(["A1", "C3", "Z9", None]))
        0.3333333333333333
    """
    counts = real.dropna().astype(str).value_counts()
    rare = counts.index[counts <= k]
    present = synthetic.dropna().astype(str)
    if present.empty:
        return 0.0
    return float(present.isin(rare).mean())


def _is_string(series: pd.Series) -> bool:
    dtype = series.dtype
    return bool(
        ptypes.is_object_dtype(dtype)
        or ptypes.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


class IdentifierLeak(Metric):
    """Worst share, over string columns, of synthetic values equal to a rare training value.

    Params:
        k: A training value seen at most ``k`` times is rare (default 1: unique).
        worst: How many of the worst columns the details name.

    Example:
        >>> import pandas as pd
        >>> real = pd.DataFrame({"code": ["A1", "B2", "C3", "D4"], "x": [1.0, 2.0, 3.0, 4.0]})
        >>> IdentifierLeak().compute(real, real).value
        1.0
    """

    name = "identifier_leak"
    category = "privacy"
    direction = "lower"
    explanation = "Worst share, over string columns, of synthetic values copying a rare real value."
    params = {"k": 1, "worst": 5}
    shapes = ("table", "sequences")
    sequence_view = "tables"
    worst_of_tables = True

    def score(self, data: EvaluationData) -> MetricResult:
        """Look every string column's synthetic values up among its rare training values."""
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ParameterError(f"k={self.k!r} must be a whole number >= 1.")
        real, synthetic = data.raw_real, data.raw_synthetic
        shares = {
            str(column): rare_value_leaks(real[column], synthetic[column], self.k)
            for column in real.columns
            if _is_string(real[column]) and column in synthetic.columns
        }
        ranked = sorted(shares.items(), key=lambda item: -item[1])
        details: dict[str, Any] = {
            "k": self.k,
            "columns_checked": len(shares),
            "worst_columns": dict(ranked[: int(self.worst)]),
        }
        return MetricResult(max(shares.values(), default=0.0), details=details)
