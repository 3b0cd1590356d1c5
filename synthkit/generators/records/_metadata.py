"""Each table model's column kinds, taken from the record dataset's metadata.

A :class:`~synthkit.schema.RecordDataset` carries one metadata per table, given
by the user (a column declared ``pii`` or ``categorical``, a rule) or detected
once for the whole database. Every table and sequence model of a record model
reads its kinds from there, so a column declared PII is regenerated, never
learned, whichever model sees it: the root's table model, a child's sequence
model, or a child's context, which holds only the parents' learned columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from synthkit.metadata import Kind, Metadata

__all__ = ["context_metadata", "learned_values", "table_metadata"]


def table_metadata(metadata: Metadata, columns: Sequence[str]) -> Metadata:
    """The entries of ``columns`` and the rules among them only.

    Example:
        >>> md = Metadata({"lo": {"kind": "numerical"}, "hi": {"kind": "numerical"},
        ...                "id": {"kind": "id"}}).add_rule("inequality", low="lo", high="hi")
        >>> table_metadata(md, ["lo", "hi"]).rules, table_metadata(md, ["hi"]).rules
        ([Inequality(hi >= lo)], [])
    """
    kept = Metadata({column: metadata.column(column) for column in columns})
    for rule in metadata.rules:
        if set(rule.columns) <= set(columns):
            kept.add_rule(rule)
    return kept


def learned_values(metadata: Metadata, values: Iterable[str]) -> list[str]:
    """The ``values`` a model learns: not ids, PII or text.

    Example:
        >>> md = Metadata({"age": {"kind": "numerical"}, "name": {"kind": "pii"}})
        >>> learned_values(md, ["age", "name"])
        ['age']
    """
    return [column for column in values if Kind(metadata.kind(column)).learned]


def context_metadata(
    sources: Mapping[str, tuple[str, str | None]],
    metadata: Mapping[str, Metadata],
    key: str,
    categories: Mapping[str, Iterable[str]] | None = None,
) -> Metadata:
    """Kinds of a child's context columns, each read from the table it comes from.

    Args:
        sources: Context column to its ``(table, column)``; ``column`` None for a
            root's number of children (a count).
        metadata: Each table's metadata.
        key: The context's key column.
        categories: Per table, key columns its model learns as categories (keys
            into kept tables), which the metadata holds as ids.

    Example:
        >>> md = {"patients": Metadata({"sex": {"kind": "categorical"}})}
        >>> sources = {"patients.sex": ("patients", "sex"), "patients.labs:count": ("patients", None)}
        >>> context_metadata(sources, md, "id").kind("patients.labs:count")
        'numerical'
    """  # noqa: E501
    entries: dict[str, dict[str, Any]] = {key: {"kind": "id"}}
    for name, (table, column) in sources.items():
        if column is None:
            entries[name] = {"kind": "numerical", "integer": True}
        elif column in set((categories or {}).get(table, ())):
            entries[name] = {"kind": "categorical", "rare_category_threshold": 0}
        else:
            entries[name] = metadata[table].column(column)
    return Metadata(entries)
