"""Bounded rejection for what the frame transform cannot keep natively.

Two cases reach it: conditions on a column a rule rewrites (the model learns the
gap, fraction or joint category, not the column's own values), and rules the
transform could not take because another rule already derives their column.
Rows are drawn in batches sized by the acceptance seen so far, for a bounded
number of rounds, and the error names what could not be met and how often it
held.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.errors import ConditionError
from synthkit.rules._core import RuleError, rule_shares

__all__ = ["needs_rejection", "sample_with_rules"]

_MAX_ROUNDS = 20
# Rejection gives up after drawing this many rows per requested row.
_MAX_FACTOR = 50


def needs_rejection(encoder: Any, conditions: list[Any]) -> bool:
    """Whether sampling must go through :func:`sample_with_rules`."""
    rules = getattr(encoder, "rules_", None)
    if rules is None:
        return False
    return bool(rules.checked) or any(c.column in rules.columns for c in conditions)


def sample_with_rules(model: Any, n: int, conditions: list[Any], seed: int) -> pd.DataFrame:
    """Draw ``n`` decoded rows of a fitted ``model`` that meet ``conditions`` and every rule.

    Conditions on columns no rule rewrites go to the model's own conditioning;
    the rest, and the rules the transform could not take, are met by rejection.

    Raises:
        ConditionError: If too few drawn rows meet a condition on a rule column.
        RuleError: If too few drawn rows obey a rule kept by rejection.
    """
    encoder = model.encoder_
    rules = encoder.rules_
    ruled = [c for c in conditions if c.column in rules.columns]
    plain = [c for c in conditions if c.column not in rules.columns]
    columns = encoder.metadata_.columns

    def draw(size: int, round_seed: int) -> pd.DataFrame:
        if plain:
            return model._sample_conditioned(size, plain, round_seed)
        return encoder.decode(model._sample(size, None), random_state=round_seed)

    collected: list[pd.DataFrame] = []
    have = drawn = 0
    met_conditions = 0
    obeyed = dict.fromkeys(range(len(rules.checked)), 0)
    expected = 1.0
    for attempt in range(_MAX_ROUNDS):
        if drawn > _MAX_FACTOR * n + 10_000:
            break
        need = n - have
        batch = int(min(max(need / max(expected, 1e-3) * 1.2, need), 10 * n + 1000))
        frame = draw(batch, seed + attempt)
        drawn += len(frame)
        mask = np.ones(len(frame), dtype=bool)
        for condition in ruled:
            mask &= condition.mask(frame)
        met_conditions += int(mask.sum())
        for i, rule in enumerate(rules.checked):
            applies, holds = rule_shares(rule, frame, columns)
            ok = holds | ~applies
            obeyed[i] += int(ok.sum())
            mask &= ok
        accepted = frame[mask]
        expected = max(len(accepted) / max(len(frame), 1), 1e-4)
        collected.append(accepted)
        have += len(accepted)
        if have >= n:
            return pd.concat(collected, ignore_index=True).iloc[:n]
    shares = {r.describe(): obeyed[i] / max(drawn, 1) for i, r in enumerate(rules.checked)}
    if ruled and met_conditions / max(drawn, 1) <= min(shares.values(), default=1.0):
        raise ConditionError(
            f"Only {have} of {n} rows met the conditions {[c.column for c in ruled]} after "
            f"drawing {drawn:,} rows ({100 * met_conditions / max(drawn, 1):.2f} % met them); "
            "these columns are learned through a rule, so they are met by rejection. Loosen "
            "the conditions or condition on fewer columns."
        )
    worst = min(shares, key=shares.__getitem__)
    raise RuleError(
        f"Only {have} of {n} rows obeyed every rule after drawing {drawn:,} rows: rule {worst} "
        f"held in {100 * shares[worst]:.2f} % of them. It is kept by rejection because another "
        "rule already derives its column; drop one of the two rules, or fit the model longer."
    )
