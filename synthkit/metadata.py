"""Column kinds and keys of a table: detected, overridable, JSON- and SDV-convertible."""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from synthkit.errors import MetadataError
from synthkit.pii.registry import PII_TYPES as _PII_REGISTRY

__all__ = ["KINDS", "PII_TYPES", "IdentifierLearnedWarning", "Kind", "Metadata"]


class IdentifierLearnedWarning(UserWarning):
    """An identifier or PII column was set to a kind that models learn.

    Its real values (patient ids, names) can then appear in synthetic rows.
    """


class Kind(StrEnum):
    """What a column holds, and so whether models learn it and evaluation scores it.

    Example:
        >>> Kind("pii").learned, Kind.NUMERICAL.learned, Kind.TEXT.scored
        (False, True, False)
        >>> Kind.ID == "id"
        True
    """

    NUMERICAL = "numerical"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    ID = "id"
    PII = "pii"
    TEXT = "text"

    @property
    def learned(self) -> bool:
        """Whether models learn the column; ids, PII and text are regenerated instead."""
        return self not in (Kind.ID, Kind.PII, Kind.TEXT)

    @property
    def scored(self) -> bool:
        """Whether fidelity and privacy metrics compare the column (the learned ones)."""
        return self.learned


#: Every column kind synthkit knows.
KINDS = tuple(kind.value for kind in Kind)
_LEARNED_KINDS = frozenset(kind.value for kind in Kind if kind.learned)

#: PII types recognised in ``pii`` columns, with the SDV sdtype each maps to.
PII_TYPES = {name: pii.sdtype for name, pii in _PII_REGISTRY.items()}
# SDV sdtypes back to PII types: name parts share first_name/last_name sdtypes.
_SDV_TO_PII = {pii.sdtype: name for name, pii in _PII_REGISTRY.items() if not pii.name_part}
_SDV_TO_PII.update({"first_name": "first_name", "last_name": "last_name"})
_SDV_TO_PII.update({"ip_address": "ip", "ipv6_address": "ip", "postcode": "address"})

_FORMAT_VERSION = 1


class Metadata:
    """What each column of a table is, and which columns are keys.

    A column's entry is a dict with a ``kind`` (one of :data:`KINDS`) and
    kind-specific details: ``integer``, ``min``, ``max`` and ``decimals`` for
    numerical columns; ``format`` and ``timezone`` for datetimes; ``pii_type``
    and ``strategy`` (``"fake"`` or ``"drop"``) for PII. ``id`` and ``pii``
    columns are never learned by a model: ids are regenerated unique, PII is
    regenerated with Faker or dropped.

    Args:
        columns: Mapping of column name to its entry (at least ``{"kind": ...}``).
        primary_key: Name of the column that identifies a row, if any.
        sequence_key: Column naming the entity a row belongs to (sequences).
        sequence_index: Column ordering rows within an entity (sequences).
        reasons: Why each column has its kind, as detection found it (see :meth:`explain`).

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"age": [31, 45, 27], "city": ["Oslo", "Rome", "Oslo"]})
        >>> md = Metadata.detect(df)
        >>> md.kind("age"), md.kind("city")
        ('numerical', 'categorical')
        >>> md.update_column("city", kind="text").kind("city")
        'text'
        >>> Metadata.from_dict(md.to_dict()) == md
        True
    """

    def __init__(
        self,
        columns: Mapping[str, Mapping[str, Any]] | None = None,
        primary_key: str | None = None,
        sequence_key: str | None = None,
        sequence_index: str | None = None,
        reasons: Mapping[str, str] | None = None,
    ) -> None:
        self.columns: dict[str, dict[str, Any]] = {}
        for name, entry in (columns or {}).items():
            self.columns[str(name)] = _checked_entry(str(name), dict(entry))
        self.primary_key = primary_key
        self.sequence_key = sequence_key
        self.sequence_index = sequence_index
        #: Why each column has its kind (see :meth:`explain`).
        self.reasons: dict[str, str] = {
            str(name): str(reason) for name, reason in (reasons or {}).items()
        }
        #: Rules between columns (see :meth:`add_rule`), kept by every model.
        self.rules: list[Any] = []
        for role in ("primary_key", "sequence_key", "sequence_index"):
            column = getattr(self, role)
            if column is not None and column not in self.columns:
                raise MetadataError(
                    f"{role}={column!r} is not one of the columns: {sorted(self.columns)}."
                )

    # ----------------------------------------------------------------- detection
    @classmethod
    def detect(
        cls,
        data: pd.DataFrame,
        overrides: Mapping[str, str | Mapping[str, Any]] | None = None,
        rules: bool = True,
    ) -> Metadata:
        """Infer a kind for every column of ``data``.

        Args:
            data: The real table.
            overrides: Optional per-column corrections: a kind name or a full entry.
            rules: Propose the rules between columns that the data obeys (after the
                overrides): inequalities between numerical or datetime columns held
                by at least 97 % of the rows, with their share, and exact fixed
                combinations of categorical columns. See :meth:`add_rule`.

        Returns:
            The detected metadata, overrides applied.

        Raises:
            DataError: If ``data`` is not a non-empty DataFrame.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"id": [1, 2, 3], "email": ["a@x.org", "b@y.com", "c@z.net"]})
            >>> Metadata.detect(df).to_dict()["columns"]["email"]["kind"]
            'pii'
        """
        from synthkit._detection import detect_columns

        detected = detect_columns(data)
        metadata = cls(detected.columns, primary_key=detected.primary_key, reasons=detected.reasons)
        for name, override in (overrides or {}).items():
            if isinstance(override, str):
                metadata.update_column(name, kind=override)
            else:
                metadata.update_column(name, **dict(override))
        if rules:
            from synthkit.rules._detect import propose_rules

            metadata.rules.extend(propose_rules(data, metadata))
        return metadata

    @classmethod
    def for_data(cls, data: pd.DataFrame, metadata: Any = None) -> Metadata:
        """Return ``metadata`` checked against ``data``, or detect it when it is None.

        Args:
            data: The table the metadata must describe.
            metadata: A :class:`Metadata`, or None to detect one.

        Raises:
            MetadataError: If ``metadata`` is not a Metadata, or the two do not have
                the same columns.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"age": [31, 45], "city": ["Oslo", "Rome"]})
            >>> Metadata.for_data(df).kind("age")
            'numerical'
            >>> Metadata.for_data(df, Metadata({"age": {"kind": "numerical"}}))
            Traceback (most recent call last):
            ...
            synthkit.errors.MetadataError: The metadata does not describe column(s) ['city']. Detect metadata from this frame with Metadata.detect(df, overrides={...}), or drop those columns.
        """  # noqa: E501
        if metadata is None:
            return cls.detect(data)
        if not isinstance(metadata, Metadata):
            raise MetadataError(
                f"metadata must be a synthkit.Metadata, got {type(metadata).__name__}; build "
                "one with Metadata.detect(df), Metadata.from_dict(d) or Metadata.from_sdv(m)."
            )
        metadata.validate(data)
        undescribed = [c for c in data.columns if c not in metadata.columns]
        if undescribed:
            raise MetadataError(
                f"The metadata does not describe column(s) {undescribed}. Detect metadata "
                "from this frame with Metadata.detect(df, overrides={...}), or drop those "
                "columns."
            )
        return metadata

    # ------------------------------------------------------------------ editing
    def kind(self, column: str) -> str:
        """Return the kind of ``column``."""
        return self._entry(column)["kind"]

    def column(self, column: str) -> dict[str, Any]:
        """Return a copy of the entry of ``column``."""
        return dict(self._entry(column))

    def update_column(self, column: str, **entry: Any) -> Metadata:
        """Override a column's kind or details in place; returns ``self`` for chaining.

        Changing the kind drops details that belonged to the old kind. Turning an
        ``id`` or ``pii`` column into a kind that models learn warns
        (:class:`IdentifierLearnedWarning`): its real values can then be generated.

        Example:
            >>> md = Metadata({"zip": {"kind": "numerical", "integer": True}})
            >>> md.update_column("zip", kind="categorical").column("zip")
            {'kind': 'categorical'}
        """
        current = self._entry(column)
        if current["kind"] in ("id", "pii") and entry.get("kind") in _LEARNED_KINDS:
            warnings.warn(
                f"{self.explain(column)} As {entry['kind']} its real values are learned, and "
                "synthetic rows can carry them (real ids, names): keep it "
                f"{current['kind']} unless its values are public codes.",
                IdentifierLearnedWarning,
                stacklevel=2,
            )
        if "kind" in entry and entry["kind"] != current["kind"]:
            merged = dict(entry)
        else:
            merged = {**current, **entry}
        self.columns[column] = _checked_entry(column, merged)
        self.reasons[column] = "set by the user"
        return self

    def explain(self, column: str) -> str:
        """Say why ``column`` has its kind: detection's reason, or that the user set it.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"first": ["Mary", "John", "Anna"] * 10,
            ...                    "age": list(range(30))})
            >>> md = Metadata.detect(df)
            >>> md.explain("first")
            "'first' is pii (first_name): its name says first_name (weak name word confirmed by its values)."
            >>> md.update_column("age", kind="categorical").explain("age")
            "'age' is categorical: set by the user."
        """  # noqa: E501
        entry = self._entry(column)
        kind = entry["kind"]
        if kind == "pii":
            kind = f"pii ({entry['pii_type']})"
        reason = self.reasons.get(column, "declared in the metadata, not detected")
        return f"{column!r} is {kind}: {reason}."

    def columns_of_kind(self, *kinds: str) -> list[str]:
        """Return the names of the columns whose kind is one of ``kinds``, in order."""
        return [name for name, entry in self.columns.items() if entry["kind"] in kinds]

    def add_rule(self, rule: Any, **params: Any) -> Metadata:
        """Declare a rule between columns; returns ``self`` for chaining.

        Kinds: ``"inequality"`` (``low``, ``high``, optional ``strict``, ``min_gap``,
        ``max_gap``), ``"fixed_combinations"`` (``columns``), ``"range"`` (``low``,
        ``column``, ``high``), ``"sum"`` (``total``, ``parts``) and ``"formula"``
        (``column``, ``expression``, optional ``decimals``: a column computed from
        others, such as ``expression="weight / (height / 100) ** 2"``); or pass a
        rule object from :mod:`synthkit.rules`. A declared rule must hold in every
        real row (fitting raises :class:`~synthkit.rules.RuleError` otherwise) and
        then holds in every synthetic row; ``share=`` declares a tendency that
        models reproduce instead. A formula is a definition: models learn only
        where its column is present and compute its values, so real rows may
        deviate from it (rounding) and those deviations are not kept. Rules on
        ``id``, ``pii`` or ``text`` columns are refused.

        Example:
            >>> md = Metadata({"tstart": {"kind": "numerical"}, "tstop": {"kind": "numerical"},
            ...                "city": {"kind": "categorical"}, "state": {"kind": "categorical"}})
            >>> md.add_rule("inequality", low="tstart", high="tstop", strict=True).rules
            [Inequality(tstop > tstart)]
            >>> md.add_rule("fixed_combinations", columns=["city", "state"]).rules[-1]
            FixedCombinations(city, state)
            >>> md.add_rule("sum", total="tstop", parts=["city"])
            Traceback (most recent call last):
            ...
            synthkit.errors.RuleError: Rule tstop = city needs numerical columns, but 'city' is 'categorical'. Change the column's kind or the rule.
        """  # noqa: E501
        from synthkit.rules._core import check_rule, make_rule

        made = make_rule(rule, **params)
        check_rule(made, self.columns, self.rules)
        self.rules.append(made)
        return self

    @property
    def learned_columns(self) -> list[str]:
        """Columns a model learns: everything but ids, PII and text (see :class:`Kind`)."""
        return [name for name, e in self.columns.items() if Kind(e["kind"]).learned]

    def validate(self, data: pd.DataFrame) -> None:
        """Check that ``data`` has every column this metadata describes.

        Raises:
            MetadataError: Naming the missing columns.
        """
        missing = [name for name in self.columns if name not in data.columns]
        if missing:
            raise MetadataError(
                f"The data lacks column(s) {missing} described by the metadata; "
                "pass the matching table or detect metadata from it with Metadata.detect(df)."
            )

    # ------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: ``{"columns": {name: {"kind": ...}}, ...}``."""
        out: dict[str, Any] = {"columns": copy.deepcopy(self.columns)}
        for role in ("primary_key", "sequence_key", "sequence_index"):
            if getattr(self, role) is not None:
                out[role] = getattr(self, role)
        if self.rules:
            out["rules"] = [rule.to_dict() for rule in self.rules]
        if self.reasons:
            out["reasons"] = dict(self.reasons)
        out["format_version"] = _FORMAT_VERSION
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metadata:
        """Build metadata from :meth:`to_dict` output."""
        if not isinstance(data, Mapping) or "columns" not in data:
            raise MetadataError(
                "Metadata dicts need a 'columns' mapping: {'columns': {name: {'kind': ...}}}."
            )
        metadata = cls(
            data["columns"],
            primary_key=data.get("primary_key"),
            sequence_key=data.get("sequence_key"),
            sequence_index=data.get("sequence_index"),
            reasons=data.get("reasons"),
        )
        if data.get("rules"):
            from synthkit.rules._core import rule_from_dict

            for entry in data["rules"]:
                metadata.add_rule(rule_from_dict(entry))
        return metadata

    def to_json(self, path: str | Path | None = None) -> str:
        """Return the metadata as JSON text, also writing it to ``path`` if given."""
        return write_json(self.to_dict(), path)

    @classmethod
    def from_json(cls, source: str | Path) -> Metadata:
        """Read metadata from a JSON file path or JSON text."""
        return cls.from_dict(read_json(source))

    # --------------------------------------------------------------------- SDV
    @classmethod
    def from_sdv(cls, sdv_metadata: Any, table_name: str | None = None) -> Metadata:
        """Convert SDV metadata (``Metadata``, ``SingleTableMetadata`` or their dicts).

        Reading a dict needs no SDV install (SDV is BSL-licensed and an optional
        dependency: ``pip install "synthkit[sdv]"``). For several related tables,
        relationships included, use :class:`synthkit.schema.MultiTableMetadata`.

        Example:
            >>> sdv_dict = {"columns": {"age": {"sdtype": "numerical"},
            ...                         "mail": {"sdtype": "email", "pii": True}}}
            >>> Metadata.from_sdv(sdv_dict).kind("mail")
            'pii'
        """
        data = sdv_metadata.to_dict() if hasattr(sdv_metadata, "to_dict") else sdv_metadata
        if "tables" in data:
            tables = data["tables"]
            if table_name is None:
                if len(tables) != 1:
                    raise MetadataError(
                        f"The SDV metadata has tables {sorted(tables)}; pass table_name=..."
                    )
                table_name = next(iter(tables))
            if table_name not in tables:
                raise MetadataError(f"table_name={table_name!r} is not in {sorted(tables)}.")
            data = tables[table_name]
        if "columns" not in data:
            raise MetadataError(
                "SDV metadata needs a 'columns' mapping (or 'tables' of them); "
                f"got keys {sorted(data)}."
            )
        columns = {name: _from_sdv_column(entry) for name, entry in data["columns"].items()}
        primary_key = data.get("primary_key")
        sequence_key = data.get("sequence_key")
        if isinstance(sequence_key, list):
            sequence_key = sequence_key[0] if sequence_key else None
        return cls(
            columns,
            primary_key=primary_key if isinstance(primary_key, str) else None,
            sequence_key=sequence_key,
            sequence_index=data.get("sequence_index"),
        )

    def to_sdv(self, table_name: str = "table") -> Any:
        """Return an equivalent SDV ``Metadata`` object for one table named ``table_name``.

        SDV is licensed under the Business Source License and is an optional
        dependency of synthkit (Apache-2.0), whose models do not use it; this needs
        ``pip install "synthkit[sdv]"``. :meth:`to_sdv_dict` needs no SDV install.
        For several related tables use :class:`synthkit.schema.MultiTableMetadata`.

        Raises:
            MissingDependencyError: If SDV is not installed.
        """
        from synthkit._registry import import_optional

        sdv_metadata = import_optional(
            "sdv.metadata", extra="sdv", purpose="Converting metadata to SDV's format"
        )
        return sdv_metadata.Metadata.load_from_dict(
            {
                "tables": {table_name: self.to_sdv_dict()},
                "relationships": [],
                "METADATA_SPEC_VERSION": "V1",
            }
        )

    def to_sdv_dict(self) -> dict[str, Any]:
        """Return this table in SDV's single-table dict layout."""
        columns = {name: _to_sdv_column(entry) for name, entry in self.columns.items()}
        out: dict[str, Any] = {"columns": columns}
        if self.primary_key is not None:
            out["primary_key"] = self.primary_key
        if self.sequence_key is not None:
            out["sequence_key"] = self.sequence_key
        if self.sequence_index is not None:
            out["sequence_index"] = self.sequence_index
        return out

    # ------------------------------------------------------------------- dunder
    def __eq__(self, other: object) -> bool:
        # Reasons explain a schema; two metadata with the same schema are equal.
        if not isinstance(other, Metadata):
            return False
        mine, theirs = self.to_dict(), other.to_dict()
        mine.pop("reasons", None)
        theirs.pop("reasons", None)
        return mine == theirs

    def __repr__(self) -> str:
        kinds = ", ".join(f"{name}={entry['kind']}" for name, entry in self.columns.items())
        rules = f", rules={self.rules!r}" if self.rules else ""
        return f"Metadata({kinds}{rules})"

    def _entry(self, column: str) -> dict[str, Any]:
        try:
            return self.columns[column]
        except KeyError:
            raise MetadataError(
                f"Column {column!r} is not in the metadata; known columns: {list(self.columns)}."
            ) from None


def _checked_entry(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    kind = entry.get("kind")
    if kind not in KINDS:
        raise MetadataError(f"Column {name!r} has kind {kind!r}; use one of {', '.join(KINDS)}.")
    if kind == "pii":
        entry.setdefault("pii_type", "name")
        entry.setdefault("strategy", "fake")
        if entry["pii_type"] not in PII_TYPES:
            raise MetadataError(
                f"Column {name!r} has pii_type {entry['pii_type']!r}; "
                f"use one of {', '.join(PII_TYPES)}."
            )
        if entry["strategy"] not in ("fake", "drop"):
            raise MetadataError(
                f"Column {name!r} has strategy {entry['strategy']!r}; use 'fake' or 'drop'."
            )
    return entry


def write_json(data: Mapping[str, Any], path: str | Path | None = None) -> str:
    """Metadata as indented JSON text, also written atomically to ``path`` if given."""
    text = json.dumps(data, indent=2, default=_json_default)
    if path is not None:
        from synthkit._files import atomic_write_text

        atomic_write_text(Path(path), text)
    return text


def read_json(source: str | Path) -> Any:
    """Parse metadata JSON from text (starting with ``{``) or from a file path.

    Raises:
        MetadataError: If the file cannot be read or the JSON is invalid.
    """
    text = str(source)
    if not text.lstrip().startswith("{"):
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as error:
            raise MetadataError(f"Cannot read metadata file {source!s}: {error}.") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise MetadataError(f"Metadata JSON is invalid: {error}.") from error


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _from_sdv_column(entry: Mapping[str, Any]) -> dict[str, Any]:
    sdtype = entry.get("sdtype", "unknown")
    if sdtype == "numerical":
        representation = entry.get("computer_representation")
        if representation is not None:
            integer = str(representation).lower().startswith(("int", "uint"))
        else:  # SDV 2.0 detection records decimal places instead
            integer = entry.get("decimal_places") == 0
        out = {"kind": "numerical", "integer": integer}
        for ours, theirs in (
            ("min", "range_min"),
            ("max", "range_max"),
            ("decimals", "decimal_places"),
        ):
            if entry.get(theirs) is not None:
                out[ours] = entry[theirs]
        return out
    if sdtype in ("categorical", "boolean", "id"):
        return {"kind": sdtype}
    if sdtype == "datetime":
        out: dict[str, Any] = {"kind": "datetime"}
        if entry.get("datetime_format"):
            out["format"] = entry["datetime_format"]
        return out
    if sdtype in _SDV_TO_PII:
        return {"kind": "pii", "pii_type": _SDV_TO_PII[sdtype], "strategy": "fake"}
    if sdtype == "unknown":
        return {"kind": "text"}
    # Any other semantic sdtype (country_code, ...) is a category to SDV too.
    return {"kind": "categorical"}


def _to_sdv_column(entry: Mapping[str, Any]) -> dict[str, Any]:
    kind = entry["kind"]
    if kind == "numerical":
        out = {
            "sdtype": "numerical",
            "computer_representation": "Int64" if entry.get("integer") else "Float",
        }
        # SDV 2 keeps decimal places and the range, not the representation.
        decimals = entry.get("decimals")
        if decimals is None and entry.get("integer"):
            decimals = 0
        if decimals is not None:
            out["decimal_places"] = int(decimals)
        for ours, theirs in (("min", "range_min"), ("max", "range_max")):
            if entry.get(ours) is not None:
                out[theirs] = entry[ours]
        return out
    if kind == "datetime":
        out: dict[str, Any] = {"sdtype": "datetime"}
        if entry.get("format"):
            out["datetime_format"] = entry["format"]
        return out
    if kind == "boolean":
        # SDV's boolean accepts only True/False; ours also covers 0/1 and yes/no.
        return {"sdtype": "categorical"}
    if kind == "pii":
        return {"sdtype": PII_TYPES[entry["pii_type"]], "pii": True}
    if kind == "text":
        return {"sdtype": "unknown", "pii": False}
    return {"sdtype": kind}
