"""Differential privacy: the budget's accounting and the private description of columns.

A differentially private fit (``Synthesizer("ar", epsilon=...)``) spends its budget on
mechanisms composed by a Rényi-DP accountant: noisy histograms that describe the
columns (:mod:`synthkit.privacy.preprocessing`), for tables noisy one-way histograms of
every column's tokens that the model's column shapes are held to
(:mod:`synthkit.privacy.marginals`), and DP-SGD training. The privacy unit for tables
is the row.
"""

from synthkit.privacy.accounting import default_delta, epsilon_spent, noise_for_epsilon
from synthkit.privacy.preprocessing import NarrowRangeWarning, PrivacyBudget, protected_range

__all__ = [
    "NarrowRangeWarning",
    "PrivacyBudget",
    "default_delta",
    "epsilon_spent",
    "noise_for_epsilon",
    "protected_range",
]
