"""The schema section of a records report: tables and relationships drawn, each with its scores."""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any

from synthkit.evaluation import svg
from synthkit.evaluation.base import MetricResult

if TYPE_CHECKING:
    from synthkit.evaluation.report import Report

__all__ = ["schema_diagram", "schema_section"]

_BOX_W, _BOX_H, _GAP_X, _GAP_Y, _MARGIN = 200, 72, 110, 24, 24


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else escape(str(value))


def _depths(tables: list[str], links: list[dict[str, Any]]) -> dict[str, int]:
    """Each table's distance below the nearest table without a parent (breadth first)."""
    children = {link["child"] for link in links}
    depth = {name: 0 for name in tables if name not in children}
    frontier = list(depth) or tables[:1]
    depth.update(dict.fromkeys(frontier, 0))
    while frontier:
        following = []
        for name in frontier:
            for link in links:
                if link["parent"] == name and link["child"] not in depth:
                    depth[link["child"]] = depth[name] + 1
                    following.append(link["child"])
        frontier = following
    for name in tables:  # tables no relationship reaches sit apart, at the top level
        depth.setdefault(name, 0)
    return depth


def schema_diagram(
    tables: dict[str, dict[str, Any]],
    links: list[dict[str, Any]],
    scores: dict[str, str] | None = None,
) -> str:
    """Draw tables as boxes, parents left of their children, an arrow per foreign key.

    Args:
        tables: Table name to ``{"rows": {"real": n, "synthetic": m}}``.
        links: Relationships as dicts with ``parent``, ``child`` and ``child_key``.
        scores: Table name to a short score line printed in its box.

    Example:
        >>> page = schema_diagram({"patients": {"rows": {"real": 3}}, "labs": {"rows": {}}},
        ...                       [{"parent": "patients", "child": "labs", "child_key": "id"}])
        >>> page.startswith('<svg class="plot"'), page.count("<rect")
        (True, 2)
    """
    names = list(tables)
    depth = _depths(names, links)
    levels: dict[int, list[str]] = {}
    for name in names:
        levels.setdefault(depth[name], []).append(name)
    place = {
        name: (_MARGIN + level * (_BOX_W + _GAP_X), 30 + row * (_BOX_H + _GAP_Y))
        for level, members in levels.items()
        for row, name in enumerate(members)
    }
    width = _MARGIN * 2 + (max(levels) + 1) * (_BOX_W + _GAP_X) - _GAP_X
    height = 30 + max(len(m) for m in levels.values()) * (_BOX_H + _GAP_Y) + _MARGIN
    parts = svg._open(width, height, "schema", "Schema: parents left, arrows from each foreign key")
    parts.append(
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>'
    )
    seen: dict[tuple[str, str], int] = {}
    for link in links:
        (px, py), (cx, cy) = place[link["parent"]], place[link["child"]]
        pair = (link["parent"], link["child"])
        shift = 10 * seen.get(pair, 0)
        seen[pair] = seen.get(pair, 0) + 1
        if link["parent"] == link["child"]:
            continue
        x1, y1 = cx, cy + _BOX_H / 2 + shift
        x2, y2 = px + _BOX_W, py + _BOX_H / 2 + shift
        parts.append(
            f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#555" '
            'marker-end="url(#arrow)"/>'
            # Labels sit near the child's end, where arrows to different parents part.
            f'<text x="{0.75 * x1 + 0.25 * x2:.0f}" y="{0.75 * y1 + 0.25 * y2 - 3:.0f}" '
            'text-anchor="middle" '
            f'font-family="sans-serif" font-size="10">{escape(str(link["child_key"]))}</text>'
        )
    for name, (x, y) in place.items():
        rows = tables[name].get("rows", {})
        counts = [f"{side} {n:,}" for side, n in rows.items() if n is not None]
        lines = [name, ", ".join(counts[:2]), ", ".join(counts[2:]), (scores or {}).get(name, "")]
        parts.append(
            f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="4" fill="#f3f7fb" '
            f'stroke="{svg.REAL}"/>'
        )
        for i, text in enumerate(lines):
            weight = ' font-weight="bold"' if i == 0 else ""
            parts.append(
                f'<text x="{x + 8}" y="{y + 15 + 15 * i}" font-family="sans-serif" '
                f'font-size="11"{weight}>{escape(text)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _score_table(frame: Any, label: str) -> str:
    if frame.empty:
        return ""
    header = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        f"<tr><td>{escape(str(index))}</td>"
        + "".join(f"<td class='num'>{_number(float(v))}</td>" for v in row)
        + "</tr>"
        for index, row in zip(frame.index, frame.to_numpy(), strict=True)
    )
    return f"<table><tr><th>{escape(label)}</th>{header}</tr>{rows}</table>"


def schema_section(report: Report) -> str:
    """The records part of the HTML page: schema diagram, per-table and per-relationship scores.

    Empty for reports of tables and sequences.
    """
    meta = report.meta
    if meta.get("shape") != "records":
        return ""
    by_table = report.by_table()
    return _section(meta, by_table, report) + _per_table_plots(report)


def _per_table_plots(report: Report) -> str:
    """Each table's column distributions and pair-trend heatmap, as a table report draws them."""
    from synthkit.evaluation.html import _distributions, _pairs
    from synthkit.evaluation.report import Report as _Report

    parts = []
    for name in report.meta.get("tables", {}):
        results = {
            metric: MetricResult(
                result.details["per_table"][name], None, result.details["tables"][name]
            )
            for metric, result in report.results.items()
            if metric in ("column_shapes", "column_pair_trends")
            and name in result.details.get("tables", {})
        }
        if not results:
            continue
        single = _Report(results, {})
        drawn = _distributions(single) + _pairs(single)
        parts.append(drawn.replace("<h2>", f"<h2>Table {escape(name)}: ", 2))
    return "".join(parts)


def _section(meta: dict[str, Any], by_table: Any, report: Report) -> str:
    short = {}
    for name in meta.get("tables", {}):
        if name in by_table.index and "column_shapes" in by_table.columns:
            short[name] = f"column shapes {_number(float(by_table.loc[name, 'column_shapes']))}"
    diagram = schema_diagram(meta.get("tables", {}), meta.get("relationships", []), short)
    unit = f"Privacy unit: {meta.get('privacy_unit', meta.get('unit', ''))}."
    return (
        "<h2>Schema: tables and relationships</h2>"
        + diagram
        + f'<p class="note">{escape(unit)}</p>'
        + "<h3>Scores per table</h3>"
        + _score_table(by_table, "table")
        + "<h3>Scores per relationship (child foreign key -> parent)</h3>"
        + _score_table(report.by_relationship(), "relationship")
    )
