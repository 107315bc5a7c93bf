"""Cron slots in a time zone: when a schedule fires (docs/howto/schedules.md).

A cron expression names wall-clock times in the schedule's IANA time zone; a slot is the UTC
instant of one of them. Daylight saving makes two cases, settled here once:

- A wall time that does not exist (the hour skipped at spring forward: 02:30 in Europe/Berlin on
  the last Sunday of March) fires at the instant the clock jumps past it, i.e. as if read with
  the offset before the change (02:30 CET = 03:30 CEST). Its slot is still one slot.
- A wall time that happens twice (the hour repeated at fall back) fires once, at its first
  occurrence (the offset before the change).

Two wall times that land on one instant are one slot. croniter reads the expression; it runs on
naive wall times, so its own handling of zones plays no part.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

CatchUp = Literal["latest", "all", "none"]
CATCH_UP_POLICIES: tuple[CatchUp, ...] = ("latest", "all", "none")
# `all` fires at most this many missed slots in one pass (the most recent ones).
CATCH_UP_MAX = 100
# A slot this late or less is on time, not missed (the reaper wakes every few seconds).
ON_TIME_S = 60.0


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name, e.g. Europe/Berlin)") from exc


def check(expression: str) -> None:
    """ValueError unless `expression` is five cron fields (or a nickname such as @daily)."""
    fields = expression.split()
    nickname = len(fields) == 1 and fields[0].startswith("@") and fields[0] != "@reboot"
    if not (len(fields) == 5 or nickname) or not croniter.is_valid(expression):
        raise ValueError(f"not a five-field cron expression: {expression!r}")


def _instant(wall: datetime, tz: ZoneInfo) -> datetime:
    # fold=0: a repeated wall time's first occurrence; a skipped one read with the old offset.
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def slots_after(expression: str, tz_name: str, after: datetime) -> Iterator[datetime]:
    """The schedule's slots strictly after `after` (aware), rising, as UTC instants."""
    tz = zone(tz_name)
    # Start an hour early in wall time: a fall-back fold maps later wall times to earlier
    # instants, so the first slot past `after` may lie behind its wall time.
    wall = after.astimezone(tz).replace(tzinfo=None) - timedelta(hours=1)
    it = croniter(expression, wall)
    last = after
    while True:
        slot = _instant(it.get_next(datetime), tz)
        if slot > last:
            last = slot
            yield slot


def next_runs(expression: str, tz_name: str, after: datetime, count: int) -> list[datetime]:
    runs = slots_after(expression, tz_name, after)
    return [next(runs) for _ in range(count)]


def due(
    expression: str, tz_name: str, first: datetime, now: datetime, policy: CatchUp
) -> tuple[list[datetime], datetime]:
    """The slots to fire now, from the first unfired slot `first` up to `now`, and the next
    unfired slot after them. The latest due slot fires under every policy when it is on time
    (ON_TIME_S); older ones are missed: `latest` fires only the most recent due slot, `all`
    every missed one (the most recent CATCH_UP_MAX), `none` none of the missed."""
    due_slots: list[datetime] = []
    slot = first
    runs = slots_after(expression, tz_name, first)
    while slot <= now:
        due_slots.append(slot)
        del due_slots[: -CATCH_UP_MAX - 1]  # bounded memory for a schedule long unattended
        slot = next(runs)
    if not due_slots:
        return [], first
    latest = due_slots[-1]
    on_time = (now - latest).total_seconds() <= ON_TIME_S
    if policy == "all":
        fire = due_slots[-CATCH_UP_MAX:]
    elif policy == "latest":
        fire = [latest]
    else:
        fire = [latest] if on_time else []
    return fire, slot
