"""The encoder protocol and the machinery every encoder shares.

An encoder turns a table into the tensor a model learns from and back. Every
encoder (:class:`~synthkit.processing.table_encoder.TableEncoder`,
:class:`~synthkit.processing.discretizer.Discretizer`,
:class:`~synthkit.processing.copula.CopulaEncoder`) meets :class:`Encoder` and
builds on :class:`BaseEncoder`, which holds, in one place, what none of them may
do differently: input checks and metadata, the rules' reversible rewrite
(``synthkit.rules``) around fitting, encoding and decoding, the description of
each learned column (:mod:`synthkit.processing.columns`: categories with
rare-category pooling, numeric ranges, dtypes, constants), the regeneration of
never-learned columns (:mod:`synthkit.processing.regeneration`) and the common
part of the JSON state. An encoder adds only its representation: how the
described columns become features (``_fit_columns``, ``encode``, the
decoding of features to column values) and its part of the state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd
import torch

from synthkit._runtime import resolve_device
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
from synthkit.processing.regeneration import assemble, regeneration_entry
from synthkit.processing.validation import check_frame

if TYPE_CHECKING:
    from synthkit.processing.statistics import TableStatistics

__all__ = ["BaseEncoder", "Encoder"]

_FORMAT_VERSION = 1


@runtime_checkable
class Encoder(Protocol):
    """What a model needs from an encoder: a reversible map between a table and a tensor.

    Attributes:
        metadata_: The metadata the encoder was fitted with.
        spans_: The output layout: one :class:`~synthkit.processing.columns.Span`
            per slice of the encoded tensor, in order, covering all its columns.
        output_dim_: Width of the encoded tensor (the spans' total width).

    Example:
        >>> from synthkit.processing import CopulaEncoder, Discretizer, TableEncoder
        >>> df = pd.DataFrame({"x": [0.5, 1.5, None, 2.5] * 25, "c": ["a", "b", "b", "a"] * 25})
        >>> for cls in (TableEncoder, Discretizer, CopulaEncoder):
        ...     encoder = cls().fit(df)
        ...     encoded = encoder.encode(df, random_state=0, dtype=torch.float64)
        ...     same = encoder.decode(encoded, random_state=0).equals(df)
        ...     print(cls.__name__, isinstance(encoder, Encoder), encoder.output_dim_, same)
        TableEncoder True 8 True
        Discretizer True 2 True
        CopulaEncoder True 2 True
    """

    metadata_: Metadata
    spans_: list[Span]
    output_dim_: int

    def fit(
        self,
        data: pd.DataFrame,
        metadata: Metadata | None = None,
        device: str | torch.device = "cpu",
        random_state: int | None = None,
    ) -> Self:
        """Learn the representation of ``data``; returns ``self``."""
        ...

    def encode(
        self,
        data: pd.DataFrame,
        random_state: int | None = None,
        dtype: torch.dtype | None = None,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        """Encode ``data`` into a ``[rows, output_dim_]`` tensor."""
        ...

    def decode(
        self,
        encoded: torch.Tensor,
        random_state: int | None = None,
        *,
        groups: np.ndarray | pd.Series | None = None,
    ) -> pd.DataFrame:
        """Turn encoded rows back into a frame with the real columns, order and dtypes."""
        ...

    def to_state(self) -> dict[str, Any]:
        """The fitted encoder as JSON-ready data."""
        ...

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """Rebuild a fitted encoder from :meth:`to_state` output."""
        ...


class BaseEncoder(ABC):
    """The part of every encoder that does not depend on its representation.

    Subclasses set ``rare_category_threshold`` and ``clip`` (attributes or
    parameters) and implement :meth:`_fit_columns`, :meth:`_spans`, ``encode``,
    ``decode`` (through :meth:`_encoding_input` and :meth:`_decoded_frame`),
    :meth:`_params`, :meth:`_extra_state` and :meth:`_restore_extra`.

    Attributes:
        metadata_: The metadata of the real frame.
        columns_: The real frame's columns, in order.
        transforms_: The description of each learned column (ranges, categories,
            dtypes; constant columns included), in table order.
        regenerated_: What regenerating each never-learned column needs.
        rules_: The rules' rewrite of the frame, or ``None`` without rules.
    """

    rare_category_threshold: int
    clip: bool

    # ---------------------------------------------------------------------- fit
    def fit(
        self,
        data: pd.DataFrame,
        metadata: Metadata | None = None,
        device: str | torch.device = "cpu",
        random_state: int | None = None,
    ) -> Self:
        """Learn every column's description, then the encoder's representation of it.

        Args:
            data: The real table.
            metadata: Column kinds; detected from ``data`` when omitted.
            device: Where the representation is fitted (the table encoder's mixtures).
            random_state: Unused by the deterministic fits; kept for symmetry.

        Returns:
            ``self``.
        """
        check_frame(data)
        metadata = Metadata.for_data(data, metadata)
        check_frame(data, metadata)
        if getattr(self, "privacy", None) is not None:
            from synthkit.rules._private import rules_for_private_fit

            metadata = rules_for_private_fit(metadata)
        device = resolve_device(device)
        self.metadata_ = metadata
        self.columns_ = list(metadata.columns)
        self.transforms_: dict[str, ColumnTransform] = {}
        self.regenerated_: dict[str, dict[str, Any]] = {}
        # Rules between columns are a reversible rewrite of the frame (synthkit.rules):
        # the columns below are described and learned on the rewritten frame.
        from synthkit.rules._transform import RuleTransform

        self.rules_ = RuleTransform.fit(data, metadata, self.clip, self.rare_category_threshold)
        if self.rules_ is not None:
            data, metadata = self.rules_.forward(data), self.rules_.model_metadata(metadata)
        for column in self.columns_:
            entry = metadata.column(column)
            series = data[column]
            if not Kind(entry["kind"]).learned:
                self.regenerated_[column] = regeneration_entry(entry, series)
            else:
                self.transforms_[column] = self._describe(column, series, entry)
        self._fit_columns(data, device)
        self._build_layout()
        return self

    def fit_statistics(
        self, statistics: TableStatistics, device: str | torch.device = "cpu"
    ) -> Self:
        """Learn the encoder from a table's statistics gathered batch by batch (a streamed fit).

        Categories, their counts and pooling, ranges, dtypes and constant columns
        are described exactly as :meth:`fit` describes them from the whole frame;
        the numerical representation is fitted from each column's sketch (exact
        value counts, or a uniform sample of a column with many distinct values:
        see :mod:`synthkit.processing.sketches`).

        Args:
            statistics: The statistics of every column
                (:class:`~synthkit.processing.statistics.TableStatistics`).
            device: Where the representation is fitted.

        Returns:
            ``self``.

        Raises:
            ParameterError: If the metadata declares rules between columns, or the
                encoder cannot fit from statistics.

        Example:
            >>> from synthkit.processing import Discretizer
            >>> from synthkit.processing.statistics import TableStatistics
            >>> frame = pd.DataFrame({"x": [0.5, 1.5, 2.5, None] * 50, "c": ["a", "b"] * 100})
            >>> stats = TableStatistics(Metadata.detect(frame), frame)
            >>> for start in range(0, 200, 64):
            ...     stats.update(frame.iloc[start : start + 64])
            >>> streamed = Discretizer().fit_statistics(stats)
            >>> streamed.vocab_sizes == Discretizer().fit(frame).vocab_sizes
            True
        """
        from synthkit.errors import ParameterError

        statistics.check()
        metadata = statistics.metadata
        if metadata.rules:
            raise ParameterError(
                "A streamed fit does not support rules between columns (a rule is fitted on "
                "the whole frame); remove them from the metadata or fit a DataFrame in memory."
            )
        self.metadata_ = metadata
        self.columns_ = list(metadata.columns)
        self.transforms_ = {}
        self.regenerated_ = {}
        self.rules_ = None
        for column in self.columns_:
            entry = metadata.column(column)
            if not Kind(entry["kind"]).learned:
                self.regenerated_[column] = statistics.regeneration(column, entry)
            else:
                self.transforms_[column] = self._describe_statistics(column, statistics, entry)
        self._fit_statistics_columns(statistics, resolve_device(device))
        self._build_layout()
        return self

    def _describe_statistics(
        self, column: str, statistics: TableStatistics, entry: dict[str, Any]
    ) -> ColumnTransform:
        """:meth:`_describe` of a column from its streamed statistics."""
        if statistics.is_constant(column):
            return ConstantTransform.describe(column, statistics.constant_example(column))
        dtype = statistics.dtype(column)
        if entry["kind"] in ("numerical", "datetime"):
            transform = NumericTransform.from_sketch(
                column,
                dtype,
                entry,
                statistics.numeric[column],
                statistics.datetime_details.get(column),
            )
            transform.info["clip"] = self.clip
            return transform
        threshold = entry.get("rare_category_threshold", self.rare_category_threshold)
        counts = statistics.categories[column].value_counts()
        return CategoricalTransform.from_counts(column, dtype, counts, threshold)

    def _fit_statistics_columns(self, statistics: TableStatistics, device: torch.device) -> None:
        """Fit the representation of the described columns from their sketches."""
        from synthkit.errors import ParameterError

        raise ParameterError(
            f"{type(self).__name__} cannot be fitted from streamed statistics; the "
            "Discretizer and CopulaEncoder can (the autoregressive and flow models)."
        )

    def _describe(self, column: str, series: pd.Series, entry: dict[str, Any]) -> ColumnTransform:
        """The description of one learned column, the same for every encoder."""
        if series.nunique(dropna=False) <= 1:
            return ConstantTransform.describe(column, series)
        if entry["kind"] in ("numerical", "datetime"):
            transform = NumericTransform.describe(column, series, entry)
            transform.info["clip"] = self.clip
            if transform.info["min"] == transform.info["max"] and not transform.info["has_missing"]:
                return ConstantTransform.describe(column, series)
            return transform
        # A column's own threshold wins: keys of a public reference table need no pooling.
        threshold = entry.get("rare_category_threshold", self.rare_category_threshold)
        return CategoricalTransform.describe(column, series, threshold)

    @abstractmethod
    def _fit_columns(self, data: pd.DataFrame, device: torch.device) -> None:
        """Fit the representation of the described columns on the rewritten ``data``."""

    @abstractmethod
    def _spans(self) -> list[Span]:
        """The output layout of the fitted encoder."""

    def _build_layout(self) -> None:
        self.spans_ = self._spans()
        self.output_dim_ = sum(span.width for span in self.spans_)

    # ------------------------------------------------------------------ queries
    @property
    def learned_columns(self) -> list[str]:
        """Columns the model learns (constant ones need nothing), in model order."""
        self._check_fitted()
        return [c for c, t in self.transforms_.items() if not isinstance(t, ConstantTransform)]

    @property
    def categorical_columns(self) -> list[str]:
        """Learned categorical/boolean columns, in order (those a model can condition on)."""
        self._check_fitted()
        return [c for c, t in self.transforms_.items() if isinstance(t, CategoricalTransform)]

    @property
    def output_columns(self) -> list[str]:
        """Columns the decoded frame has, in the real frame's order (dropped PII left out)."""
        self._check_fitted()
        return [
            c
            for c in self.columns_
            if not (c in self.regenerated_ and self.regenerated_[c].get("strategy") == "drop")
        ]

    def span_of(self, column: str, role: str | None = None) -> Span:
        """Return the first span of ``column`` (of the given role, if any)."""
        self._check_fitted()
        for span in self.spans_:
            if span.column == column and (role is None or span.role == role):
                return span
        raise KeyError(column)

    def source_transform(self, column: str) -> ColumnTransform | None:
        """The transform describing the real ``column`` (values, range, categories).

        A column a rule rewrites is learned in another form; conditions on it
        are checked against this description of the real column.
        """
        self._check_fitted()
        source = self.rules_.source_transform(column) if self.rules_ is not None else None
        return source if source is not None else self.transforms_.get(column)

    # ------------------------------------------------------- encode/decode hooks
    def _encoding_input(self, data: pd.DataFrame) -> pd.DataFrame:
        """The frame an encoder's ``encode`` reads: checked, with the rules' rewrite."""
        self._check_fitted()
        missing = [c for c in self.learned_columns if c not in data.columns]
        if missing:
            raise DataError(
                f"The frame lacks the column(s) {missing} the model was fitted on; pass a "
                "frame with the training columns."
            )
        return self._rules_forward(data)

    def _rules_forward(self, data: pd.DataFrame) -> pd.DataFrame:
        """The frame with the rules' derived columns rewritten (unchanged without rules)."""
        return data if self.rules_ is None else self.rules_.forward(data)

    def _rules_inverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A decoded frame with the rules' derived columns computed back."""
        return frame if self.rules_ is None else self.rules_.inverse(frame)

    def _columns_from_values(
        self, values: Mapping[str, np.ndarray], n: int
    ) -> dict[str, pd.Series]:
        """Decode one value per row and learned column (numbers, category codes) into columns.

        Numbers are clipped, rounded and typed like every encoder's; constant
        columns need no values, only the number of rows.
        """
        empty = np.empty(n)
        return {
            column: transform.decode_values(values.get(column, empty))
            for column, transform in self.transforms_.items()
        }

    def _decoded_frame(
        self,
        columns: dict[str, pd.Series],
        n: int,
        seed: int,
        groups: np.ndarray | pd.Series | None = None,
    ) -> pd.DataFrame:
        """Every encoder's last decoding step: regenerate, order, undo the rules' rewrite."""
        return self._rules_inverse(self._assemble(columns, n, seed, groups=groups))

    def _assemble(
        self,
        columns: dict[str, pd.Series],
        n: int,
        seed: int,
        groups: np.ndarray | pd.Series | None = None,
    ) -> pd.DataFrame:
        """Add the regenerated columns to decoded ones (see :func:`.regeneration.assemble`)."""
        return assemble(columns, n, seed, self.regenerated_, self.output_columns, groups)

    # ------------------------------------------------------------- persistence
    def to_state(self) -> dict[str, Any]:
        """Return everything needed to rebuild the fitted encoder, as JSON-ready data."""
        self._check_fitted()
        return {
            "format_version": _FORMAT_VERSION,
            "params": self._params(),
            "metadata": self.metadata_.to_dict(),
            "columns": self.columns_,
            "transforms": {c: t.state() for c, t in self.transforms_.items()},
            "regenerated": self.regenerated_,
            **({"rules": self.rules_.state()} if self.rules_ is not None else {}),
            **self._extra_state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """Rebuild a fitted encoder from :meth:`to_state` output (older states included)."""
        from synthkit.rules._transform import RuleTransform

        encoder = cls._from_params(state)
        encoder.metadata_ = Metadata.from_dict(state["metadata"])
        encoder.columns_ = list(state["columns"])
        encoder.transforms_ = {
            c: transform_from_state(c, s) for c, s in state["transforms"].items()
        }
        encoder.regenerated_ = dict(state["regenerated"])
        encoder.rules_ = RuleTransform.from_state(state.get("rules"))
        encoder._restore_extra(state)
        encoder._build_layout()
        return encoder

    @abstractmethod
    def _params(self) -> dict[str, Any]:
        """The constructor's arguments, JSON-ready."""

    @classmethod
    @abstractmethod
    def _from_params(cls, state: dict[str, Any]) -> Self:
        """An unfitted encoder with the parameters a state records."""

    def _extra_state(self) -> dict[str, Any]:
        """The encoder's own sections of the state (none by default)."""
        return {}

    def _restore_extra(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Read back :meth:`_extra_state` (nothing by default)."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "transforms_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(data) first."
            )
