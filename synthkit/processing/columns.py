"""Reversible transforms of single columns to and from model space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch

from synthkit.errors import DataError

if TYPE_CHECKING:
    from synthkit.processing.sketches import NumericSketch

__all__ = [
    "CategoricalTransform",
    "ColumnTransform",
    "ConstantTransform",
    "NumericTransform",
    "Span",
    "datetime_resolution",
    "is_missing",
    "restore_dtype",
]

# "token": one integer per row (a discretizer's column); "normal": one real score per
# row on a standard-normal scale (the copula encoder's column).
Activation = Literal["tanh", "softmax", "token", "normal"]
Role = Literal["value", "mode", "missing", "category", "token", "score"]

# CTGAN's mode-specific normalization maps x to (x - mean_k) / (4 std_k).
_STD_MULTIPLIER = 4.0
_CLIP = 0.99


@dataclass(frozen=True)
class Span:
    """A slice of the encoded matrix that belongs to one column.

    Attributes:
        column: The source column.
        start: First index in the encoded matrix.
        width: Number of encoded features.
        activation: ``"tanh"`` for a scalar in [-1, 1], ``"softmax"`` for a one-hot
            block, ``"token"`` for one integer token, ``"normal"`` for one
            standard-normal score.
        role: What the slice holds: a normalized value, its mixture mode, a
            missing-value flag, a category, a token or a score.
    """

    column: str
    start: int
    width: int
    activation: Activation
    role: Role

    @property
    def stop(self) -> int:
        """One past the last index of the span."""
        return self.start + self.width


class ColumnTransform:
    """Base of the per-column transforms; each knows its own widths and activations.

    Every transform decodes with the same signature, ``decode(block)``: decoding a
    column draws nothing at random, so no transform takes a generator.
    """

    column: str
    kind: str

    def layout(self) -> list[tuple[int, Activation, Role]]:
        """Return ``(width, activation, role)`` for each span this column emits."""
        raise NotImplementedError

    def encode(
        self, series: pd.Series, device: torch.device, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Encode a column into a ``[rows, width]`` float tensor on ``device``."""
        raise NotImplementedError

    def decode(self, block: torch.Tensor) -> pd.Series:
        """Decode a ``[rows, width]`` block back into a column."""
        raise NotImplementedError

    def decode_values(self, values: np.ndarray) -> pd.Series:
        """Decode one value per row (a number, NaN for missing, or a category code).

        Encoders that learn a column as a single value (a token, a score) decode
        through this; a constant column reads only the number of rows.
        """
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """Return the JSON-ready state that :func:`transform_from_state` reads."""
        raise NotImplementedError


# --------------------------------------------------------------------------- dtypes
def dtype_state(series: pd.Series) -> dict[str, Any]:
    """Describe a column's dtype so decoding gives the same dtype back."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return {
            "dtype": "category",
            "dtype_categories": [_python(value) for value in dtype.categories],
            "ordered": bool(dtype.ordered),
        }
    return {"dtype": str(dtype)}


def restore_dtype(values: pd.Series, state: dict[str, Any]) -> pd.Series:
    """Cast decoded values back to the dtype recorded by :func:`dtype_state`."""
    name = state["dtype"]
    if name == "category":
        dtype = pd.CategoricalDtype(state["dtype_categories"], ordered=state["ordered"])
        return values.astype(dtype)
    if name == "object":
        return values.astype(object).where(values.notna(), np.nan)
    if name in ("bool",) and values.isna().any():
        return values.astype("boolean")
    if name.startswith(("int", "uint")) and values.isna().any():
        return values.astype(name.capitalize() if name.startswith("int") else "UInt" + name[4:])
    return values.astype(name)


def _python(value: Any) -> Any:
    """Turn numpy scalars into Python ones so states stay JSON-serializable."""
    if isinstance(value, np.generic):
        return value.item()
    return value


# ------------------------------------------------------------------------ numerics
class NumericTransform(ColumnTransform):
    """Mode-specific normalization of a numerical or datetime column.

    A value becomes a scalar in [-1, 1] (its offset from the mean of the mixture
    component it was drawn from, in units of four standard deviations) and a
    one-hot of that component. Missing values get a separate two-way flag.
    Datetimes go through int64 nanoseconds (UTC) and come back in their timezone
    and string format.
    """

    kind = "numerical"

    def __init__(self, column: str, state: dict[str, Any]) -> None:
        self.column = column
        self.info = state  # min, max, integer, decimals, has_missing, dtype, datetime details
        self.means = torch.tensor(state.get("means", []), dtype=torch.float64)
        self.stds = torch.tensor(state.get("stds", []), dtype=torch.float64)
        self.weights = torch.tensor(state.get("weights", []), dtype=torch.float64)

    @classmethod
    def from_sketch(
        cls,
        column: str,
        dtype: dict[str, Any],
        entry: dict[str, Any],
        sketch: NumericSketch,
        datetime_details: dict[str, Any] | None = None,
    ) -> NumericTransform:
        """The description :meth:`describe` gives, from a streamed fit's sketch of the column.

        Args:
            column: The column.
            dtype: :func:`dtype_state` of the whole column.
            entry: Its metadata entry.
            sketch: The column's float values (datetimes in nanoseconds), summarized.
            datetime_details: For datetimes, ``timezone`` and ``unit_ns`` of the column.
        """
        state = dict(dtype)
        state["datetime"] = entry["kind"] == "datetime"
        if state["datetime"]:
            state["format"] = entry.get("format")
            state.update(datetime_details or {})
        else:
            state["integer"] = bool(entry.get("integer", False) or sketch.all_whole)
            state["decimals"] = _decimals(sketch.first_observed) if not state["integer"] else 0
        state["min"], state["max"] = sketch.minimum, sketch.maximum
        state["has_missing"] = sketch.n_missing > 0
        return cls(column, state)

    @classmethod
    def describe(cls, column: str, series: pd.Series, entry: dict[str, Any]) -> NumericTransform:
        """Record the statistics decoding needs, before the mixture is fitted."""
        is_datetime = entry["kind"] == "datetime"
        state: dict[str, Any] = dtype_state(series)
        state["datetime"] = is_datetime
        if is_datetime:
            state["format"] = entry.get("format")
            parsed = to_datetime(column, series, state["format"])
            state["timezone"] = str(parsed.dt.tz) if parsed.dt.tz is not None else None
            values = datetime_to_float(parsed)
            state["unit_ns"] = datetime_resolution(values)
        else:
            values = to_float(column, series)
            whole = np.isfinite(values) & (values == np.round(values))
            observed = ~np.isnan(values)
            state["integer"] = bool(entry.get("integer", False) or whole[observed].all())
            state["decimals"] = _decimals(values[observed]) if not state["integer"] else 0
        observed = values[~np.isnan(values)]
        state["min"] = float(observed.min())
        state["max"] = float(observed.max())
        state["has_missing"] = bool(np.isnan(values).any())
        return cls(column, state)

    def values(self, series: pd.Series) -> np.ndarray:
        """Return the column as float64 (datetimes as nanoseconds), NaN for missing."""
        if self.info["datetime"]:
            return datetime_to_float(to_datetime(self.column, series, self.info["format"]))
        return to_float(self.column, series)

    def set_mixture(
        self, weights: torch.Tensor, means: torch.Tensor, stds: torch.Tensor, threshold: float
    ) -> None:
        """Keep the mixture components whose weight exceeds ``threshold``."""
        keep = weights > threshold
        if not bool(keep.any()):
            keep = weights == weights.max()
        self.weights = (weights[keep] / weights[keep].sum()).double().cpu()
        self.means = means[keep].double().cpu()
        # A spike (all mass on one value) gets a tiny but nonzero width.
        span = max(self.info["max"] - self.info["min"], 1.0)
        self.stds = stds[keep].double().cpu().clamp_min(span * 1e-6)

    def layout(self) -> list[tuple[int, Activation, Role]]:  # noqa: D102
        spans: list[tuple[int, Activation, Role]] = [(1, "tanh", "value")]
        spans.append((len(self.means), "softmax", "mode"))
        if self.info["has_missing"]:
            spans.append((2, "softmax", "missing"))
        return spans

    def encode(  # noqa: D102
        self,
        series: pd.Series,
        device: torch.device,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        work = _work_dtype(device)
        raw = torch.as_tensor(self.values(series), dtype=work, device=device)
        missing = torch.isnan(raw)
        # Missing values sit at the most common mode's mean, flagged as missing.
        fill = self.means[int(self.weights.argmax())].item()
        x = torch.where(missing, torch.full_like(raw, fill), raw)
        means = self.means.to(device, work)
        stds = self.stds.to(device, work)
        log_density = (
            torch.log(self.weights.to(device, work))
            - torch.log(stds)
            - 0.5 * ((x[:, None] - means) / stds) ** 2
        )
        probs = torch.softmax(log_density, dim=1).float()
        # CTGAN samples each value's mode from its posterior rather than taking argmax;
        # a draw that would clip the value falls back to the most likely mode, so
        # decoding gives the value back.
        mode = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        scalar = (x - means[mode]) / (_STD_MULTIPLIER * stds[mode])
        likeliest = log_density.argmax(dim=1)
        mode = torch.where(scalar.abs() > _CLIP, likeliest, mode)
        scalar = (x - means[mode]) / (_STD_MULTIPLIER * stds[mode])
        parts = [
            # Outliers beyond every component keep |scalar| > 1 so decoding is exact;
            # a tanh output never produces them, it only learns from them.
            scalar[:, None],
            torch.nn.functional.one_hot(mode, len(self.means)).to(work),
        ]
        if self.info["has_missing"]:
            parts.append(torch.nn.functional.one_hot(missing.long(), 2).to(work))
        return torch.cat(parts, dim=1)

    def decode(self, block: torch.Tensor) -> pd.Series:  # noqa: D102
        k = len(self.means)
        mode = block[:, 1 : 1 + k].argmax(dim=1).cpu()
        scalar = block[:, 0].double().cpu()
        x = scalar * _STD_MULTIPLIER * self.stds[mode] + self.means[mode]
        x = x.numpy()
        if self.info["has_missing"]:
            missing = block[:, 1 + k : 3 + k].argmax(dim=1).cpu().numpy() == 1
            x = np.where(missing, np.nan, x)
        return self.decode_values(x)

    def decode_values(self, x: np.ndarray) -> pd.Series:
        """Turn float values (NaN for missing) into the column: clipped, rounded, typed."""
        if self.info.get("clip", True):
            x = np.clip(x, self.info["min"], self.info["max"])
        return self._to_column(x)

    def _to_column(self, x: np.ndarray) -> pd.Series:
        if self.info["datetime"]:
            unit = self.info["unit_ns"]
            x = np.round(x / unit) * unit
            stamps = pd.Series(pd.to_datetime(x, unit="ns", utc=True), name=self.column)
            if self.info["timezone"] is not None:
                stamps = stamps.dt.tz_convert(self.info["timezone"])
            else:
                stamps = stamps.dt.tz_localize(None)
            if self.info["format"]:
                text = stamps.dt.strftime(self.info["format"]).rename(self.column)
                if self.info["dtype"].lower().startswith(("int", "uint", "float")):
                    # Dates stored as numbers, such as 19970101.
                    return restore_dtype(pd.to_numeric(text), self.info)
                return text.astype(object).where(stamps.notna(), np.nan)
            return restore_dtype(stamps, self.info)
        decimals = 0 if self.info["integer"] else self.info["decimals"]
        if decimals is not None:
            x = np.round(x, decimals)
        return restore_dtype(pd.Series(x, name=self.column), self.info)

    def state(self) -> dict[str, Any]:  # noqa: D102
        return {
            "type": "numeric",
            **self.info,
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "stds": self.stds.tolist(),
        }


def _work_dtype(device: torch.device) -> torch.dtype:
    # Encoding in float64 keeps the round trip exact; MPS has no float64.
    return torch.float32 if device.type == "mps" else torch.float64


def to_float(column: str, series: pd.Series) -> np.ndarray:
    """Return a numeric column as float64 with NaN for missing values.

    Raises:
        DataError: If the column holds text that is not numeric, or infinite values.
    """
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("float64")
    try:
        values = pd.to_numeric(series, errors="raise").astype("float64").to_numpy()
    except (TypeError, ValueError) as error:
        raise DataError(
            f"Column {column!r} is numerical in the metadata but holds non-numeric values "
            f"({error}). Clean it with pd.to_numeric(df[{column!r}], errors='coerce') or "
            "override its kind, e.g. metadata.update_column(column, kind='categorical')."
        ) from None
    infinite = np.isinf(values)
    if infinite.any():
        raise DataError(
            f"Column {column!r} has {int(infinite.sum())} infinite value(s). Replace them, "
            f"e.g. df[{column!r}] = df[{column!r}].replace([np.inf, -np.inf], np.nan)."
        )
    return values


def to_datetime(column: str, series: pd.Series, fmt: str | None) -> pd.Series:
    """Parse a datetime column (datetime dtype, or strings in ``fmt``)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series
    if pd.api.types.is_numeric_dtype(series.dtype):
        series = series.astype("Int64").astype("string")
    try:
        return pd.to_datetime(series, format=fmt, errors="raise")
    except (TypeError, ValueError) as error:
        raise DataError(
            f"Column {column!r} is a datetime in the metadata but a value does not parse "
            f"with format {fmt!r} ({error}). Fix the values or set the right 'format' with "
            "metadata.update_column(column, format=...)."
        ) from None


def datetime_to_float(stamps: pd.Series) -> np.ndarray:
    """Datetimes to float nanoseconds since the epoch (UTC), NaN for missing."""
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    nanos = stamps.astype("datetime64[ns]").to_numpy().astype("int64").astype("float64")
    nanos[stamps.isna().to_numpy()] = np.nan
    return nanos


def datetime_resolution(nanos: np.ndarray) -> float:
    """The coarsest unit (day, hour, minute, second, ms, us, ns) every value is a multiple of."""
    observed = nanos[~np.isnan(nanos)].astype(np.int64)
    for unit in (86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3):
        if np.all(observed % unit == 0):
            return float(unit)
    return 1.0


def _decimals(values: np.ndarray) -> int | None:
    """Largest number of decimals in ``values`` (capped at 10), from a sample."""
    sample = values[:10_000]
    # The tolerance scales with the values so that tiny magnitudes are not rounded away.
    tolerance = 1e-12 * float(np.abs(sample).max(initial=0.0))
    for decimals in range(11):
        if np.allclose(np.round(sample, decimals), sample, rtol=0, atol=tolerance):
            return decimals
    return None


# --------------------------------------------------------------------- categories
class CategoricalTransform(ColumnTransform):
    """One-hot encoding of a categorical or boolean column, missing as its own category.

    Categories seen in fewer than ``rare_threshold`` rows are pooled into one
    token, which decodes to the column's most common kept category: a synthetic
    value is always one seen at least ``rare_threshold`` times, never a rare real
    value. When no category reaches the threshold, only the most common one is
    kept (a column must decode to some real value). The rare values themselves are
    not kept (a model file would carry them): any value outside the kept
    categories encodes as the pool.
    """

    kind = "categorical"

    def __init__(self, column: str, state: dict[str, Any]) -> None:
        self.column = column
        self.info = state
        self.categories: list[Any] = state["categories"]  # None stands for missing
        self.counts = np.asarray(state["counts"], dtype=np.int64)
        # Files written before rare values were dropped list them; only their number is used.
        self.n_pooled = int(state.get("n_pooled", len(state.get("pooled", []))))

    @classmethod
    def describe(cls, column: str, series: pd.Series, rare_threshold: int) -> CategoricalTransform:
        """Collect the categories and their counts (missing counted as a category)."""
        counts = series.value_counts(dropna=False, sort=True)
        return cls.from_counts(column, dtype_state(series), counts, rare_threshold)

    @classmethod
    def from_counts(
        cls, column: str, dtype: dict[str, Any], counts: pd.Series, rare_threshold: int
    ) -> CategoricalTransform:
        """The transform of a column with value ``counts`` (most frequent first) and ``dtype``.

        ``dtype`` is :func:`dtype_state` of the column; a streamed fit passes the
        counts it merged over record batches.
        """
        state = dict(dtype)
        # Declared but unused categories of a category dtype are never generated.
        counts = counts[counts > 0]
        values = [None if is_missing(value) else _python(value) for value in counts.index]
        numbers = counts.to_numpy()
        pooled = [(v, n) for v, n in zip(values, numbers, strict=True) if n < rare_threshold]
        kept = [(v, n) for v, n in zip(values, numbers, strict=True) if n >= rare_threshold]
        if not kept and pooled:  # counts are sorted: keep the most common one
            kept, pooled = pooled[:1], pooled[1:]
        state["categories"] = [v for v, _ in kept]
        state["counts"] = [int(n) for _, n in kept]
        if pooled:
            state["categories"].append(_POOL_TOKEN)
            state["counts"].append(int(sum(n for _, n in pooled)))
            state["n_pooled"] = len(pooled)
        return cls(column, state)

    @property
    def has_pool(self) -> bool:
        """Whether rare categories were pooled into one token."""
        return _POOL_TOKEN in self.categories

    @property
    def frequencies(self) -> np.ndarray:
        """Share of training rows in each category (encoded order)."""
        return self.counts / self.counts.sum()

    def index_of(self, value: Any) -> int | None:
        """Encoded index of ``value``, or None if it is not a kept category."""
        key = None if is_missing(value) else _python(value)
        for i, category in enumerate(self.categories):
            # True == 1 in Python; a bool only matches a bool.
            if category == key and isinstance(category, bool) == isinstance(key, bool):
                return i
        return None

    def codes(self, series: pd.Series) -> np.ndarray:
        """Map values to category indices.

        Values outside the kept categories map to the pool when rare categories
        were pooled (they are rare or unseen), else to the most frequent category.
        """
        lookup = pd.Index(
            [_LOOKUP_MISSING if c is None else c for c in self.categories], dtype=object
        )
        keys = series.astype(object).where(series.notna(), _LOOKUP_MISSING)
        codes = lookup.get_indexer(keys)
        other = self.categories.index(_POOL_TOKEN) if self.has_pool else np.argmax(self.counts)
        codes[codes < 0] = int(other)
        return codes

    def layout(self) -> list[tuple[int, Activation, Role]]:  # noqa: D102
        return [(len(self.categories), "softmax", "category")]

    def encode(  # noqa: D102
        self,
        series: pd.Series,
        device: torch.device,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        codes = torch.as_tensor(self.codes(series), dtype=torch.long, device=device)
        return torch.nn.functional.one_hot(codes, len(self.categories)).float()

    def decode(self, block: torch.Tensor) -> pd.Series:
        """Decode one-hot rows to values (pooled rows get the most common kept category)."""
        return self.decode_codes(block.argmax(dim=1).cpu().numpy())

    def decode_values(self, values: np.ndarray) -> pd.Series:
        """Decode category codes (see :meth:`decode_codes`)."""
        return self.decode_codes(values)

    def decode_codes(self, codes: np.ndarray) -> pd.Series:
        """Decode category indices to values (pooled ones as the most common kept category)."""
        lookup = np.empty(len(self.categories), dtype=object)
        lookup[:] = self.categories
        if self.has_pool:
            # The pool token stands for values each seen fewer than rare_threshold
            # times; emitting one of them would copy a rare real value.
            pool = self.categories.index(_POOL_TOKEN)
            kept = np.delete(np.arange(len(self.categories)), pool)
            lookup[pool] = self.categories[int(kept[np.argmax(self.counts[kept])])]
        values = lookup[codes]
        return restore_dtype(pd.Series(values, name=self.column, dtype=object), self.info)

    def state(self) -> dict[str, Any]:  # noqa: D102
        return {"type": "categorical", **self.info}


class _LookupMissing:
    """Stands for a missing value inside a pandas index lookup."""

    def __repr__(self) -> str:
        return "<missing>"


_LOOKUP_MISSING = _LookupMissing()
_POOL_TOKEN = "\x00synthkit:pooled"


def is_missing(value: Any) -> bool:
    """Whether ``value`` is a missing value (None, NA, NaT or NaN)."""
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and np.isnan(value))
    )


# ------------------------------------------------------------------------ constant
class ConstantTransform(ColumnTransform):
    """A column with one value (or only missing values): nothing to learn, emits no features."""

    kind = "constant"

    def __init__(self, column: str, state: dict[str, Any]) -> None:
        self.column = column
        self.info = state

    @classmethod
    def describe(cls, column: str, series: pd.Series) -> ConstantTransform:
        """Remember the single value."""
        state = dtype_state(series)
        observed = series.dropna()
        value = observed.iloc[0] if len(observed) else None
        if isinstance(value, pd.Timestamp):
            state["value"] = value.isoformat()
            state["timestamp"] = True
        else:
            state["value"] = _python(value)
        return cls(column, state)

    def layout(self) -> list[tuple[int, Activation, Role]]:  # noqa: D102
        return []

    def encode(  # noqa: D102
        self,
        series: pd.Series,
        device: torch.device,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        return torch.zeros((len(series), 0), device=device)

    def decode(self, block: torch.Tensor) -> pd.Series:  # noqa: D102
        return self._rows(block.shape[0])

    def decode_values(self, values: np.ndarray) -> pd.Series:  # noqa: D102
        return self._rows(len(values))

    def _rows(self, n: int) -> pd.Series:
        value = self.info["value"]
        if self.info.get("timestamp"):
            value = pd.Timestamp(value)
        values = pd.Series([value] * n, name=self.column)
        return restore_dtype(values, self.info)

    def state(self) -> dict[str, Any]:  # noqa: D102
        return {"type": "constant", **self.info}


def transform_from_state(column: str, state: dict[str, Any]) -> ColumnTransform:
    """Rebuild a transform from its :meth:`ColumnTransform.state`."""
    kinds = {
        "numeric": NumericTransform,
        "categorical": CategoricalTransform,
        "constant": ConstantTransform,
    }
    state = dict(state)
    return kinds[state.pop("type")](column, state)
