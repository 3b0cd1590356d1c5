"""Singling-out, linkability and attribute-inference risks against a control set.

Each attack uses the synthetic rows to make guesses about real people, is run
against training rows and against control rows the generator never saw (the
holdout), and the risk is the excess success on training rows:
``risk = (r_attack - r_control) / (1 - r_control)``, with success rates
estimated by Wilson score intervals at 95 % confidence and the error propagated
to the risk, as Giomi et al. define it. Training and control rows are cut to
equal numbers. A random-guess baseline is reported beside each attack: an attack
no better than it says little. To bound the work, the attacker searches at most
``max_rows`` synthetic rows (the sizes used are recorded in the report).

References:
    Giomi, Boenisch, Wehmeyer, Tasnádi. A Unified Framework for Quantifying
    Privacy Risk in Synthetic Data. PETS 2023.
    Cohen, Nissim. Towards formalizing the GDPR's notion of singling out. PNAS 2020.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from synthkit.errors import ParameterError
from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.data import EvaluationData
from synthkit.evaluation.neighbors import Encoded, iter_l1_blocks

__all__ = [
    "InferenceRisk",
    "LinkabilityRisk",
    "Rate",
    "SinglingOutRisk",
    "residual_risk",
    "wilson_rate",
]

# Query-by-row boolean blocks stay under this many entries (50 MB).
_MATCH_ENTRIES = 50_000_000
_OP_EQUAL, _OP_AT_LEAST, _OP_AT_MOST, _OP_MISSING = 0, 1, 2, 3


@dataclass(frozen=True)
class Rate:
    """A success rate with a symmetric error bound (Wilson score interval)."""

    value: float
    error: float

    def interval(self) -> tuple[float, float]:
        """Return the interval clipped to [0, 1]."""
        return (max(0.0, self.value - self.error), min(1.0, self.value + self.error))


def wilson_rate(successes: int, total: int, confidence: float = 0.95) -> Rate:
    """Wilson score estimate of a Bernoulli success rate and its error bound.

    Example:
        >>> rate = wilson_rate(50, 100)
        >>> round(rate.value, 3), round(rate.error, 3)
        (0.5, 0.096)
    """
    if total <= 0:
        raise ParameterError(f"total={total}: a success rate needs at least one attempt.")
    z = NormalDist().inv_cdf(0.5 * (1.0 + confidence))
    denominator = total + z * z
    center = (successes + 0.5 * z * z) / denominator
    spread = successes * (total - successes) / total + 0.25 * z * z
    return Rate(center, z / denominator * float(np.sqrt(spread)))


def residual_risk(attack: Rate, control: Rate) -> tuple[float, tuple[float, float]]:
    """Risk ``(r_attack - r_control) / (1 - r_control)`` and its interval, clipped to [0, 1].

    The error is propagated from both rates to first order.

    Example:
        >>> risk, (low, high) = residual_risk(Rate(0.6, 0.05), Rate(0.2, 0.04))
        >>> round(risk, 3), round(low, 3), round(high, 3)
        (0.5, 0.433, 0.567)
    """
    margin = 1.0 - control.value
    if margin <= 0:
        return float("nan"), (float("nan"), float("nan"))
    value = (attack.value - control.value) / margin
    error = float(np.hypot(attack.error / margin, control.error * (attack.value - 1.0) / margin**2))
    clip = lambda x: min(max(x, 0.0), 1.0)  # noqa: E731
    return clip(value), (clip(value - error), clip(value + error))


def _attack_result(
    attack_successes: int,
    control_successes: int,
    baseline_successes: int,
    attempts: int,
    extra: dict[str, Any],
    control_attempts: int | None = None,
) -> MetricResult:
    control_attempts = attempts if control_attempts is None else control_attempts
    attack = wilson_rate(attack_successes, attempts)
    control = wilson_rate(control_successes, control_attempts)
    baseline = wilson_rate(baseline_successes, attempts)
    risk, interval = residual_risk(attack, control)
    details = {
        "attack_rate": attack.value,
        "attack_rate_interval": attack.interval(),
        "control_rate": control.value,
        "control_rate_interval": control.interval(),
        "baseline_rate": baseline.value,
        "attempts": attempts,
        "control_attempts": control_attempts,
        "attack_successes": attack_successes,
        "control_successes": control_successes,
        "better_than_baseline": attack.value > baseline.value,
        **extra,
    }
    return MetricResult(risk, interval, details)


def _targets(
    data: EvaluationData, purpose: str, size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    # Equal numbers of training and control rows, so their success rates compare directly.
    equal = min(len(data.real), len(data.holdout))
    if size is not None:
        equal = min(equal, size)
    train = data.positions(len(data.real), equal, f"{purpose} training rows")
    control = data.positions(len(data.holdout), equal, f"{purpose} control rows")
    return train, control


# ---------------------------------------------------------------- singling out
def _value_matrix(data: EvaluationData) -> dict[str, np.ndarray]:
    """Every table as a float matrix: numbers as is, categories as shared codes (-1 = missing)."""

    def compute() -> dict[str, np.ndarray]:
        frames = {"real": data.real, "synthetic": data.synthetic, "holdout": data.holdout}
        out = {name: np.empty((len(f), len(data.columns))) for name, f in frames.items()}
        for j, column in enumerate(data.columns):
            if column in data.numeric_columns:
                for name, frame in frames.items():
                    values = frame[column]
                    if pd.api.types.is_datetime64_any_dtype(values):
                        values = pd.to_numeric(values).astype(float).where(values.notna())
                    out[name][:, j] = values.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                pooled = pd.concat([f[column].astype(object) for f in frames.values()])
                codes, _ = pd.factorize(pooled.map(str).where(pooled.notna()))
                bounds = np.cumsum([0] + [len(f) for f in frames.values()])
                for i, name in enumerate(frames):
                    out[name][:, j] = codes[bounds[i] : bounds[i + 1]]
        return out

    return data.cached("attack value matrix", compute)


def _count_matches(
    table: np.ndarray, columns: np.ndarray, values: np.ndarray, operators: np.ndarray
) -> np.ndarray:
    """Number of ``table`` rows each conjunctive query matches (loops over columns only)."""
    n_queries = len(columns)
    counts = np.zeros(n_queries, dtype=np.int64)
    step = max(1, _MATCH_ENTRIES // max(len(table), 1))
    for start in range(0, n_queries, step):
        stop = min(start + step, n_queries)
        match = np.ones((stop - start, len(table)), dtype=bool)
        for slot in range(columns.shape[1]):
            used = columns[start:stop, slot]
            ops = operators[start:stop, slot]
            vals = values[start:stop, slot]
            for j in np.unique(used):
                x = table[:, j][None, :]
                for op in np.unique(ops[used == j]):
                    chosen = np.flatnonzero((used == j) & (ops == op))
                    match[chosen] &= _compare(x, vals[chosen][:, None], op)
        counts[start:stop] = match.sum(axis=1)
    return counts


def _compare(x: np.ndarray, v: np.ndarray, op: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if op == _OP_EQUAL:
            return x == v
        if op == _OP_AT_LEAST:
            return x >= v
        if op == _OP_AT_MOST:
            return x <= v
        return np.broadcast_to(np.isnan(x), (len(v), x.shape[1]))


def _record_queries(
    synthetic: np.ndarray,
    numeric: np.ndarray,
    n_columns: int,
    batch: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Queries built from random synthetic rows, as the multivariate attack makes them."""
    rows = rng.integers(0, len(synthetic), size=batch)
    columns = np.argsort(rng.random((batch, synthetic.shape[1])), axis=1)[:, :n_columns]
    values = synthetic[rows[:, None], columns]
    medians = np.zeros(synthetic.shape[1])
    if numeric.any():
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns
            medians[numeric] = np.nanmedian(synthetic[:, numeric], axis=0)
    is_number = numeric[columns]
    operators = np.where(
        ~is_number,
        _OP_EQUAL,
        np.where(
            np.isnan(values),
            _OP_MISSING,
            np.where(values > medians[columns], _OP_AT_LEAST, _OP_AT_MOST),
        ),
    )
    return rows, columns, values, operators


class SinglingOutRisk(Metric):
    """Risk that the synthetic data lets an attacker single out a real person.

    In ``"multivariate"`` mode the attacker turns random synthetic rows into
    predicates over ``n_columns`` attributes (``age >= 61 & race == 'Other' &
    ...``; numbers compared toward the tail their value lies in) and keeps those
    that match exactly one synthetic row. In ``"univariate"`` mode the predicates
    are single attributes: a value seen once in the synthetic rows, a number at
    or beyond the synthetic minimum or maximum, or the only missing value.
    Success is a predicate matching exactly one training row; the control rate
    is the same on equally many unseen rows.
    """

    name = "singling_out_risk"
    shapes = ("table", "sequences")
    sequence_view = "entities"
    category = "privacy"
    direction = "lower"
    requires = ("holdout",)
    explanation = "Excess chance that predicates built from synthetic rows isolate a training row."
    params: ClassVar[dict[str, Any]] = {
        "n_attacks": 500,
        "n_columns": 3,
        "max_attempts": 10_000,
        "mode": "multivariate",
    }

    def score(self, data: EvaluationData) -> MetricResult:
        """Generate singling-out predicates and test them on training and control rows."""
        if self.mode not in ("multivariate", "univariate"):
            raise ParameterError(f"mode={self.mode!r}: use 'multivariate' or 'univariate'.")
        values = _value_matrix(data)
        numeric = np.array([c in data.numeric_columns for c in data.columns])
        n_columns = 1 if self.mode == "univariate" else min(int(self.n_columns), len(data.columns))
        synthetic_rows = data.positions(
            len(data.synthetic), data.max_rows, "singling out synthetic rows"
        )
        synthetic = values["synthetic"][synthetic_rows]
        rng = data.rng("singling out")
        if self.mode == "univariate":
            found = _univariate_queries(synthetic, numeric, int(self.n_attacks), rng)
            attempts = len(found)
        else:
            found, attempts = self._multivariate(synthetic, numeric, n_columns, rng)
        if found.empty:
            return MetricResult(
                float("nan"),
                details={"reason": f"no predicate singled out a synthetic row in {attempts} tries"},
            )
        columns = np.stack(found["columns"].to_numpy())
        vals = np.stack(found["values"].to_numpy())
        ops = np.stack(found["operators"].to_numpy())
        train, control = _targets(data, "singling out")
        attack = int((_count_matches(values["real"][train], columns, vals, ops) == 1).sum())
        defended = int((_count_matches(values["holdout"][control], columns, vals, ops) == 1).sum())
        baseline = _baseline_singling_out(
            synthetic, numeric, values["real"][train], columns.shape, rng
        )
        return _attack_result(
            attack,
            defended,
            baseline,
            len(found),
            {
                "mode": self.mode,
                "n_columns": n_columns,
                "query_attempts": attempts,
                "rows_each": len(train),
                "synthetic_rows_used": len(synthetic_rows),
            },
        )

    def _multivariate(
        self, synthetic: np.ndarray, numeric: np.ndarray, n_columns: int, rng: np.random.Generator
    ) -> tuple[pd.DataFrame, int]:
        found = pd.DataFrame()
        attempts = 0
        while len(found) < self.n_attacks and attempts < self.max_attempts:
            rows, columns, vals, ops = _record_queries(synthetic, numeric, n_columns, 1000, rng)
            attempts += len(rows)
            unique = _count_matches(synthetic, columns, vals, ops) == 1
            batch = pd.DataFrame(
                {
                    "row": rows[unique],
                    "key": [tuple(sorted(c)) for c in columns[unique]],
                    "columns": list(columns[unique]),
                    "values": list(vals[unique]),
                    "operators": list(ops[unique]),
                }
            )
            found = pd.concat([found, batch], ignore_index=True).drop_duplicates(["row", "key"])
        return found.iloc[: self.n_attacks], attempts


def _univariate_queries(
    synthetic: np.ndarray, numeric: np.ndarray, n_queries: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Single-attribute predicates that match exactly one synthetic row."""
    columns, values, operators = [], [], []
    for j in range(synthetic.shape[1]):
        column = synthetic[:, j]
        present = column[~np.isnan(column)]
        if np.isnan(column).sum() == 1:
            columns += [j]
            values += [np.nan]
            operators += [_OP_MISSING]
        if numeric[j] and present.size:
            columns += [j, j]
            values += [present.min(), present.max()]
            operators += [_OP_AT_MOST, _OP_AT_LEAST]
        levels, counts = np.unique(present, return_counts=True)
        rare = levels[counts == 1]
        columns += [j] * rare.size
        values += rare.tolist()
        operators += [_OP_EQUAL] * rare.size
    columns = np.array(columns, dtype=np.int64)[:, None]
    values = np.array(values, dtype=np.float64)[:, None]
    operators = np.array(operators, dtype=np.int64)[:, None]
    unique = _count_matches(synthetic, columns, values, operators) == 1
    order = rng.permutation(np.flatnonzero(unique))[:n_queries]
    return pd.DataFrame(
        {
            "columns": list(columns[order]),
            "values": list(values[order]),
            "operators": list(operators[order]),
        }
    )


def _baseline_singling_out(
    synthetic: np.ndarray,
    numeric: np.ndarray,
    train: np.ndarray,
    shape: tuple[int, int],
    rng: np.random.Generator,
) -> int:
    """Successes of random predicates (each value drawn from the column's values)."""
    n_queries, n_columns = shape
    columns = np.argsort(rng.random((n_queries, synthetic.shape[1])), axis=1)[:, :n_columns]
    values = synthetic[rng.integers(0, len(synthetic), size=(n_queries, n_columns)), columns]
    operators = np.where(
        numeric[columns], rng.choice([_OP_AT_LEAST, _OP_AT_MOST], size=columns.shape), _OP_EQUAL
    )
    operators = np.where(numeric[columns] & np.isnan(values), _OP_MISSING, operators)
    return int((_count_matches(train, columns, values, operators) == 1).sum())


# ----------------------------------------------------------------- linkability
class LinkabilityRisk(Metric):
    """Risk that the synthetic data links two halves of a person's record.

    The attacker knows one set of a target's attributes from one source and
    another set from a second source; for each half it looks up the nearest
    synthetic rows, and links the halves when the same synthetic row is among
    the ``n_neighbors`` nearest for both. By default the scored columns are
    split alternately into the two halves.
    """

    name = "linkability_risk"
    shapes = ("table", "sequences")
    sequence_view = "entities"
    category = "privacy"
    direction = "lower"
    requires = ("holdout",)
    explanation = "Excess chance that synthetic rows link two halves of a training record."
    params: ClassVar[dict[str, Any]] = {"n_attacks": 1000, "n_neighbors": 1, "aux_columns": None}

    def score(self, data: EvaluationData) -> MetricResult:
        """Match both halves of training and control targets to synthetic rows."""
        first, second = self._halves(data)
        train, control = _targets(data, "linkability", int(self.n_attacks))
        searched = data.positions(len(data.synthetic), data.max_rows, "linkability synthetic rows")
        synthetic = data.encoded("synthetic").take(searched)
        k = max(1, min(int(self.n_neighbors), len(synthetic)))
        successes = []
        for which, rows in (("real", train), ("holdout", control)):
            targets = data.encoded(which).take(rows)
            links = [
                _nearest_indices(targets, synthetic, k, synthetic.feature_weights(half))
                for half in (first, second)
            ]
            successes.append(int(_any_shared(*links).sum()))
        rng = data.rng("linkability baseline")
        guesses = [rng.integers(0, len(synthetic), size=(len(train), k)) for _ in range(2)]
        baseline = int(_any_shared(*guesses).sum())
        return _attack_result(
            successes[0],
            successes[1],
            baseline,
            len(train),
            {"aux_columns": [first, second], "n_neighbors": k},
        )

    def _halves(self, data: EvaluationData) -> tuple[list[str], list[str]]:
        if self.aux_columns is None:
            if len(data.columns) < 2:
                raise ParameterError("linkability needs at least two scored columns.")
            return data.columns[0::2], data.columns[1::2]
        halves = [list(half) for half in self.aux_columns]
        unknown = [c for half in halves for c in half if c not in data.columns]
        if len(halves) != 2 or unknown or not all(halves):
            raise ParameterError(
                f"aux_columns={self.aux_columns!r} must be two non-empty lists of scored "
                f"columns (unknown: {unknown}); scored columns are {data.columns}."
            )
        return halves[0], halves[1]


def _nearest_indices(
    query: Encoded, reference: Encoded, k: int, weights: torch.Tensor
) -> np.ndarray:
    out = np.empty((len(query), k), dtype=np.int64)
    for start, stop, block, _ in iter_l1_blocks(query, reference, weights):
        out[start:stop] = torch.topk(block, k, dim=1, largest=False).indices.numpy()
    return out


def _any_shared(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return (first[:, :, None] == second[:, None, :]).any(axis=(1, 2))


# ------------------------------------------------------------------- inference
class InferenceRisk(Metric):
    """Risk that the synthetic data reveals a secret attribute of a real person.

    For each secret column, the attacker knows a target's other scored
    attributes, finds the nearest synthetic row on them and guesses its secret.
    A guess is right when categories are equal, or numbers are within
    ``tolerance`` (relative). The same attack on control targets (holdout rows
    the generator never saw) measures what the other attributes and the
    population already tell. Every training row and every holdout row is a
    target, up to ``n_attacks`` on each side (the two sides need not be equal).

    The risk pools the guesses over the secrets: Giomi et al.'s residual risk
    ``(A - C) / (1 - C)`` on the shares ``A`` and ``C`` of right guesses over all
    (target, secret) pairs of training and control targets. That equals
    ``sum_j (A_j - C_j) / sum_j (1 - C_j)``: each secret weighs by the room its
    control rate leaves, so a secret easy to guess without the synthetic data
    neither dominates the score nor widens its interval, and no secret is
    picked after the fact (the largest of many noisy per-secret estimates is
    biased upward, so a worst-secret score flags real data the model never saw).

    The interval treats the target, not the guess, as the independent unit: one
    target's guesses share its attributes and are correlated. Each target's
    count of right guesses gives the two rates and their sample variances
    (training and control targets independent); the error is propagated to the
    risk to first order (delta method), at 95 % confidence.

    Before the attack the secrets are prepared, and the report states how:

    * duplicates (``details["merged"]``): columns equal in every training row,
      or splitting the training rows into the same groups (one a relabelling
      of the other, such as a code and its label), are one attribute: it counts
      once in the attacker's distance, is hidden with all its copies when it is
      the secret, and duplicated secrets are scored once;
    * no room (``details["left_out"]``): a secret the control attack guesses
      right for more than ``1 - min_room`` of the control targets is left out:
      the other attributes already give it away, so no excess can be measured.

    The pooled risk averages over the secrets: a leak confined to one secret
    among ``J`` counts about ``1/J`` of its size. Per-secret risks, each with
    its own interval (not corrected for the number of secrets), are in
    ``details["columns"]``; name the sensitive columns with ``secrets=`` to
    score them alone. With fewer than ``min_targets`` training or control
    targets the metric does not apply: the interval would be wider than a 0.10
    gate even for real rows the generator never saw.

    Example:
        >>> from synthkit.datasets import load_adult
        >>> adult = load_adult("train").sample(1500, random_state=0)
        >>> real, holdout = adult.iloc[:1000], adult.iloc[1000:]
        >>> result = InferenceRisk().compute(real, real.sample(frac=1.0), holdout=holdout)
        >>> round(result.value, 1), result.details["merged"]
        (1.0, {'education': ['education_num']})
    """

    name = "inference_risk"
    shapes = ("table", "sequences")
    sequence_view = "entities"
    category = "privacy"
    direction = "lower"
    requires = ("holdout",)
    explanation = (
        "Excess share of training rows' hidden values guessed from synthetic rows, all secrets."
    )
    params: ClassVar[dict[str, Any]] = {
        "n_attacks": 1000,
        "secrets": None,
        "tolerance": 0.05,
        "min_targets": 200,
        "min_room": 0.01,
    }

    def not_applicable(self, data: EvaluationData) -> str | None:
        """Say so when the training or control targets are too few to bound the risk."""
        reason = super().not_applicable(data)
        if reason is not None or not isinstance(getattr(data, "real", None), pd.DataFrame):
            return reason
        sizes = {"training": len(data.real), "holdout": len(data.holdout)}
        few = {side: size for side, size in sizes.items() if size < int(self.min_targets)}
        if few:
            counts = ", ".join(f"{size:,} {side}" for side, size in few.items())
            return (
                f"needs at least min_targets={self.min_targets} training and holdout rows as "
                f"attack targets, got {counts}: with fewer, the 95 % interval is wider than "
                "0.10 even for real rows the generator never saw. Pass a larger holdout"
            )
        return None

    def score(self, data: EvaluationData) -> MetricResult:
        """Guess each secret for training and control targets and pool the right guesses."""
        secrets = self._secrets(data)
        train = data.positions(len(data.real), int(self.n_attacks), "inference training targets")
        control = data.positions(
            len(data.holdout), int(self.n_attacks), "inference control targets"
        )
        searched = data.positions(len(data.synthetic), data.max_rows, "inference synthetic rows")
        values = _value_matrix(data)
        copies = _duplicate_columns(values["real"], data.columns)
        groups = _secret_groups(secrets, copies)
        # Duplicates count once in the distance too: only the first of each is kept.
        first = {c: min(copies[c], key=data.columns.index) for c in data.columns}
        synthetic = data.encoded("synthetic").take(searched)
        weights = synthetic.feature_weights([c for c in data.columns if first[c] == c])
        synthetic_values = values["synthetic"][searched]
        hidden = [first[secret] for secret in groups]
        positions = [data.columns.index(secret) for secret in groups]
        numeric = [secret in data.numeric_columns for secret in groups]
        right = {}
        for which, rows in (("real", train), ("holdout", control)):
            targets = data.encoded(which).take(rows)
            nearest = _guess_secrets(targets, synthetic, hidden, weights)
            right[which] = _right_guesses(
                synthetic_values[nearest, positions],
                values[which][rows][:, positions],
                numeric,
                self.tolerance,
            )
        random_rows = data.rng("inference baseline").integers(0, len(synthetic), size=len(train))
        baseline = _right_guesses(
            synthetic_values[random_rows][:, positions],
            values["real"][train][:, positions],
            numeric,
            self.tolerance,
        )
        per_column, left_out = {}, {}
        for i, secret in enumerate(groups):
            result = _attack_result(
                int(right["real"][:, i].sum()),
                int(right["holdout"][:, i].sum()),
                int(baseline[:, i].sum()),
                len(train),
                {},
                control_attempts=len(control),
            )
            per_column[secret] = {"risk": result.value, "interval": result.interval}
            per_column[secret].update(result.details)
            room = 1.0 - right["holdout"][:, i].mean()
            if room < float(self.min_room):
                left_out[secret] = (
                    f"guessed right for {1.0 - room:.1%} of control targets from the other "
                    f"attributes alone (room {room:.3f} < min_room={self.min_room})"
                )
        names = list(groups)
        kept = [i for i, secret in enumerate(names) if secret not in left_out]
        details: dict[str, Any] = {
            "secrets": [names[i] for i in kept],
            "merged": {s: groups[s] for s in groups if groups[s]},
            "left_out": left_out,
            "training_targets": len(train),
            "control_targets": len(control),
            "tolerance": self.tolerance,
            "columns": per_column,
        }
        if not kept:
            details["reason"] = "every secret was left out: the control attack leaves no room"
            return MetricResult(float("nan"), details=details)
        pooled = _pooled_risk(right["real"][:, kept], right["holdout"][:, kept])
        return MetricResult(
            pooled.value,
            pooled.interval,
            {**pooled.details, "baseline_rate": float(baseline[:, kept].mean()), **details},
        )

    def _secrets(self, data: EvaluationData) -> list[str]:
        secrets = list(self.secrets) if self.secrets is not None else list(data.columns)
        unknown = [c for c in secrets if c not in data.columns]
        if unknown or not secrets:
            raise ParameterError(
                f"secrets={self.secrets!r} must name scored columns (unknown: {unknown}); "
                f"scored columns are {data.columns}."
            )
        if not 0.0 <= float(self.min_room) < 1.0:
            raise ParameterError(f"min_room={self.min_room!r} must be in [0, 1).")
        return secrets


def _duplicate_columns(real: np.ndarray, columns: list[str]) -> dict[str, list[str]]:
    """Each column with the columns that duplicate it in every training row (itself first).

    Two columns duplicate each other when their values are equal (missing in the
    same rows), or when they split the rows into the same groups with fewer groups
    than half the rows (a relabelling; distinct values on every row would match
    any other such column by construction).
    """
    codes, groups = [], []
    for j in range(real.shape[1]):
        column_codes, levels = pd.factorize(real[:, j], use_na_sentinel=False)
        codes.append(column_codes)
        groups.append(len(levels))
    out = {column: [column] for column in columns}
    for i, first in enumerate(columns):
        for j in range(i + 1, len(columns)):
            equal = np.array_equal(real[:, i], real[:, j], equal_nan=True)
            relabelled = groups[i] <= len(real) / 2 and np.array_equal(codes[i], codes[j])
            if equal or relabelled:
                out[first].append(columns[j])
                out[columns[j]].append(first)
    return out


def _secret_groups(secrets: list[str], copies: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each group of duplicated secrets scored once: the first named, with the others it covers."""
    groups: dict[str, list[str]] = {}
    seen: set[str] = set()
    for secret in secrets:
        if secret not in seen:
            groups[secret] = [c for c in copies[secret] if c != secret and c in secrets]
            seen.update(copies[secret])
    return groups


@dataclass(frozen=True)
class _Pooled:
    value: float
    interval: tuple[float, float]
    details: dict[str, Any]


def _pooled_risk(attack: np.ndarray, control: np.ndarray, confidence: float = 0.95) -> _Pooled:
    """Residual risk of right guesses pooled over secrets, targets as the independent unit.

    ``attack`` and ``control`` are (targets, secrets) booleans. Each target's share of
    right guesses is one observation; the two rates' standard errors come from those
    shares' sample variances and are propagated to the risk by :func:`residual_risk`.
    """
    z = NormalDist().inv_cdf(0.5 * (1.0 + confidence))
    rates = {}
    for name, right in (("attack", attack), ("control", control)):
        shares = right.mean(axis=1)
        spread = shares.std(ddof=1) / np.sqrt(len(shares)) if len(shares) > 1 else 0.0
        rates[name] = Rate(float(shares.mean()), z * float(spread))
    risk, interval = residual_risk(rates["attack"], rates["control"])
    details = {
        "attack_rate": rates["attack"].value,
        "attack_rate_interval": rates["attack"].interval(),
        "control_rate": rates["control"].value,
        "control_rate_interval": rates["control"].interval(),
        "guesses_each": {"training": attack.size, "control": control.size},
    }
    return _Pooled(risk, interval, details)


def _guess_secrets(
    targets: Encoded, synthetic: Encoded, hidden: list[str], weights: torch.Tensor
) -> np.ndarray:
    """Index of the nearest synthetic row on the weighted columns but each hidden one, per secret.

    A hidden column must carry weight 1 (its unweighted share is what is removed).
    """
    out = np.empty((len(targets), len(hidden)), dtype=np.int64)
    for start, stop, block, _ in iter_l1_blocks(targets, synthetic, weights):
        for i, column in enumerate(hidden):
            own = _column_distance(targets, synthetic, column, start, stop)
            out[start:stop, i] = torch.argmin(own.neg_().add_(block), dim=1).numpy()
    return out


def _column_distance(
    query: Encoded, reference: Encoded, column: str, start: int, stop: int
) -> torch.Tensor:
    # One column's share of the Gower distance (up to a per-row constant, which does not
    # change a row's ranking), to remove it from the full distance.
    share = torch.zeros((stop - start, len(reference)))
    for f, name in enumerate(query.number_columns):
        if name == column:
            share += (query.numbers[start:stop, f, None] - reference.numbers[None, :, f]).abs()
    levels = [f for f, name in enumerate(query.onehot_columns) if name == column]
    if levels:
        share.addmm_(query.onehot[start:stop][:, levels], reference.onehot[:, levels].T, alpha=-1.0)
    return share


def _right_guesses(
    guesses: np.ndarray, truth: np.ndarray, numeric: list[bool], tolerance: float
) -> np.ndarray:
    """(targets, secrets) booleans: each guess right or not."""
    return np.column_stack(
        [_correct(guesses[:, i], truth[:, i], numeric[i], tolerance) for i in range(truth.shape[1])]
    )


def _correct(guess: np.ndarray, truth: np.ndarray, numeric: bool, tolerance: float) -> np.ndarray:
    if not numeric:
        return guess == truth
    both_missing = np.isnan(guess) & np.isnan(truth)
    with np.errstate(invalid="ignore", divide="ignore"):
        close = np.abs(guess - truth) <= tolerance * np.abs(truth)
    return both_missing | close
