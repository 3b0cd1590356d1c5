"""A one-to-many link between two tables: the parent's primary key and the child's foreign key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from synthkit.errors import MetadataError

__all__ = ["Relationship"]


@dataclass(frozen=True)
class Relationship:
    """A one-to-many link: each ``child`` row points to a ``parent`` row.

    Attributes:
        parent: Parent table name.
        child: Child table name.
        parent_key: Primary key column of the parent.
        child_key: Column of the child holding the parent's key (the foreign key).
        field: Name of the list in the nested parent record (default: the child's name).
        order: Child column giving each row's position in that list, if any.

    Keys are single columns. A table keyed by several columns together (weather
    by ``origin`` and ``time_hour``) needs one key column built in parent and
    child alike, for example ``weather["weather_id"] = weather["origin"] + " " +
    weather["time_hour"]`` and the same in ``flights``; a list of columns raises
    :class:`MetadataError` saying so.

    Example:
        >>> link = Relationship("patients", "labs", "id", "patient_id")
        >>> link.to_sdv_dict()["child_foreign_key"]
        'patient_id'
        >>> Relationship.from_sdv_dict(link.to_sdv_dict()) == link
        True
    """

    parent: str
    child: str
    parent_key: str
    child_key: str
    field: str | None = None
    order: str | None = None

    def __post_init__(self) -> None:
        for role in ("parent_key", "child_key"):
            value = getattr(self, role)
            if isinstance(value, (list, tuple)):
                raise MetadataError(
                    f"{role}={list(value)!r} of {self.parent} -> {self.child} is a composite "
                    "key; relationships link one column to one column. Build a single key "
                    "column in both tables (for example frame['key'] = frame['a'].astype(str) "
                    "+ ' ' + frame['b'].astype(str)) and relate those."
                )
        for role in ("parent", "child", "parent_key", "child_key", "field", "order"):
            value = getattr(self, role)
            optional = role in ("field", "order")
            if not (isinstance(value, str) and value) and not (optional and value is None):
                raise MetadataError(
                    f"Relationship {role} must be a non-empty name (str); got {value!r}."
                )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; unset nesting details are left out."""
        return {name: value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Relationship:
        """Build a relationship from :meth:`to_dict` output."""
        required = ("parent", "child", "parent_key", "child_key")
        missing = [name for name in required if not data.get(name)]
        unknown = sorted(set(data) - {*required, "field", "order"})
        if missing or unknown:
            raise MetadataError(
                f"A relationship needs {list(required)} (and optionally field, order); got "
                f"{dict(data)!r}, missing {missing}, unknown {unknown}."
            )
        return cls(**dict(data))

    def to_sdv_dict(self) -> dict[str, str]:
        """Return the relationship in SDV's multi-table layout (nesting details are not kept)."""
        return {
            "parent_table_name": self.parent,
            "parent_primary_key": self.parent_key,
            "child_table_name": self.child,
            "child_foreign_key": self.child_key,
        }

    @classmethod
    def from_sdv_dict(cls, data: Mapping[str, Any]) -> Relationship:
        """Build a relationship from one entry of SDV's ``relationships`` list."""
        keys = ("parent_table_name", "child_table_name", "parent_primary_key", "child_foreign_key")
        missing = [key for key in keys if not isinstance(data.get(key), str)]
        if missing:
            raise MetadataError(
                f"SDV relationship {dict(data)!r} lacks {missing}; a relationship names one "
                "parent table and primary key and one child table and foreign key (synthkit "
                "does not support composite keys)."
            )
        return cls(
            data["parent_table_name"],
            data["child_table_name"],
            data["parent_primary_key"],
            data["child_foreign_key"],
        )
