"""Rules between columns: declared or detected, kept by every model.

A :class:`~synthkit.metadata.Metadata` holds a list of rules
(``metadata.rules``); :meth:`~synthkit.metadata.Metadata.add_rule` declares one
and :meth:`~synthkit.metadata.Metadata.detect` proposes those the real data obeys
(a :class:`Formula`, a column computed from others, is only ever declared).
The table encoder turns them into a reversible frame transform, so every model
keeps them natively; rules it cannot transform are kept by bounded rejection.
"""

from synthkit.rules._core import (
    RULE_KINDS,
    FixedCombinations,
    Formula,
    Inequality,
    Range,
    Rule,
    RuleError,
    Sum,
    make_rule,
    rule_from_dict,
    rule_shares,
    share_held,
)

__all__ = [
    "RULE_KINDS",
    "FixedCombinations",
    "Formula",
    "Inequality",
    "Range",
    "Rule",
    "RuleError",
    "Sum",
    "make_rule",
    "rule_from_dict",
    "rule_shares",
    "share_held",
]
