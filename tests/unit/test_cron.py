"""Cron slots in a time zone (outlast.cron): a 02:30 daily schedule in Europe/Berlin across
spring forward (02:30 does not exist: it fires at the jump, 03:30 CEST) and fall back (02:30
happens twice: it fires once, at the first); the catch-up policies; what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outlast import cron

BERLIN = "Europe/Berlin"
DAILY = "30 2 * * *"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_spring_forward_fires_the_missing_wall_time_at_the_jump() -> None:
    runs = cron.next_runs(DAILY, BERLIN, utc(2026, 3, 27, 12), 4)
    assert runs == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 30),  # 02:30 does not exist: 03:30 CEST, the same instant
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
        utc(2026, 3, 31, 0, 30),
    ]


def test_fall_back_fires_the_repeated_wall_time_once() -> None:
    runs = cron.next_runs(DAILY, BERLIN, utc(2026, 10, 23, 12), 4)
    assert runs == [
        utc(2026, 10, 24, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST, the first of two; not 01:30Z (CET) too
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
        utc(2026, 10, 27, 1, 30),
    ]


def test_from_inside_the_repeated_hour_the_next_slot_is_the_next_day() -> None:
    # 01:00Z on 25 October is 02:00 CET, the second pass of 02:00-03:00: today's slot is gone.
    assert cron.next_runs(DAILY, BERLIN, utc(2026, 10, 25, 1), 1) == [utc(2026, 10, 26, 1, 30)]


def test_every_quarter_hour_through_the_skipped_hour_has_no_duplicates() -> None:
    runs = cron.next_runs("*/15 * * * *", BERLIN, utc(2026, 3, 29, 0, 50), 4)
    # 01:00Z is 03:00 CEST: 02:00-02:45 CET map onto 03:00-03:45, fired once each.
    assert runs == [utc(2026, 3, 29, 1, m) for m in (0, 15, 30, 45)]
    assert len(set(runs)) == len(runs)


def test_slots_are_strictly_after() -> None:
    slot = utc(2026, 3, 28, 1, 30)
    assert cron.next_runs(DAILY, BERLIN, slot, 1) == [utc(2026, 3, 29, 1, 30)]
    assert cron.next_runs(DAILY, BERLIN, slot - timedelta(microseconds=1), 1) == [slot]


@pytest.mark.parametrize(
    ("policy", "late_s", "expected"),
    [
        ("all", 10, [utc(2026, 1, d, 1, 30) for d in (1, 2, 3)]),
        ("latest", 10, [utc(2026, 1, 3, 1, 30)]),
        ("none", 10, [utc(2026, 1, 3, 1, 30)]),  # the latest slot is on time: it fires
        ("none", 3600, []),  # an hour late: missed, like the two before it
        ("latest", 3600, [utc(2026, 1, 3, 1, 30)]),
    ],
)
def test_catch_up_policies(policy: cron.CatchUp, late_s: int, expected: list[datetime]) -> None:
    now = utc(2026, 1, 3, 1, 30) + timedelta(seconds=late_s)
    fire, after = cron.due(DAILY, BERLIN, utc(2026, 1, 1, 1, 30), now, policy)
    assert fire == expected
    assert after == utc(2026, 1, 4, 1, 30)


def test_all_catches_up_at_most_the_cap() -> None:
    first = utc(2026, 1, 1)
    now = first + timedelta(minutes=cron.CATCH_UP_MAX + 50)
    fire, after = cron.due("* * * * *", "UTC", first, now, "all")
    assert len(fire) == cron.CATCH_UP_MAX and fire[-1] == now
    assert after == now + timedelta(minutes=1)


def test_nothing_due_before_the_first_slot() -> None:
    first = utc(2026, 1, 1, 1, 30)
    assert cron.due(DAILY, BERLIN, first, first - timedelta(seconds=1), "all") == ([], first)


@pytest.mark.parametrize("expression", ["", "* * * *", "* * * * * *", "61 * * * *", "@reboot"])
def test_bad_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="cron expression"):
        cron.check(expression)


def test_nicknames_are_read() -> None:
    cron.check("@daily")
    assert cron.next_runs("@daily", "UTC", utc(2026, 1, 1, 5), 1) == [utc(2026, 1, 2)]


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "Europe/"])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        cron.zone(name)
