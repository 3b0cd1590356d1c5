"""Which rules a differentially private fit may learn.

Most rules' transforms store real values (a range's extremes, an inequality's
reference value and smallest gap, the combinations seen), and detecting a rule
reads the whole table outside any privacy budget. A private fit therefore leaves
out the rules detected from the data (stated in the log) and refuses a declared
rule that stores real values, since silently dropping it would break what the
user asked every synthetic row to obey. A declared formula stores nothing but
its expression, so a private fit keeps it.
"""

from __future__ import annotations

import logging

from synthkit.errors import ParameterError
from synthkit.metadata import Metadata
from synthkit.rules._core import Formula

_LOG = logging.getLogger("synthkit")


def rules_for_private_fit(metadata: Metadata, what: str = "this table") -> Metadata:
    """``metadata`` with only the rules a differentially private fit may keep.

    Detected rules are left out; declared formulas stay, and their columns lose
    the real range detection recorded (``min``, ``max``), since the values are
    computed from the formula.

    Args:
        metadata: The data's metadata; it is not changed.
        what: The data the rules belong to, for the log and the error.

    Returns:
        ``metadata`` itself when it holds no rules, else a copy with only the
        declared formulas.

    Raises:
        ParameterError: A rule other than a formula was declared
            (``Metadata.add_rule``): a private fit cannot keep it without storing
            real values.

    Example:
        >>> import pandas as pd
        >>> from synthkit.metadata import Metadata
        >>> df = pd.DataFrame({"start": range(100), "stop": [2 * i + 1 for i in range(100)]})
        >>> md = Metadata.detect(df)
        >>> md.rules
        [Inequality(stop > start (held by 100.0 % of real rows))]
        >>> rules_for_private_fit(md).rules
        []
        >>> md.rules  # the caller's metadata keeps them
        [Inequality(stop > start (held by 100.0 % of real rows))]
        >>> md = Metadata.detect(df, rules=False).add_rule("formula", column="stop",
        ...                                               expression="2 * start + 1")
        >>> private = rules_for_private_fit(md)
        >>> private.rules, "max" in private.columns["stop"]
        ([Formula(stop = 2 * start + 1)], False)
    """
    rules = list(getattr(metadata, "rules", []))
    if not rules:
        return metadata
    declared = [rule for rule in rules if rule.share is None]
    refused = [rule for rule in declared if not isinstance(rule, Formula)]
    if refused:
        raise ParameterError(
            f"Differentially private fits support no declared rule between columns but "
            f"formulas: {what} declares {refused} (such a rule's transform stores exact "
            "real values). Remove those rules from metadata.rules, or fit without epsilon."
        )
    detected = [rule for rule in rules if rule.share is not None]
    if detected:
        _LOG.info(
            "A private fit of %s leaves out %d rule(s) detected from the data (detection "
            "reads the data outside the privacy budget): %s",
            what,
            len(detected),
            detected,
        )
    entries = metadata.to_dict()
    entries["rules"] = [rule.to_dict() for rule in declared]
    for rule in declared:
        for key in ("min", "max"):
            entries["columns"][rule.column].pop(key, None)
    return Metadata.from_dict(entries)
