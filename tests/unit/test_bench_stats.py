"""bench/stats.py: percentiles, rates and the per-node-boundary figure."""

from __future__ import annotations

import math

import pytest

from bench.stats import per_boundary_ms, percentile, rate


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 99) == pytest.approx(3.97)


def test_percentile_of_one_value_is_that_value() -> None:
    assert percentile([7.0], 50) == percentile([7.0], 99) == 7.0


@pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0], -1), ([1.0], 100.5)])
def test_percentile_refuses_nonsense(values: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, q)


def test_rate() -> None:
    assert rate(100, 2.0) == 50.0
    assert math.isnan(rate(5, 0.0))


def test_per_boundary_is_the_extra_time_per_node() -> None:
    # 100 one-node tasks/s (10 ms each), 10 ten-node tasks/s (100 ms each): 9 more boundaries
    # cost 90 ms, so 10 ms each.
    assert per_boundary_ms(100.0, 10.0, 9) == pytest.approx(10.0)
    with pytest.raises(ValueError):
        per_boundary_ms(100.0, 10.0, 0)
