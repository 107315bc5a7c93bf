"""The cost chart (console.charts.stacked): one stack per hour, a legend per agent, every name
escaped, and a text alternative with each busy hour's total."""

from __future__ import annotations

from console.charts import stacked


def test_stacks_escape_and_describe() -> None:
    svg = str(
        stacked(
            "Cost",
            ["10:00", "11:00", "12:00"],
            {"<script>alert(1)</script>": [0.5, 0.0, 1.0], "writer": [0.25, 0.0, 0.0]},
            "$",
        )
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="Cost: 10:00: 0.75$, 12:00: 1$"' in svg
    assert svg.count('<rect class="bar s0"') == 2 + 1  # two bars and the legend
    assert svg.count('<rect class="bar s1"') == 1 + 1


def test_no_calls_is_an_empty_chart() -> None:
    svg = str(stacked("Cost", ["10:00"], {}, "$"))
    assert 'aria-label="Cost: nothing"' in svg
    assert "<rect" not in svg
