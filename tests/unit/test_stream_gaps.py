"""A stream reads no further than the first gap in the event ids until the gap is old enough to
be a rolled-back insert (api/streams.py, ADR 0015)."""

from __future__ import annotations

from api.streams import Gaps


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_no_gap_reads_to_the_last_id() -> None:
    assert Gaps(3.0, Clock()).horizon(10, [11, 12, 13]) == 13


def test_nothing_after_the_offset_stays_put() -> None:
    assert Gaps(3.0, Clock()).horizon(10, []) == 10


def test_a_young_gap_holds_the_stream_before_it() -> None:
    clock = Clock()
    gaps = Gaps(3.0, clock)
    assert gaps.horizon(10, [11, 13, 14]) == 11  # 12 may still commit
    clock.now += 2.9
    assert gaps.horizon(11, [13, 14]) == 11
    clock.now += 0.2  # 3.1 s since first seen: 12 was rolled back
    assert gaps.horizon(11, [13, 14]) == 14


def test_a_gap_that_fills_is_read_in_order() -> None:
    clock = Clock()
    gaps = Gaps(3.0, clock)
    assert gaps.horizon(10, [12]) == 10
    clock.now += 1
    assert gaps.horizon(10, [11, 12]) == 12


def test_each_gap_has_its_own_age() -> None:
    clock = Clock()
    gaps = Gaps(3.0, clock)
    assert gaps.horizon(0, [2]) == 0
    clock.now += 3.5
    assert gaps.horizon(0, [2, 4]) == 2  # 1 is old; 3 was just seen
    clock.now += 3.5
    assert gaps.horizon(2, [4]) == 4
