"""Small inline-SVG charts for the HTML report: histograms, bars, heatmaps, intervals, curves.

Every chart is an ``<svg class="plot">`` string with escaped text, so the report
needs no plotting library and no network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["bar_chart", "curve_chart", "heatmap", "histogram", "interval_chart"]

REAL = "#1f77b4"
SYNTHETIC = "#ff7f0e"
_FONT = 'font-family="sans-serif" font-size="11"'


def _open(width: int, height: int, name: str, title: str) -> list[str]:
    return [
        f'<svg class="plot" data-plot="{escape(name)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2:.0f}" y="14" text-anchor="middle" {_FONT} font-weight="bold">'
        f"{escape(title)}</text>",
    ]


def _legend(x: float, y: float) -> str:
    return (
        f'<rect x="{x}" y="{y}" width="10" height="10" fill="{REAL}" fill-opacity="0.6"/>'
        f'<text x="{x + 14}" y="{y + 9}" {_FONT}>real</text>'
        f'<rect x="{x + 50}" y="{y}" width="10" height="10" fill="{SYNTHETIC}" fill-opacity="0.6"/>'
        f'<text x="{x + 64}" y="{y + 9}" {_FONT}>synthetic</text>'
    )


def _label(value: float) -> str:
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.2e}"


def histogram(
    name: str, edges: Sequence[float], real: Sequence[float], synthetic: Sequence[float]
) -> str:
    """Overlaid histograms of one number column (shares per bin).

    Example:
        >>> histogram("age", [0, 1, 2], [0.5, 0.5], [0.4, 0.6]).startswith('<svg class="plot"')
        True
    """
    width, height, left, bottom, top = 360, 200, 40, 30, 24
    parts = _open(width, height, f"distribution:{name}", name)
    if not edges:
        parts.append(f'<text x="20" y="60" {_FONT}>no values</text></svg>')
        return "".join(parts)
    peak = max(max(real, default=0), max(synthetic, default=0)) or 1.0
    plot_w, plot_h = width - left - 10, height - bottom - top
    bar_w = plot_w / len(real)
    for shares, color in ((real, REAL), (synthetic, SYNTHETIC)):
        for i, share in enumerate(shares):
            h = plot_h * share / peak
            parts.append(
                f'<rect x="{left + i * bar_w:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{max(bar_w - 0.5, 0.5):.1f}" height="{h:.1f}" fill="{color}" '
                'fill-opacity="0.45"/>'
            )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#333"/>'
        f'<text x="{left}" y="{height - 14}" {_FONT}>{escape(_label(edges[0]))}</text>'
        f'<text x="{left + plot_w}" y="{height - 14}" text-anchor="end" {_FONT}>'
        f"{escape(_label(edges[-1]))}</text>"
        f'<text x="4" y="{top + 8}" {_FONT}>{peak:.0%}</text>'
        + _legend(left + plot_w / 2 - 50, height - 12)
        + "</svg>"
    )
    return "".join(parts)


def bar_chart(
    name: str, labels: Sequence[str], real: Sequence[float], synthetic: Sequence[float]
) -> str:
    """Side-by-side horizontal bars of category shares, real against synthetic.

    Example:
        >>> "synthetic" in bar_chart("sex", ["F", "M"], [0.3, 0.7], [0.35, 0.65])
        True
    """
    row, left, top = 18, 130, 24
    width, height = 360, top + row * len(labels) + 28
    parts = _open(width, height, f"distribution:{name}", name)
    peak = max(max(real, default=0), max(synthetic, default=0)) or 1.0
    plot_w = width - left - 40
    for i, label in enumerate(labels):
        y = top + i * row
        text = label if len(label) <= 20 else label[:19] + "…"
        parts.append(
            f'<text x="{left - 4}" y="{y + 12}" text-anchor="end" {_FONT}>{escape(text)}</text>'
        )
        for offset, (share, color) in enumerate(((real[i], REAL), (synthetic[i], SYNTHETIC))):
            parts.append(
                f'<rect x="{left}" y="{y + 1 + offset * 8}" width="{plot_w * share / peak:.1f}" '
                f'height="7" fill="{color}" fill-opacity="0.8"/>'
            )
        parts.append(f'<text x="{left + plot_w + 4}" y="{y + 12}" {_FONT}>{real[i]:.1%}</text>')
    parts.append(_legend(left, height - 14) + "</svg>")
    return "".join(parts)


def heatmap(name: str, columns: Sequence[str], cells: dict[tuple[str, str], float]) -> str:
    """A lower-triangle heatmap of per-pair differences (0 white, 0.5 or more dark red).

    Example:
        >>> heatmap("pairs", ["a", "b"], {("a", "b"): 0.1}).count("<rect")
        1
    """
    n = len(columns)
    cell, left, top = max(10, min(28, 420 // max(n, 1))), 120, 24
    width, height = left + cell * n + 20, top + cell * n + 110
    parts = _open(width, height, name, "Pairwise trend difference (1 - pair score)")
    for i, first in enumerate(columns):
        label = first if len(first) <= 18 else first[:17] + "…"
        parts.append(
            f'<text x="{left - 4}" y="{top + i * cell + cell * 0.7:.1f}" text-anchor="end" '
            f"{_FONT}>{escape(label)}</text>"
        )
        x = left + i * cell + cell / 2
        y = top + n * cell + 6
        parts.append(
            f'<text x="{x:.1f}" y="{y}" transform="rotate(60 {x:.1f} {y})" {_FONT}>'
            f"{escape(label)}</text>"
        )
        for j, second in enumerate(columns[:i]):
            value = cells.get((second, first), cells.get((first, second)))
            if value is None or math.isnan(value):
                fill = "#dddddd"
                shown = "n/a"
            else:
                strength = min(1.0, max(0.0, value / 0.5))
                fill = f"rgb(255,{255 - int(200 * strength)},{255 - int(230 * strength)})"
                shown = f"{value:.3f}"
            parts.append(
                f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell - 1}" '
                f'height="{cell - 1}" fill="{fill}"><title>{escape(first)} x {escape(second)}: '
                f"{shown}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def interval_chart(name: str, items: Sequence[tuple[str, float, float, float]]) -> str:
    """Points with error bars on a 0-1 axis: ``(label, value, low, high)`` per row.

    Example:
        >>> interval_chart("risks", [("singling out", 0.1, 0.0, 0.2)]).count("<circle")
        1
    """
    row, left, top = 26, 150, 24
    width, height = 480, top + row * len(items) + 30
    plot_w = width - left - 20
    parts = _open(width, height, name, "Privacy risks (95 % intervals)")
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + plot_w * tick
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 24}" stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" {_FONT}>{tick:g}</text>'
        )
    for i, (label, value, low, high) in enumerate(items):
        y = top + i * row + row / 2
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{escape(label)}</text>'
        )
        if any(math.isnan(v) for v in (value, low, high)):
            continue
        parts.append(
            f'<line x1="{left + plot_w * low:.1f}" y1="{y:.1f}" x2="{left + plot_w * high:.1f}" '
            f'y2="{y:.1f}" stroke="#333" stroke-width="2"/>'
            f'<circle cx="{left + plot_w * value:.1f}" cy="{y:.1f}" r="4" fill="#d62728">'
            f"<title>{escape(label)}: {value:.3f} [{low:.3f}, {high:.3f}]</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def curve_chart(name: str, x: Sequence[float], curves: dict[str, Sequence[float]]) -> str:
    """Lines on the unit square with the diagonal, e.g. alpha-precision and beta-recall curves.

    Example:
        >>> curve_chart("ab", [0, 1], {"precision": [0, 1]}).count("<polyline")
        2
    """
    size, pad = 220, 30
    parts = _open(
        size + 2 * pad + 90, size + 2 * pad, name, "alpha-precision and beta-recall curves"
    )
    colors = ("#2ca02c", "#9467bd", "#8c564b")

    def points(ys: Sequence[float]) -> str:
        return " ".join(
            f"{pad + size * a:.1f},{pad + size * (1 - b):.1f}" for a, b in zip(x, ys, strict=True)
        )

    parts.append(
        f'<rect x="{pad}" y="{pad}" width="{size}" height="{size}" fill="none" stroke="#999"/>'
        f'<polyline points="{points(x)}" fill="none" stroke="#999" stroke-dasharray="4 3"/>'
    )
    for i, (label, ys) in enumerate(curves.items()):
        color = colors[i % len(colors)]
        parts.append(
            f'<polyline points="{points(ys)}" fill="none" stroke="{color}" stroke-width="2"/>'
            f'<text x="{pad + size + 8}" y="{pad + 14 + 16 * i}" fill="{color}" {_FONT}>'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
