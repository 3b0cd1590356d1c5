"""Render a Report as one self-contained HTML page (inline CSS and SVG, no network)."""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any

from synthkit.evaluation import svg
from synthkit.evaluation.record_html import schema_section

if TYPE_CHECKING:
    from synthkit.evaluation.report import Report

__all__ = ["render"]

_STYLE = """
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; } .note { color: #555; font-size: 13px; }
"""

# Counts the plots the browser actually laid out, so a headless check can read it from the DOM.
_SCRIPT = """
document.addEventListener("DOMContentLoaded", function () {
  var plots = Array.prototype.slice.call(document.querySelectorAll("svg.plot"));
  var drawn = plots.filter(function (p) { var b = p.getBoundingClientRect();
    return b.width > 0 && b.height > 0 && p.querySelectorAll("rect,circle,polyline").length > 0; });
  document.body.setAttribute("data-rendered-plots", String(drawn.length));
});
"""

_ARROWS = {"higher": "higher is better", "lower": "lower is better", "reference": "baseline"}


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return escape(str(value))


def _direction(direction: Any) -> str:
    return _ARROWS.get(direction, f"best at {direction}") if direction is not None else ""


def _scorecard(report: Report) -> str:
    rows = []
    for category in ("fidelity", "privacy", "utility"):
        for name, result in report.results.items():
            info = report.info.get(name, {})
            if info.get("category") != category:
                continue
            interval = (
                f"[{result.interval[0]:.3f}, {result.interval[1]:.3f}]" if result.interval else ""
            )
            rows.append(
                f"<tr><td>{escape(category)}</td><td><b>{escape(name)}</b></td>"
                f'<td class="num">{_number(result.value)}</td><td>{interval}</td>'
                f"<td>{escape(_direction(info.get('direction')))}</td>"
                f"<td>{escape(str(info.get('explanation', '')))}</td></tr>"
            )
    skipped = "".join(
        f"<li><b>{escape(name)}</b>: {escape(reason)}</li>"
        for name, reason in report.skipped.items()
    )
    table = (
        "<table><tr><th>category</th><th>metric</th><th>score</th><th>95 % interval</th>"
        "<th>direction</th><th>meaning</th></tr>" + "".join(rows) + "</table>"
    )
    if skipped:
        table += f'<p class="note">Not computed:</p><ul class="note">{skipped}</ul>'
    return "<h2>Scorecard</h2>" + table


def _setup(report: Report) -> str:
    meta = report.meta
    rows = meta.get("rows", {})
    items = [
        f"Rows: real {rows.get('real')}, synthetic {rows.get('synthetic')}, "
        f"holdout {rows.get('holdout') if rows.get('holdout') is not None else 'none'}.",
        f"Scored columns: {', '.join(map(str, meta.get('scored_columns', [])))}.",
    ]
    if meta.get("shape") == "sequences":
        entities = meta.get("entities", {})
        items.append(
            f"Sequences keyed by {meta.get('sequence_key')} and ordered by "
            f"{meta.get('sequence_index') or 'row'}: entities real {entities.get('real')}, "
            f"synthetic {entities.get('synthetic')}, holdout {entities.get('holdout') or 'none'}; "
            f"privacy unit: {meta.get('unit')} (all its events, one feature vector)."
        )
    excluded = meta.get("excluded_columns") or {}
    if excluded:
        listed = ", ".join(f"{c} ({k})" for c, k in excluded.items())
        items.append(f"Not scored (kinds id, pii, text): {listed}.")
    for purpose, size in (meta.get("sampling") or {}).items():
        items.append(f"Subsampled for {purpose}: {size}.")
    if meta.get("target"):
        items.append(f"Utility target: {meta['target']}.")
    return '<ul class="note">' + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"


def _distributions(report: Report) -> str:
    details = report.details.get("column_shapes")
    if not details:
        return ""
    charts = []
    scores = details.get("columns", {})
    for column, dist in details.get("distributions", {}).items():
        if dist["type"] == "categorical":
            chart = svg.bar_chart(column, dist["labels"], dist["real"], dist["synthetic"])
        else:
            chart = svg.histogram(column, dist["edges"], dist["real"], dist["synthetic"])
        score = scores.get(column, {})
        caption = f"{score.get('metric', '')} {_number(score.get('score'))}"
        charts.append(
            f"<figure>{chart}<figcaption class='note'>{escape(caption)}</figcaption></figure>"
        )
    return (
        "<h2>Column distributions: real against synthetic</h2><div class='grid'>"
        + "".join(charts)
        + "</div>"
    )


def _histories(report: Report) -> str:
    """Sequences only: lengths and gaps real against synthetic, coherence per column."""
    charts = []
    for name, label in (
        ("length_similarity", "events per entity"),
        ("gap_similarity", "gap between consecutive events"),
    ):
        result = report.results.get(name)
        if result is None or not result.details.get("distribution", {}).get("edges"):
            continue
        dist = result.details["distribution"]
        chart = svg.histogram(label, dist["edges"], dist["real"], dist["synthetic"])
        charts.append(
            f"<figure>{chart}<figcaption class='note'>{escape(name)} "
            f"{_number(result.value)}</figcaption></figure>"
        )
    coherence = report.results.get("coherence")
    table = ""
    # Records report coherence per relationship (the schema section shows it).
    if coherence is not None and "transitions" in coherence.details:
        d = coherence.details
        rows = "".join(
            f"<tr><td>{escape(str(column))}</td><td class='num'>{_number(score)}</td>"
            f"<td class='num'>{_number(d['distinct_categories'].get(column))}</td></tr>"
            for column, score in d["transitions"].items()
        )
        table = (
            "<table><tr><th>event column</th><th>previous/next pairs (1 - TVD)</th>"
            "<th>distinct categories per entity (1 - KS)</th></tr>" + rows + "</table>"
        )
    if not charts and not table:
        return ""
    return (
        "<h2>Histories: real against synthetic entities</h2><div class='grid'>"
        + "".join(charts)
        + "</div>"
        + table
    )


def _pairs(report: Report) -> str:
    details = report.details.get("column_pair_trends")
    if not details:
        return ""
    pairs = details.get("pairs", [])
    columns: list[str] = []
    for pair in pairs:
        for column in (pair["column_1"], pair["column_2"]):
            if column not in columns:
                columns.append(column)
    cells = {
        (p["column_1"], p["column_2"]): (
            float("nan") if p["score"] is None else 1.0 - float(p["score"])
        )
        for p in pairs
    }
    worst = sorted(
        (p for p in pairs if p["score"] is not None and not math.isnan(p["score"])),
        key=lambda p: p["score"],
    )[:10]
    table = "".join(
        f"<tr><td>{escape(p['column_1'])}</td><td>{escape(p['column_2'])}</td>"
        f"<td>{escape(p['metric'])}</td><td class='num'>{_number(p['score'])}</td>"
        f"<td class='num'>{_number(p.get('real_correlation'))}</td>"
        f"<td class='num'>{_number(p.get('synthetic_correlation'))}</td></tr>"
        for p in worst
    )
    return (
        "<h2>Pairwise trends</h2>"
        + svg.heatmap("pair-trend-heatmap", columns, cells)
        + "<p class='note'>The ten pairs that differ most:</p><table><tr><th>column 1</th>"
        "<th>column 2</th><th>metric</th><th>score</th><th>real r</th><th>synthetic r</th></tr>"
        + table
        + "</table>"
    )


def _faithfulness(report: Report) -> str:
    curves = {}
    for name, label in (("alpha_precision", "alpha-precision"), ("beta_recall", "beta-recall")):
        details = report.details.get(name)
        if details and "curve" in details:
            curves[label] = details["curve"]
            alphas = details["alphas"]
    if not curves:
        return ""
    return "<h2>Sample-level fidelity</h2>" + svg.curve_chart("alpha-beta-curves", alphas, curves)


def _privacy(report: Report) -> str:
    parts = []
    risks = []
    for name, label in (
        ("singling_out_risk", "singling out"),
        ("linkability_risk", "linkability"),
        ("inference_risk", "inference (worst column)"),
    ):
        result = report.results.get(name)
        if result is not None:
            low, high = result.interval or (result.value, result.value)
            risks.append((label, result.value, low, high))
    if risks:
        parts.append(svg.interval_chart("privacy-risks", risks))
    rows = []
    for name, result in report.results.items():
        info = report.info.get(name, {})
        if info.get("category") != "privacy":
            continue
        d = result.details
        context = ""
        if name == "dcr_share":
            context = (
                f"median DCR to train {_number(d['dcr_synthetic_to_train']['median'])}, "
                f"to holdout {_number(d['dcr_synthetic_to_holdout']['median'])}; "
                f"holdout rows to train {_number(d['dcr_holdout_to_train']['median'])}"
            )
        elif name == "nndr":
            context = f"holdout baseline {_number(d['holdout_nndr'])}"
        elif name.startswith("mia_"):
            context = f"strongest attack: {d['strongest_attack']}"
        elif name in ("exact_match_rate", "entity_copy_rate") and "holdout_rate" in d:
            context = f"holdout rows: {_number(d['holdout_rate'])}"
        elif "attack_rate" in d:
            context = (
                f"attack {_number(d['attack_rate'])}, control {_number(d['control_rate'])}, "
                f"baseline {_number(d['baseline_rate'])}"
            )
        elif "worst_column" in d:
            context = f"worst column: {d['worst_column']}"
        rows.append(
            f"<tr><td>{escape(name)}</td><td class='num'>{_number(result.value)}</td>"
            f"<td>{escape(context)}</td></tr>"
        )
    if rows:
        parts.append(
            "<table><tr><th>metric</th><th>score</th><th>context</th></tr>"
            + "".join(rows)
            + "</table>"
        )
    return "<h2>Privacy</h2>" + "".join(parts) if parts else ""


def _utility(report: Report) -> str:
    rows = []
    for name, result in report.results.items():
        if report.info.get(name, {}).get("category") != "utility":
            continue
        grid = result.details.get("grid")
        if grid:
            cells = "".join(
                f"<td class='num'>{_number(regimes.get('tstr'))}</td>"
                f"<td class='num'>{_number(regimes.get('trtr'))}</td>"
                for regimes in grid.values()
            )
            header_models = list(grid)
            rows.append(f"<tr><td>{escape(name.split('_', 1)[1])}</td>{cells}</tr>")
    if not rows:
        return ""
    rows = list(dict.fromkeys(rows))
    header = "".join(f"<th colspan='2'>{escape(m)}</th>" for m in header_models)
    sub = "".join("<th>TSTR</th><th>TRTR</th>" for _ in header_models)
    table = (
        f"<table><tr><th rowspan='2'>score</th>{header}</tr><tr>{sub}</tr>"
        + "".join(rows)
        + "</table>"
    )
    augmentation = report.details.get("augmentation_auc")
    note = ""
    if augmentation:
        note = (
            "<p class='note'>Augmentation: adding "
            f"{augmentation['synthetic_rows_added']} synthetic "
            f"rows of class {escape(str(augmentation['class']))} gives ROC AUC "
            f"{_number(augmentation['roc_auc'])} against "
            f"{_number(augmentation['real_only_roc_auc'])} "
            "with real rows only.</p>"
        )
    return "<h2>Utility (train on synthetic / real, test on holdout)</h2>" + table + note


def render(report: Report) -> str:
    """Return the report as an HTML page."""
    body = (
        "<h1>Synthetic data evaluation</h1>"
        + _setup(report)
        + _scorecard(report)
        + schema_section(report)
        + _distributions(report)
        + _histories(report)
        + _pairs(report)
        + _faithfulness(report)
        + _privacy(report)
        + _utility(report)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>synthkit evaluation report</title>"
        f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head>"
        f"<body>{body}</body></html>"
    )
