"""The table encoder shared by every generator: frame to tensor and back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from synthkit._runtime import resolve_device, seed_from
from synthkit.errors import DataError, NotFittedError
from synthkit.metadata import Kind, Metadata
from synthkit.processing.columns import (
    CategoricalTransform,
    ColumnTransform,
    ConstantTransform,
    NumericTransform,
    Span,
    transform_from_state,
)
from synthkit.processing.gmm import fit_mixtures
from synthkit.processing.validation import check_frame

__all__ = ["TableEncoder"]

_FORMAT_VERSION = 1


class TableEncoder:
    """Reversible encoding of a table into the model space every generator uses.

    Numerical and datetime columns get mode-specific normalization (one
    variational Gaussian mixture per column, all fitted together on the device),
    categorical and boolean columns a one-hot block, and missing values a flag.
    ``id``, ``pii`` and ``text`` columns are never encoded: decoding regenerates
    them (unique ids, Faker values, Faker text) or drops PII whose strategy is
    ``"drop"``.

    Args:
        n_components: Maximum mixture components per numerical column.
        weight_threshold: Components lighter than this are dropped.
        rare_category_threshold: Categories with fewer rows than this are pooled
            (a privacy option; 0 keeps every category).
        clip: Clip decoded numbers to the real min and max.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"age": [23, 35, 47, 59] * 25, "job": ["a", "b", "a", "c"] * 25})
        >>> encoder = TableEncoder().fit(df, random_state=0)
        >>> encoded = encoder.encode(df, random_state=0, dtype=torch.float64)
        >>> encoder.decode(encoded, random_state=0).equals(df)
        True
    """

    def __init__(
        self,
        n_components: int = 10,
        weight_threshold: float = 0.005,
        rare_category_threshold: int = 0,
        clip: bool = True,
    ) -> None:
        self.n_components = n_components
        self.weight_threshold = weight_threshold
        self.rare_category_threshold = rare_category_threshold
        self.clip = clip

    # ---------------------------------------------------------------------- fit
    def fit(
        self,
        data: pd.DataFrame,
        metadata: Metadata | None = None,
        device: str | torch.device = "cpu",
        random_state: int | None = None,
    ) -> TableEncoder:
        """Learn every column's transform from the real table.

        Args:
            data: The real table.
            metadata: Column kinds; detected from ``data`` when omitted.
            device: Where the mixtures are fitted.
            random_state: Unused by the deterministic fit; kept for symmetry.

        Returns:
            ``self``.
        """
        check_frame(data)
        metadata = Metadata.for_data(data, metadata)
        check_frame(data, metadata)
        device = resolve_device(device)
        self.metadata_ = metadata
        self.columns_ = list(metadata.columns)
        self.transforms_: dict[str, ColumnTransform] = {}
        self.regenerated_: dict[str, dict[str, Any]] = {}
        # Rules between columns are a reversible rewrite of the frame (synthkit.rules):
        # the column transforms below are fitted on the rewritten frame.
        from synthkit.rules._transform import RuleTransform

        self.rules_ = RuleTransform.fit(data, metadata, self.clip, self.rare_category_threshold)
        if self.rules_ is not None:
            data, metadata = self.rules_.forward(data), self.rules_.model_metadata(metadata)
        numeric: list[NumericTransform] = []
        for column in self.columns_:
            entry = metadata.column(column)
            series = data[column]
            kind = entry["kind"]
            if not Kind(kind).learned:
                self.regenerated_[column] = _regeneration_entry(entry, series)
                continue
            if series.nunique(dropna=False) <= 1:
                self.transforms_[column] = ConstantTransform.describe(column, series)
            elif kind in ("numerical", "datetime"):
                transform = NumericTransform.describe(column, series, entry)
                transform.info["clip"] = self.clip
                if (
                    transform.info["min"] == transform.info["max"]
                    and not transform.info["has_missing"]
                ):
                    self.transforms_[column] = ConstantTransform.describe(column, series)
                    continue
                numeric.append(transform)
                self.transforms_[column] = transform
            else:
                self.transforms_[column] = CategoricalTransform.describe(
                    column, series, self.rare_category_threshold
                )
        if numeric:
            self._fit_mixtures(data, numeric, device)
        self._build_spans()
        return self

    def _fit_mixtures(
        self, data: pd.DataFrame, transforms: list[NumericTransform], device: torch.device
    ) -> None:
        values = np.stack([t.values(data[t.column]) for t in transforms])
        # Standardize in float64 on the host: datetimes in nanoseconds (~1e18) would
        # overflow float32 sums of squares on the device.
        center = np.nanmean(values, axis=1, keepdims=True)
        scale = np.nanstd(values, axis=1, keepdims=True)
        scale[~(scale > 0)] = 1.0
        tensor = torch.as_tensor((values - center) / scale, dtype=torch.float32, device=device)
        observed = ~torch.isnan(tensor)
        params = fit_mixtures(torch.nan_to_num(tensor), observed, n_components=self.n_components)
        center_t = torch.as_tensor(center, dtype=torch.float64)
        scale_t = torch.as_tensor(scale, dtype=torch.float64)
        means = params.means.double().cpu() * scale_t + center_t
        stds = params.stds.double().cpu() * scale_t
        for i, transform in enumerate(transforms):
            transform.set_mixture(params.weights[i], means[i], stds[i], self.weight_threshold)

    def _build_spans(self) -> None:
        spans: list[Span] = []
        start = 0
        for column, transform in self.transforms_.items():
            for width, activation, role in transform.layout():
                spans.append(Span(column, start, width, activation, role))
                start += width
        self.spans_ = spans
        self.output_dim_ = start

    # ------------------------------------------------------------------ queries
    @property
    def categorical_columns(self) -> list[str]:
        """Learned categorical/boolean columns, in order (those a model can condition on)."""
        self._check_fitted()
        return [c for c, t in self.transforms_.items() if isinstance(t, CategoricalTransform)]

    def span_of(self, column: str, role: str | None = None) -> Span:
        """Return the first span of ``column`` (of the given role, if any)."""
        self._check_fitted()
        for span in self.spans_:
            if span.column == column and (role is None or span.role == role):
                return span
        raise KeyError(column)

    # ------------------------------------------------------------ encode/decode
    def encode(
        self,
        data: pd.DataFrame,
        random_state: int | None = None,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        """Encode ``data`` into a ``[rows, output_dim_]`` tensor.

        Mixture modes are sampled from each value's posterior, as CTGAN does, so
        ``random_state`` makes the encoding reproducible.
        """
        self._check_fitted()
        device = resolve_device(device) if device is not None else torch.device("cpu")
        generator = torch.Generator(device=device).manual_seed(seed_from(random_state))
        data = self._rules_forward(data)
        blocks = [
            transform.encode(data[column], device, generator)
            for column, transform in self.transforms_.items()
        ]
        if not blocks:
            return torch.zeros((len(data), 0), dtype=dtype, device=device)
        return torch.cat(blocks, dim=1).to(dtype)

    def decode(self, encoded: torch.Tensor, random_state: int | None = None) -> pd.DataFrame:
        """Turn model output back into a frame with the real columns, order and dtypes.

        Softmax blocks are read by their largest entry, so either one-hot rows or
        probabilities can be passed. Regenerated columns are filled here.
        """
        self._check_fitted()
        encoded = encoded.detach()
        n = encoded.shape[0]
        seed = seed_from(random_state)
        rng = np.random.default_rng(seed)
        columns: dict[str, pd.Series] = {}
        position = 0
        for column, transform in self.transforms_.items():
            width = sum(w for w, _, _ in transform.layout())
            block = encoded[:, position : position + width]
            position += width
            if isinstance(transform, CategoricalTransform):
                columns[column] = transform.decode(block, rng)
            else:
                columns[column] = transform.decode(block)
        return self._rules_inverse(self._assemble(columns, n, seed))

    def _rules_forward(self, data: pd.DataFrame) -> pd.DataFrame:
        """The frame with the rules' derived columns rewritten (unchanged without rules)."""
        rules = getattr(self, "rules_", None)
        return data if rules is None else rules.forward(data)

    def _rules_inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A decoded frame with the rules' derived columns computed back."""
        rules = getattr(self, "rules_", None)
        return frame if rules is None else rules.inverse(frame)

    def source_transform(self, column: str) -> ColumnTransform | None:
        """The transform describing the real ``column`` (values, range, categories).

        A column a rule rewrites is learned in another form; conditions on it
        are checked against this description of the real column.
        """
        self._check_fitted()
        rules = getattr(self, "rules_", None)
        source = rules.source_transform(column) if rules is not None else None
        return source if source is not None else self.transforms_.get(column)

    def _assemble(
        self,
        columns: dict[str, pd.Series],
        n: int,
        seed: int,
        groups: np.ndarray | pd.Series | None = None,
    ) -> pd.DataFrame:
        """Add the regenerated columns to decoded ones and order them like the real frame.

        Name parts tied to a full name are regenerated after it, from the same draw;
        names follow the decoded sex or gender column. ``groups`` (one entity code
        per row) gives every row of an entity the same names.
        """
        rows = inverse = None
        if groups is not None:
            codes = np.asarray(groups)
            if codes.shape != (n,):
                raise DataError(
                    f"groups has shape {codes.shape}; pass one entity code per row ({n})."
                )
            _, rows, inverse = np.unique(codes, return_index=True, return_inverse=True)
        drawn: dict[str, dict[str, np.ndarray]] = {}
        ordered = sorted(
            enumerate(self.regenerated_.items()),
            key=lambda item: item[1][1].get("name_column") in self.regenerated_,
        )
        for offset, (column, entry) in ordered:
            values = _regenerate(
                entry,
                n,
                seed + 1 + offset,
                column=column,
                decoded=columns,
                drawn=drawn,
                rows=rows,
                inverse=inverse,
            )
            if values is not None:
                columns[column] = pd.Series(values, name=column)
        frame = pd.DataFrame({c: columns[c].reset_index(drop=True) for c in self.output_columns})
        return frame

    @property
    def output_columns(self) -> list[str]:
        """Columns the decoded frame has, in the real frame's order (dropped PII left out)."""
        self._check_fitted()
        return [
            c
            for c in self.columns_
            if not (c in self.regenerated_ and self.regenerated_[c].get("strategy") == "drop")
        ]

    # ------------------------------------------------------------- persistence
    def to_state(self) -> dict[str, Any]:
        """Return everything needed to rebuild the fitted encoder, as JSON-ready data."""
        self._check_fitted()
        return {
            "format_version": _FORMAT_VERSION,
            "params": {
                "n_components": self.n_components,
                "weight_threshold": self.weight_threshold,
                "rare_category_threshold": self.rare_category_threshold,
                "clip": self.clip,
            },
            "metadata": self.metadata_.to_dict(),
            "columns": self.columns_,
            "transforms": {c: t.state() for c, t in self.transforms_.items()},
            "regenerated": self.regenerated_,
            **({"rules": self.rules_.state()} if getattr(self, "rules_", None) else {}),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TableEncoder:
        """Rebuild an encoder from :meth:`to_state` output."""
        encoder = cls(**state["params"])
        encoder.metadata_ = Metadata.from_dict(state["metadata"])
        encoder.columns_ = list(state["columns"])
        encoder.transforms_ = {
            c: transform_from_state(c, s) for c, s in state["transforms"].items()
        }
        encoder.regenerated_ = dict(state["regenerated"])
        from synthkit.rules._transform import RuleTransform

        encoder.rules_ = RuleTransform.from_state(state.get("rules"))
        encoder._build_spans()
        return encoder

    def _check_fitted(self) -> None:
        if not hasattr(self, "transforms_"):
            raise NotFittedError("This TableEncoder is not fitted yet; call fit(data) first.")


def _regeneration_entry(entry: dict[str, Any], series: pd.Series) -> dict[str, Any]:
    """What regenerating a never-learned column needs, without any of its values.

    Name columns get candidate pools with every real word taken out (see
    :func:`synthkit.pii.names.fit_name_pools`).
    """
    from synthkit.pii.names import NAME_TYPES, fit_name_pools

    out = dict(entry)
    if entry["kind"] == "text":
        words = series.dropna().astype(str).str.split().str.len()
        out["mean_words"] = float(words.mean()) if len(words) else 5.0
    if entry["kind"] == "pii" and entry.get("pii_type") in NAME_TYPES:
        out.update(fit_name_pools(entry, series))
    out["null_share"] = float(series.isna().mean())
    return out


# The part of a generated full name each name type takes.
_PART_OF_NAME = {
    "name": "full",
    "first_name": "first",
    "middle_name": "middle",
    "last_name": "last",
    "maiden_name": "last",
}


def _regenerate(
    entry: dict[str, Any],
    n: int,
    seed: int,
    *,
    column: str = "",
    decoded: dict[str, pd.Series] | None = None,
    drawn: dict[str, dict[str, np.ndarray]] | None = None,
    rows: np.ndarray | None = None,
    inverse: np.ndarray | None = None,
) -> np.ndarray | None:
    """Regenerate one column; names use the decoded gender and the row's full name.

    Args:
        entry: The column's regeneration entry.
        n: Number of rows.
        seed: The column's seed.
        column: Its name (a full name's draw is kept under it for its parts).
        decoded: Columns decoded so far (the sex or gender column is read there).
        drawn: Full names drawn so far with their parts, by column.
        rows: First row of each entity, when rows are grouped.
        inverse: Entity of each row, when rows are grouped.

    Example:
        >>> entry = {"kind": "pii", "pii_type": "first_name", "gender_column": "sex"}
        >>> sex = {"sex": pd.Series(["f", "f", "m"])}
        >>> names = _regenerate(entry, 3, 0, decoded=sex, rows=np.array([0, 2]),
        ...                     inverse=np.array([0, 0, 1]))
        >>> bool(names[0] == names[1])
        True
    """
    from synthkit.pii import regenerate
    from synthkit.pii.names import NAME_TYPES, generate_names

    if entry["kind"] == "pii" and entry.get("strategy") == "drop":
        return None
    decoded = {} if decoded is None else decoded
    drawn = {} if drawn is None else drawn
    if entry["kind"] == "pii" and entry.get("pii_type") in NAME_TYPES:
        part = entry.get("name_part") or _PART_OF_NAME[entry["pii_type"]]
        source = entry.get("name_column")
        if source in drawn:
            values = np.asarray(drawn[source][part], dtype=object)
        else:
            gender_column = entry.get("gender_column")
            gender = decoded.get(gender_column) if gender_column else None
            if gender is not None:
                gender = gender.reset_index(drop=True)
                gender = gender if rows is None else gender.iloc[rows]
            made = generate_names(entry, n if rows is None else len(rows), seed, gender)
            if inverse is not None:
                made = {key: value[inverse] for key, value in made.items()}
            drawn[column] = made
            values = np.asarray(made[_PART_OF_NAME[entry["pii_type"]]], dtype=object)
    else:
        values = regenerate(entry, n, seed)
    share = entry.get("null_share", 0.0)
    if share > 0:  # codes with missing values keep their share of them; keys have none
        # An entity's personal data is missing on all its rows or on none.
        grouped = rows is not None and inverse is not None and entry["kind"] == "pii"
        draws = np.random.default_rng(seed).random(len(rows) if grouped else n)
        missing = (draws < share)[inverse] if grouped else draws < share
        if np.asarray(values).dtype.kind in "iu":
            values = np.asarray(values, dtype=float)
            values[missing] = np.nan
        else:
            values = np.asarray(values, dtype=object)
            values[missing] = None
    return values
