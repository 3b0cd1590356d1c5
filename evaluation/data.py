"""Validated evaluation inputs: column kinds, aligned frames, seeded sampling and shared caches."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from synthkit._tables import check_table
from synthkit.errors import DataError, EvaluationError, MetadataError
from synthkit.evaluation.neighbors import Encoded, MixedEncoder
from synthkit.metadata import Kind, Metadata

__all__ = ["SCORED_KINDS", "EvaluationData", "row_hashes", "scores_likelihood"]

#: Kinds that metrics score; ids, PII and free text are left out.
SCORED_KINDS = tuple(kind.value for kind in Kind if kind.scored)

T = TypeVar("T")

# A holdout where more than this share of rows also appear in the training rows
# is the training data (natural duplicates in real tables are well below 1 %).
_MAX_HOLDOUT_COPY_SHARE = 0.5


class EvaluationData:
    """Real, synthetic and holdout rows checked against each other, ready for metrics.

    Datetime columns are parsed, columns of kind id, pii and text are set aside,
    and expensive intermediate results (encodings, nearest neighbours, fitted
    models) are cached so metrics that share them compute them once.

    Args:
        real: The real rows the generator was fitted on.
        synthetic: The synthetic rows.
        holdout: Real rows the generator never saw, or ``None``.
        target: The label column for utility metrics, or ``None``.
        metadata: Column kinds; detected from ``real`` when ``None``.
        random_state: Seed for every subsample and model, so reports are reproducible.
        max_rows: Cap on the rows a nearest-neighbour query side or a classifier uses;
            larger inputs are subsampled and the size is recorded in ``sampling``.
        model: The fitted synthkit model that made ``synthetic``, for attacks that
            read its likelihood; metrics that need a capability the model does not
            declare (``log_prob``: ``flow``, ``autoregressive``) are skipped.

    Raises:
        EvaluationError: Naming the frame, column or parameter that cannot be scored.

    Example:
        >>> import pandas as pd
        >>> real = pd.DataFrame({"age": [30, 41, 52], "city": ["Oslo", "Rome", "Oslo"]})
        >>> data = EvaluationData(real, real.copy())
        >>> data.columns, data.kinds["city"]
        (['age', 'city'], 'categorical')
    """

    #: The data shape metrics declare they score; sequences have their own class.
    shape = "table"
    #: The unit of privacy: one row.
    unit = "row"

    def __init__(
        self,
        real: pd.DataFrame,
        synthetic: pd.DataFrame,
        holdout: pd.DataFrame | None = None,
        target: str | None = None,
        metadata: Metadata | None = None,
        random_state: int = 0,
        max_rows: int = 10_000,
        model: Any | None = None,
    ) -> None:
        _check_frame("real", real)
        _check_frame("synthetic", synthetic)
        if holdout is not None:
            _check_frame("holdout", holdout)
        if not isinstance(random_state, (int, np.integer)) or random_state < 0:
            raise EvaluationError(f"random_state={random_state!r} must be an int >= 0.")
        if not isinstance(max_rows, (int, np.integer)) or max_rows < 100:
            raise EvaluationError(f"max_rows={max_rows!r} must be an int >= 100.")
        self.random_state = int(random_state)
        self.max_rows = int(max_rows)
        _check_same_columns("synthetic", real, synthetic)
        if holdout is not None:
            _check_same_columns("holdout", real, holdout)
        # Untouched inputs, for checks on every column (identifier_leak reads ids and PII).
        self.raw_real, self.raw_synthetic = real, synthetic
        self.metadata = _resolve_metadata(real, metadata)
        self.kinds = {name: self.metadata.kind(name) for name in real.columns}
        self.columns = [name for name in real.columns if self.kinds[name] in SCORED_KINDS]
        self.excluded = {
            name: kind for name, kind in self.kinds.items() if kind not in SCORED_KINDS
        }
        if not self.columns:
            raise EvaluationError(
                f"No column can be scored: every column is of kind id, pii or text "
                f"({self.excluded}). Override kinds with Metadata.update_column(...)."
            )
        self.real = _prepared(real, self.columns, self.kinds, "real")
        self.synthetic = _prepared(synthetic, self.columns, self.kinds, "synthetic")
        self.holdout = (
            None if holdout is None else _prepared(holdout, self.columns, self.kinds, "holdout")
        )
        for name, other in (("synthetic", self.synthetic), ("holdout", self.holdout)):
            if other is not None:
                _check_same_dtypes(name, self.real, other)
        self.target = _checked_target(target, self.kinds, self.real)
        if self.holdout is not None:
            _check_holdout_is_new(real, holdout, self.real, self.holdout)
        self.model = model
        # The model reads rows in the form it was fitted on, all columns included.
        self.original = {"real": real, "holdout": holdout}
        self.sampling: dict[str, str] = {}
        self._cache: dict[str, Any] = {}

    # -------------------------------------------------------------- helpers
    @property
    def numeric_columns(self) -> list[str]:
        """Scored columns compared as numbers (numerical and datetime kinds)."""
        return [c for c in self.columns if self.kinds[c] in ("numerical", "datetime")]

    @property
    def discrete_columns(self) -> list[str]:
        """Scored columns compared as categories (categorical and boolean kinds)."""
        return [c for c in self.columns if self.kinds[c] in ("categorical", "boolean")]

    def rng(self, purpose: str) -> np.random.Generator:
        """Return a generator seeded from ``random_state`` and ``purpose``.

        Each metric draws from its own stream, so adding or removing a metric never
        changes another metric's subsample.
        """
        return np.random.default_rng([self.random_state, zlib.crc32(purpose.encode())])

    def positions(self, total: int, size: int, purpose: str) -> np.ndarray:
        """Return ``min(size, total)`` sorted row positions drawn without replacement.

        When rows are dropped, the sizes are recorded in :attr:`sampling` under
        ``purpose`` so the report can state them.
        """
        if total <= size:
            return np.arange(total)
        self.sampling[purpose] = f"{size:,} of {total:,} rows"
        return np.sort(self.rng(purpose).choice(total, size=size, replace=False))

    def subsample(self, frame: pd.DataFrame, size: int, purpose: str) -> pd.DataFrame:
        """Return at most ``size`` rows of ``frame``, recording sizes as :meth:`positions` does."""
        return frame.iloc[self.positions(len(frame), size, purpose)]

    def encoded(self, which: str) -> Encoded:
        """Return the ``"real"``, ``"synthetic"`` or ``"holdout"`` rows encoded for distances.

        Numbers are scaled by the range of the real rows; category levels span all
        tables (see :class:`~synthkit.evaluation.neighbors.MixedEncoder`).
        """

        def encode() -> Encoded:
            frames = [f for f in (self.real, self.synthetic, self.holdout) if f is not None]
            encoder = self.cached(
                "encoder",
                lambda: MixedEncoder(self.numeric_columns, self.discrete_columns).fit(
                    self.real, frames
                ),
            )
            return encoder.transform(getattr(self, which))

        return self.cached(f"encoded {which}", encode)

    def cached(self, key: str, compute: Callable[[], T]) -> T:
        """Return ``compute()``, computed once per key for this evaluation."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """Hash each row so equal rows hash equal whatever their dtypes (1 == 1.0).

    Example:
        >>> a = pd.DataFrame({"x": [1, 2], "c": ["a", "b"]})
        >>> b = pd.DataFrame({"x": [2.0, 5.0], "c": ["b", "b"]})
        >>> (row_hashes(a)[1] == row_hashes(b)[0]).item()
        True
    """
    normalized = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            normalized[name] = column.astype(str)
        elif pd.api.types.is_numeric_dtype(column):
            # Adding 0.0 turns -0.0 into 0.0, which would otherwise hash apart.
            normalized[name] = column.astype("float64") + 0.0
        elif pd.api.types.is_datetime64_any_dtype(column):
            normalized[name] = column.astype("int64", errors="ignore")
        else:
            normalized[name] = column.astype(object).where(column.notna(), None).astype(str)
    return pd.util.hash_pandas_object(pd.DataFrame(normalized), index=False).to_numpy()


def _plain(value: Any) -> Any:
    # numpy scalars print as np.int64(0); show the value as the user wrote it.
    return value.item() if hasattr(value, "item") else value


def _check_frame(name: str, frame: object) -> None:
    try:
        check_table(frame, name)
    except DataError as error:
        raise EvaluationError(str(error)) from None


def scores_likelihood(model: Any) -> bool:
    """Whether ``model`` declares the ``log_prob`` capability, as model-based attacks need.

    Models declare what they offer beyond fit and sample in ``capabilities``;
    nothing is guessed from the methods an object happens to have.

    Example:
        >>> import synthkit
        >>> scores_likelihood(synthkit.Synthesizer("flow")), scores_likelihood(object())
        (True, False)
    """
    return "log_prob" in getattr(model, "capabilities", frozenset())


def likelihood_unavailable(model: Any) -> str | None:
    """Why ``model`` cannot be scored by its likelihood, or ``None`` when it can.

    Example:
        >>> import synthkit
        >>> likelihood_unavailable(synthkit.Synthesizer("tvae"))[:34]
        'needs a model that scores rows by '
    """
    if model is None or scores_likelihood(model):
        return None
    from synthkit.generators import GENERATORS

    able = [n for n in GENERATORS.names() if scores_likelihood(GENERATORS.get(n))]
    return (
        f"needs a model that scores rows by their likelihood: model={type(model).__name__} "
        f"has no log_prob method (it is not among its declared capabilities); models with "
        f"it: {', '.join(able)}"
    )


def _check_same_columns(name: str, real: pd.DataFrame, other: pd.DataFrame) -> None:
    missing = [c for c in real.columns if c not in other.columns]
    extra = [c for c in other.columns if c not in real.columns]
    if missing or extra:
        raise EvaluationError(
            f"The {name} columns differ from the real columns: missing {missing}, "
            f"unexpected {extra}. Pass tables with the same columns."
        )


def _resolve_metadata(real: pd.DataFrame, metadata: Metadata | None) -> Metadata:
    try:
        return Metadata.for_data(real, metadata)
    except MetadataError as error:
        raise EvaluationError(str(error)) from error


def _prepared(
    frame: pd.DataFrame, columns: list[str], kinds: dict[str, str], name: str
) -> pd.DataFrame:
    out = frame.loc[:, columns].reset_index(drop=True)
    for column in columns:
        if kinds[column] != "datetime" or pd.api.types.is_datetime64_any_dtype(out[column]):
            continue
        parsed = pd.to_datetime(out[column], errors="coerce", utc=False, format="mixed")
        failed = parsed.isna() & out[column].notna()
        if failed.any():
            example = out.loc[failed, column].iloc[0]
            raise EvaluationError(
                f"Column {column!r} of the {name} data is a datetime column but "
                f"{int(failed.sum())} value(s) are not dates (for example {example!r}); "
                "fix the values or change the column's kind in the metadata."
            )
        out[column] = parsed
    return out


def _family(column: pd.Series) -> str:
    if column.isna().all():
        return "empty"
    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if pd.api.types.is_numeric_dtype(column):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime"
    return "text"


def _check_same_dtypes(name: str, real: pd.DataFrame, other: pd.DataFrame) -> None:
    for column in real.columns:
        family, other_family = _family(real[column]), _family(other[column])
        if "empty" in (family, other_family) or family == other_family:
            continue
        raise EvaluationError(
            f"Column {column!r} holds {family} values in the real data "
            f"({real[column].dtype}) but {other_family} values in the {name} data "
            f"({other[column].dtype}); convert one to match the other."
        )


def _checked_target(target: str | None, kinds: dict[str, str], real: pd.DataFrame) -> str | None:
    if target is None:
        return None
    if target not in kinds:
        raise EvaluationError(
            f"target={target!r} is not a column of the real data; columns: {list(kinds)}."
        )
    if target not in real.columns:
        raise EvaluationError(
            f"target={target!r} is a column of kind {kinds[target]!r}, which is not scored; "
            "set its kind to categorical, boolean or numerical in the metadata."
        )
    if real[target].nunique(dropna=True) < 2:
        raise EvaluationError(
            f"target={target!r} has fewer than two distinct values in the real data; "
            "utility needs at least two classes or a varying number."
        )
    return target


def _check_holdout_is_new(
    raw_real: pd.DataFrame,
    raw_holdout: pd.DataFrame,
    real: pd.DataFrame,
    holdout: pd.DataFrame,
) -> None:
    real_hashes = row_hashes(real)
    holdout_hashes = row_hashes(holdout)
    copied = np.isin(holdout_hashes, real_hashes)
    # Rows that keep both their index label and their values come from the training frame.
    same_label = raw_holdout.index.isin(raw_real.index)
    if same_label.any() and copied.any():
        position = pd.Series(np.arange(len(raw_real)), index=raw_real.index)
        position = position[~position.index.duplicated()]
        labels = raw_holdout.index[same_label & copied]
        if len(labels):
            matched = real_hashes[position.loc[labels].to_numpy()]
            taken = matched == holdout_hashes[same_label & copied]
            if taken.any():
                raise EvaluationError(
                    f"The holdout overlaps the training rows: {int(taken.sum())} holdout row(s) "
                    f"(for example index {_plain(labels[taken][0])!r}) are training rows with "
                    "the same index and values. The holdout must be real rows the generator "
                    "never saw."
                )
    if copied.mean() > _MAX_HOLDOUT_COPY_SHARE:
        raise EvaluationError(
            f"The holdout overlaps the training rows: {copied.mean():.0%} of holdout rows are "
            "identical to a training row. The holdout must be real rows the generator never saw."
        )
