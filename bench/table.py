"""The one-page result: each figure beside what it is compared with (its ceiling or baseline,
measured in the same run), the ratio, the target, and whether the target is met. The verdict is
information: nothing here fails the run."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Op = Literal["<=", ">="]


@dataclass(frozen=True)
class Target:
    """A bound on the ratio (`on="ratio"`) or on the value itself (`on="value"`)."""

    op: Op
    bound: float
    on: Literal["ratio", "value"] = "ratio"
    unit: str = ""

    def text(self) -> str:
        sign = "≥" if self.op == ">=" else "≤"
        if self.on == "ratio":
            return f"{sign} {self.bound:g}x"
        return f"{sign} {fmt(self.bound, self.unit)}"

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        subject = ratio if self.on == "ratio" else value
        if subject is None or math.isnan(subject):
            return None
        return subject >= self.bound if self.op == ">=" else subject <= self.bound


@dataclass(frozen=True)
class Row:
    section: str
    figure: str
    value: float | None
    unit: str
    baseline: float | None = None
    target: Target | None = None
    note: str = ""  # shown after the table, keyed by its mark

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def verdict(self) -> str:
        if self.target is None:
            return ""
        met = self.target.met(self.value, self.ratio)
        return "n/a" if met is None else ("yes" if met else "NO")


def fmt(value: float | None, unit: str) -> str:
    """A value with its unit, at a precision that suits its size."""
    if value is None or math.isnan(value):
        return "—"
    if unit in ("/s", "tasks/s", "req/s"):
        text = f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


HEADER = ("#", "figure", "value", "baseline", "ratio", "target", "met")


def render(rows: list[Row]) -> str:
    """The table as fixed-width text, one line per row, notes numbered under it."""
    cells = [HEADER]
    notes: list[str] = []
    for row in rows:
        figure = row.figure
        if row.note:
            notes.append(row.note)
            figure += f" [{len(notes)}]"
        ratio = row.ratio
        cells.append(
            (
                row.section,
                figure,
                fmt(row.value, row.unit),
                fmt(row.baseline, row.unit) if row.baseline is not None else "",
                f"{ratio:.2f}x" if ratio is not None else "",
                row.target.text() if row.target else "",
                row.verdict(),
            )
        )
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    right = {2, 3, 4}
    lines = []
    for n, cell in enumerate(cells):
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cell, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    return "\n".join(lines)
