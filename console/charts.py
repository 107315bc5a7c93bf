"""Charts as server-rendered SVG: readable without JavaScript, escaped like every page, sized in
the viewBox so they scale with the page. Each has a text alternative (role=img, aria-label,
and a <title>) listing its numbers, for screen readers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


SERIES_TONES = ("s0", "s1", "s2", "s3", "s4", "s5")  # CSS classes; a seventh series reuses s0


def stacked(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    unit: str,
    width: int = 2 * WIDTH,
) -> Markup:
    """Bars of `labels` (left to right), each a stack of `series` (name -> one value per label),
    with a legend. The text alternative lists each bar's total and its parts."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = max(totals, default=0) or 1
    plot_w = width - MARGIN_LEFT - 8
    plot_h = HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    step = plot_w / max(len(labels), 1)
    busy = [
        f"{label}: {total:g}{unit}" for label, total in zip(labels, totals, strict=True) if total
    ]
    summary = ", ".join(busy) or "nothing"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {HEIGHT + 24}" role="img"'
        f' aria-label="{escape(title)}: {escape(summary)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP + plot_h}"'
        f' x2="{width - 8}" y2="{MARGIN_TOP + plot_h}"/>',
        f'<text class="tick" x="{MARGIN_LEFT - 4}" y="{MARGIN_TOP + 4}" text-anchor="end">'
        f"{top:g}{escape(unit)}</text>",
    ]
    every = max(1, len(labels) // 12)
    for i, label in enumerate(labels):
        x, base = MARGIN_LEFT + i * step + step * 0.1, float(MARGIN_TOP + plot_h)
        for n, (name, values) in enumerate(series.items()):
            h = plot_h * values[i] / top
            if h <= 0:
                continue
            base -= h
            tone = SERIES_TONES[n % len(SERIES_TONES)]
            parts.append(
                f'<rect class="bar {tone}" x="{x:.1f}" y="{base:.1f}" width="{step * 0.8:.1f}"'
                f' height="{h:.1f}"><title>{escape(label)} {escape(name)}: {values[i]:g}'
                f"{escape(unit)}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{x + step * 0.4:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}"'
                f' text-anchor="middle">{escape(label)}</text>'
            )
    for n, name in enumerate(series):
        x = MARGIN_LEFT + n * 110
        tone = SERIES_TONES[n % len(SERIES_TONES)]
        parts.append(
            f'<rect class="bar {tone}" x="{x}" y="{HEIGHT + 6}" width="10" height="10"/>'
            f'<text class="tick" x="{x + 14}" y="{HEIGHT + 15}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
