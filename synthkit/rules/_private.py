"""Which rules a differentially private fit may learn.

A rule's transform stores real values (a range's extremes, an inequality's
reference value and smallest gap, the combinations seen), and detecting a rule
reads the whole table outside any privacy budget. A private fit therefore learns
no rule: rules detected from the data are left out (stated in the log), and a
declared rule is refused, since silently dropping it would break what the user
asked every synthetic row to obey.
"""

from __future__ import annotations

import logging

from synthkit.errors import ParameterError
from synthkit.metadata import Metadata

_LOG = logging.getLogger("synthkit")


def rules_for_private_fit(metadata: Metadata, what: str = "this table") -> Metadata:
    """``metadata`` without its detected rules, for a differentially private fit.

    Args:
        metadata: The data's metadata; it is not changed.
        what: The data the rules belong to, for the log and the error.

    Returns:
        ``metadata`` itself when it holds no rules, else a copy without them.

    Raises:
        ParameterError: A rule was declared (``Metadata.add_rule``): a private fit
            cannot keep it without storing real values.

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
    """
    rules = list(getattr(metadata, "rules", []))
    if not rules:
        return metadata
    declared = [rule for rule in rules if rule.share is None]
    if declared:
        raise ParameterError(
            f"Differentially private fits do not support rules between columns yet: "
            f"{what} declares {declared} (a rule's transform stores exact real values). "
            "Remove those rules from metadata.rules, or fit without epsilon."
        )
    _LOG.info(
        "A private fit of %s leaves out %d rule(s) detected from the data (detection "
        "reads the data outside the privacy budget): %s",
        what,
        len(rules),
        rules,
    )
    entries = metadata.to_dict()
    entries.pop("rules", None)
    return Metadata.from_dict(entries)
