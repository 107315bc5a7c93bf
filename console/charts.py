"""Charts as server-rendered SVG: readable without JavaScript, escaped like every page, sized in
the viewBox so they scale with the page. Each has a text alternative (role=img, aria-label,
and a <title>) listing its numbers, for screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 600, 220
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 40, 40, 16


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    tone: str = "ok"  # a CSS class: ok, bad, wait, idle


def bars(title: str, data: Sequence[Bar], unit: str = "") -> Markup:
    """A bar chart of `data`, left to right."""
    summary = ", ".join(f"{b.label}: {b.value:g}{unit}" for b in data) or "no data"
    top = max((b.value for b in data), default=0) or 1
    plot_w = WIDTH - MARGIN_LEFT - 8
    plot_h = HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    step = plot_w / max(len(data), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-label="{escape(title)}: {escape(summary)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP + plot_h}"'
        f' x2="{WIDTH - 8}" y2="{MARGIN_TOP + plot_h}"/>',
        f'<text class="tick" x="{MARGIN_LEFT - 4}" y="{MARGIN_TOP + 4}" text-anchor="end">'
        f"{top:g}</text>",
        f'<text class="tick" x="{MARGIN_LEFT - 4}" y="{MARGIN_TOP + plot_h}" text-anchor="end">'
        "0</text>",
    ]
    every = max(1, len(data) // 12)  # at most ~12 labels under the axis
    for i, bar in enumerate(data):
        h = plot_h * bar.value / top
        x = MARGIN_LEFT + i * step + step * 0.1
        y = MARGIN_TOP + plot_h - h
        parts.append(
            f'<rect class="bar {escape(bar.tone)}" x="{x:.1f}" y="{y:.1f}"'
            f' width="{step * 0.8:.1f}" height="{h:.1f}">'
            f"<title>{escape(bar.label)}: {bar.value:g}{escape(unit)}</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{x + step * 0.4:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}"'
                f' text-anchor="middle">{escape(bar.label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
