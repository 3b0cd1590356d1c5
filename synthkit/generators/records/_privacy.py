"""Differentially private training of a record model, with the root entity as the privacy unit.

One root row with every row hanging off it (a patient with all their labs and
events) is one unit. Where every synthesized child table is owned by the root
table (a star), adding or removing one root entity changes one row of the root
table's model and one entity of each child's sequence model, so each model
trains with the existing DP of its kind (``Synthesizer("ar", epsilon=...)``,
``SequenceSynthesizer("ar", epsilon=...)`` with the entity as its unit) and the
budget splits across them by basic composition: their ε and δ add up.

A small share of ε pays for the number of root rows, which a sample draws in
the same proportion (a Laplace count). Kept tables are public and spend
nothing. Deeper trees are refused: there one root entity owns several entities
of a grandchild's model (a patient's several visits, each with its labs), and
the group-privacy cost of an unbounded number of them has no finite bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synthkit.errors import ParameterError
from synthkit.privacy.accounting import default_delta

__all__ = ["RecordBudget"]

#: Share of ε spent on the noisy number of root rows (a Laplace count, δ = 0).
COUNT_SHARE = 0.02

#: Parameters a record model sets on its table and sequence models under DP.
_SET_BY_RECORDS = ("epsilon", "delta")


class RecordBudget:
    """A record model's ε and δ, split over the root count and each learned table.

    The root's row count gets ``COUNT_SHARE`` of ε (no δ); the remaining ε and
    all of δ split equally over the models (the root table's model and each
    child table's sequence model), which compose by adding up.

    Args:
        epsilon: The total ε.
        delta: The total δ, or None for ``1 / n**1.1`` over the ``n`` root rows.
        root: The root table (its rows are the privacy units).
        n_units: Its number of rows.
        models: The tables that train a model, in fitting order.
        kept: The public tables copied unchanged.

    Example:
        >>> budget = RecordBudget(4.0, 1e-5, "patients", 1_000, ["patients", "labs"], [])
        >>> budget.count_epsilon, budget.part("labs")
        (0.08, {'epsilon': 1.96, 'delta': 5e-06})
    """

    def __init__(
        self,
        epsilon: float,
        delta: float | None,
        root: str,
        n_units: int,
        models: list[str],
        kept: list[str],
    ) -> None:
        self.epsilon = float(epsilon)
        self.delta = float(delta) if delta is not None else default_delta(n_units)
        self.root, self.models, self.kept = root, list(models), list(kept)
        self.count_epsilon = self.epsilon * COUNT_SHARE
        shares = max(len(self.models), 1)
        self.model_epsilon = (self.epsilon - self.count_epsilon) / shares
        self.model_delta = self.delta / shares

    def part(self, table: str) -> dict[str, float]:
        """The ``epsilon`` and ``delta`` parameters of ``table``'s model."""
        if table not in self.models:
            raise KeyError(table)
        return {"epsilon": self.model_epsilon, "delta": self.model_delta}

    def noisy_count(self, n: int, seed: int) -> int:
        """The root row count through the Laplace mechanism (sensitivity 1), at least one.

        Example:
            >>> budget = RecordBudget(1.0, None, "p", 500, ["p"], [])
            >>> 300 < budget.noisy_count(500, seed=0) < 700
            True
        """
        noise = np.random.default_rng(seed).laplace(0.0, 1.0 / self.count_epsilon)
        return max(1, round(n + noise))

    def report(
        self, spent: Mapping[str, Mapping[str, Any] | None], n_tables: int
    ) -> dict[str, Any]:
        """What the fit spent in all and by part (``spent``: each model's ``privacy_budget_``)."""
        parts: dict[str, Any] = {
            f"{self.root} row count": {
                "mechanism": "Laplace count, sensitivity 1",
                "epsilon": self.count_epsilon,
                "epsilon_spent": self.count_epsilon,
                "delta": 0.0,
            }
        }
        for table in self.models:
            budget = dict(spent.get(table) or {})
            parts[table] = {
                "epsilon": self.model_epsilon,
                "delta": self.model_delta,
                "epsilon_spent": float(budget.get("epsilon_spent", 0.0)),
                "model": budget,
            }
        total = sum(float(part["epsilon_spent"]) for part in parts.values())
        return {
            "unit": (
                f"root entity: one {self.root!r} row with every row hanging off it "
                f"({n_tables - len(self.kept)} synthesized tables)"
            ),
            "epsilon": self.epsilon,
            "epsilon_spent": total,
            "delta": self.delta,
            "composition": (
                "basic: every model sees each root entity as one unit, so the parts' "
                "epsilon and delta add up"
            ),
            "split": parts,
            "public_tables": {
                table: "kept: public, copied unchanged, spends nothing" for table in self.kept
            },
        }


def check_private_plan(
    plans: Mapping[str, Mapping[str, Any]],
    order: list[str],
    table_params: Mapping[str, Any] | None,
    sequence_params: Mapping[str, Any] | None,
) -> tuple[str, list[str]]:
    """The root table and the tables whose models train, or why DP cannot hold here.

    Raises:
        ParameterError: For several synthesized root tables (no single privacy
            unit), a child owned by a table other than the root (a root entity
            would be several units of that model), a key drawn by the real
            popularity of its parents, or ``epsilon``/``delta`` in
            ``table_params`` or ``sequence_params``.

    Example:
        >>> plans = {"p": {"role": "root", "owner": None, "links": []},
        ...          "v": {"role": "child", "owner": {"parent": "p"}, "links": []},
        ...          "l": {"role": "child", "owner": {"parent": "v"}, "links": []}}
        >>> try:
        ...     check_private_plan(plans, ["p", "v", "l"], None, None)
        ... except ParameterError as error:
        ...     print(str(error)[:70])
        Table 'l' is owned by 'v', a child table: one root entity in 'p' can o
    """
    for option, given in (("table_params", table_params), ("sequence_params", sequence_params)):
        named = [p for p in _SET_BY_RECORDS if p in (given or {})]
        if named:
            raise ParameterError(
                f"{option} sets {named}: with epsilon the record model splits the budget "
                "over its tables itself. Pass epsilon and delta to RecordSynthesizer only."
            )
    roots = [n for n in order if plans[n]["role"] in ("root", "unlearned")]
    if len(roots) != 1:
        raise ParameterError(
            f"Differential privacy protects one root entity with every row hanging off it; "
            f"this database has {len(roots)} synthesized root tables {roots}. Keep the "
            "public ones (keep=[...]) or relate them so that one root remains."
        )
    root = roots[0]
    for name in order:
        plan = plans[name]
        if plan["role"] == "unlearned" and plan.get("encoder") is not None:
            raise ParameterError(
                f"Root table {name!r} has only constant or regenerated columns, described "
                "by an encoder that reads their exact values outside the budget; drop them "
                "or fit without epsilon."
            )
        if plan["role"] not in ("child", "empty"):
            continue
        owner = plan["owner"]["parent"]
        if owner != root:
            what = "a kept (public) table" if plans[owner]["role"] == "kept" else "a child table"
            raise ParameterError(
                f"Table {name!r} is owned by {owner!r}, {what}: one root entity in {root!r} "
                f"can own any number of {owner!r} rows, each one unit of {name!r}'s model, "
                "so the budget per root entity has no bound (group privacy over an unbounded "
                f"group). Differential privacy needs every synthesized child owned by {root!r} "
                f"(a star); fit without epsilon, or keep {name!r} out of the database."
            )
        for link in plan["links"]:
            if link["mode"] == "sampled":
                raise ParameterError(
                    f"Table {name!r}: its key {link['child_key']!r} into {link['parent']!r} "
                    "is drawn by the real numbers of children per parent, which reads the "
                    "data outside the budget. Raise max_key_categories above its number of "
                    "values so that it is learned (into a kept table), or drop the column."
                )
    models = [n for n in order if plans[n]["role"] in ("root", "child")]
    return root, models
