"""Data sets bundled with synthkit, so demos, examples and benchmarks run offline."""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_adult"]


def load_adult(split: str = "train") -> pd.DataFrame:
    """Load the UCI Adult census income data bundled with synthkit.

    32,561 training and 16,281 test rows, 15 columns; ``income`` is the label
    (``">50K"`` for 24 % of rows). ``'?'`` in the source is read as missing.
    Source: UCI Machine Learning Repository (CC BY 4.0); see ``data/README.md``.

    Args:
        split: ``"train"`` or ``"test"``.

    Returns:
        The split as a DataFrame with integer and string columns.

    Example:
        >>> df = load_adult("train")
        >>> df.shape
        (32561, 15)
    """
    if split not in ("train", "test"):
        from synthkit.errors import ParameterError

        raise ParameterError(f"split={split!r}: use 'train' or 'test'.")
    source = resources.files(__package__).joinpath("data", f"adult_{split}.csv.gz")
    with resources.as_file(source) as path:
        frame = pd.read_csv(path, na_values=["?"], skipinitialspace=True)
    return frame
