"""bench/table.py: the one-page table; verdicts are information, never a failure."""

from __future__ import annotations

import math

from bench.table import Row, Target, fmt, render


def test_ratio_is_value_over_baseline() -> None:
    assert Row("2", "x", 80.0, "tasks/s", baseline=100.0).ratio == 0.8
    assert Row("2", "x", 80.0, "tasks/s").ratio is None
    assert Row("2", "x", None, "tasks/s", baseline=100.0).ratio is None
    assert Row("2", "x", 5.0, "ms", baseline=0.0).ratio is None


def test_verdicts() -> None:
    at_least = Target(">=", 0.8)
    assert Row("2", "x", 80.0, "/s", baseline=100.0, target=at_least).verdict() == "yes"
    assert Row("2", "x", 79.0, "/s", baseline=100.0, target=at_least).verdict() == "NO"
    assert Row("2", "x", 79.0, "/s", target=at_least).verdict() == "n/a"
    at_most = Target("<=", 10, on="value", unit="ms")
    assert Row("4", "p50", 9.9, "ms", target=at_most).verdict() == "yes"
    assert Row("4", "p50", 10.1, "ms", target=at_most).verdict() == "NO"
    assert Row("4", "p50", math.nan, "ms", target=at_most).verdict() == "n/a"
    assert Row("1", "ceiling", 5.0, "ms").verdict() == ""


def test_target_text() -> None:
    assert Target(">=", 0.8).text() == "≥ 0.8x"
    assert Target("<=", 1.25).text() == "≤ 1.25x"
    assert Target("<=", 50, on="value", unit="ms").text() == "≤ 50.0 ms"


def test_fmt_picks_a_precision_by_size() -> None:
    assert fmt(12345.6, "tasks/s") == "12,346 tasks/s"
    assert fmt(42.25, "tasks/s") == "42.2 tasks/s"
    assert fmt(3.14159, "ms") == "3.14 ms"
    assert fmt(31.4159, "ms") == "31.4 ms"
    assert fmt(1234.5, "MiB") == "1,234 MiB"
    assert fmt(None, "ms") == "—"
    assert fmt(math.nan, "ms") == "—"


def test_render_aligns_columns_and_numbers_notes() -> None:
    rows = [
        Row("1", "ceiling A", 1000.0, "tasks/s", note="plain SQL"),
        Row(
            "2",
            "queue core",
            900.0,
            "tasks/s",
            baseline=1000.0,
            target=Target(">=", 0.8),
            note="no-op graph",
        ),
        Row("6", "section: not measured (RuntimeError: boom)", None, ""),
    ]
    lines = render(rows).splitlines()
    assert lines[0].split() == ["#", "figure", "value", "baseline", "ratio", "target", "met"]
    assert set(lines[1]) <= {"-", " "}
    assert "ceiling A [1]" in lines[2]
    assert "queue core [2]" in lines[3] and "0.90x" in lines[3] and lines[3].endswith("yes")
    assert "—" in lines[4]
    assert lines[-2:] == ["[1] plain SQL", "[2] no-op graph"]
    widths = {len(line) for line in lines[:4]}
    assert len(widths) <= 2  # header and rows share column positions (trailing blanks trimmed)
