"""Feature matrices for the scikit-learn models that detection and utility metrics fit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from synthkit.evaluation.data import EvaluationData

__all__ = ["classifier_features", "hist_gradient_boosting", "one_hot_features", "single_thread"]

# HistGradientBoosting handles at most this many levels per native categorical feature.
_MAX_NATIVE_LEVELS = 250


def classifier_features(
    frame: pd.DataFrame, data: EvaluationData, drop: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, list[bool]]:
    """Return numbers as floats and categories as codes, plus a categorical-feature mask.

    Datetimes become nanoseconds; categories with more levels than gradient
    boosting accepts natively are kept as plain codes.

    Example:
        >>> from synthkit.evaluation.data import EvaluationData
        >>> frame = pd.DataFrame({"x": [1.5, 2.0, 3.0], "c": ["a", "b", "a"]})
        >>> features, mask = classifier_features(frame, EvaluationData(frame, frame))
        >>> features["c"].tolist(), mask
        ([0.0, 1.0, 0.0], [False, True])
    """
    columns = [c for c in data.columns if c not in drop]
    out = {}
    mask = []
    for column in columns:
        values = frame[column]
        if column in data.numeric_columns:
            if pd.api.types.is_datetime64_any_dtype(values):
                out[column] = pd.to_numeric(values).astype(float).where(values.notna(), np.nan)
            else:
                out[column] = pd.to_numeric(values, errors="coerce").astype(float)
            mask.append(False)
        else:
            codes, levels = pd.factorize(values.astype(object).map(str).where(values.notna()))
            out[column] = pd.Series(np.where(codes < 0, np.nan, codes), index=frame.index)
            mask.append(len(levels) <= _MAX_NATIVE_LEVELS)
    return pd.DataFrame(out, index=frame.index), mask


def one_hot_features(frames: list[pd.DataFrame], drop: tuple[str, ...] = ()) -> list[pd.DataFrame]:
    """One-hot encode several frames together (MEASURING.md's utility protocol).

    All non-``drop`` columns go through ``pandas.get_dummies(..., dummy_na=True)``
    over the concatenation, so every frame gets the same feature columns.

    Example:
        >>> a = pd.DataFrame({"c": ["x", "y"], "n": [1, 2]})
        >>> b = pd.DataFrame({"c": ["z", None], "n": [3, 4]})
        >>> [f.shape for f in one_hot_features([a, b])]
        [(2, 5), (2, 5)]
    """
    pooled = pd.concat([f.drop(columns=list(drop)) for f in frames], ignore_index=True)
    for column in pooled.columns:
        if pd.api.types.is_datetime64_any_dtype(pooled[column]):
            pooled[column] = pd.to_numeric(pooled[column]).astype(float)
        elif pd.api.types.is_bool_dtype(pooled[column]):
            pooled[column] = pooled[column].astype(object)
    encoded = pd.get_dummies(pooled, dummy_na=True, dtype=np.float32)
    encoded.columns = [str(c) for c in encoded.columns]
    bounds = np.cumsum([0] + [len(f) for f in frames])
    return [encoded.iloc[bounds[i] : bounds[i + 1]] for i in range(len(frames))]


def single_thread() -> Any:
    """Limit OpenMP to one thread for a block.

    Gradient boosting on tens of thousands of rows synchronises its threads for
    every tree; on a busy machine two spinning threads run several times slower
    than one, so small fits run single-threaded.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def hist_gradient_boosting(categorical: list[bool] | None, random_state: int, **kwargs: Any) -> Any:
    """Return a ``HistGradientBoostingClassifier`` with native categorical support."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    mask = categorical if categorical and any(categorical) else None
    return HistGradientBoostingClassifier(
        categorical_features=mask, random_state=random_state, **kwargs
    )
