"""Schedules fired by the reaper on the test clock: a 02:30 Europe/Berlin daily schedule across
both DST changes fires once per day at the stated instants; two reapers at once submit one task
per slot; a restarted reaper fires nothing twice; the catch-up policies; a paused schedule fires
nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db import schedule
from db.connect import Pool, connect
from reaper.reaper import Reaper, ReaperConfig
from tests.support.queue import count

BERLIN = "Europe/Berlin"
TENANT = "default"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


async def at(conn: AsyncConnection[DictRow], when: datetime) -> None:
    """Move this session's outlast_now() (a test database honours `outlast.now`)."""
    await conn.execute("SELECT set_config('outlast.now', %s, false)", (when.isoformat(),))


async def make(
    pool: Pool,
    first: datetime,
    *,
    name: str = "nightly",
    cron: str = "30 2 * * *",
    catch_up: str = "latest",
) -> None:
    new = schedule.NewSchedule(
        name=name,
        cron=cron,
        timezone=BERLIN,
        catch_up=catch_up,
        graph="pipeline",
        agent=None,
        agent_version=None,
        input={"n": 1},
        max_attempts=3,
        next_run_at=first,
    )
    await schedule.insert(pool, new, tenant=TENANT, created_by="test")


async def slot_times(pool: Pool, name: str = "nightly") -> list[datetime]:
    rows = await schedule.tasks(pool, name, tenant=TENANT, limit=1000)
    return sorted(row["slot_at"] for row in rows)


@pytest.fixture
async def conns(db_url: str) -> AsyncIterator[tuple[AsyncConnection[DictRow], ...]]:
    first, second = await connect(db_url), await connect(db_url)
    async with first, second:
        yield first, second


async def test_daily_slot_across_both_dst_changes(
    pool: Pool, conns: tuple[AsyncConnection[DictRow], ...]
) -> None:
    conn = conns[0]
    reaper = Reaper(conn, ReaperConfig())
    fired: list[datetime] = []
    for name, days in (
        # 29 March: 02:30 does not exist; it fires at 03:30 CEST, the same instant as 02:30 CET.
        ("spring", [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]),
        # 25 October: 02:30 happens twice; it fires once, at the first (CEST).
        ("autumn", [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]),
    ):
        await make(pool, days[0], name=name)
        for slot in days:
            await at(conn, slot - timedelta(minutes=1))
            assert (await reaper.run_once()).schedules_fired == 0  # not yet
            await at(conn, slot + timedelta(seconds=5))
            assert (await reaper.run_once()).schedules_fired == 1
            assert (await reaper.run_once()).schedules_fired == 0  # once per slot
        # The hour after each slot (the repeated hour at fall back included) fires nothing.
        await at(conn, days[-1] + timedelta(minutes=90))
        assert (await reaper.run_once()).schedules_fired == 0
        assert await slot_times(pool, name) == days
        fired += days
        await schedule.pause(pool, name, tenant=TENANT)  # out of the next half's way
    tasks = await count(pool, "SELECT count(*) FROM tasks WHERE metadata ? 'schedule'")
    assert tasks == len(fired) == 6


async def test_two_reapers_at_once_submit_one_task_per_slot(
    pool: Pool, conns: tuple[AsyncConnection[DictRow], ...]
) -> None:
    await make(pool, utc(2026, 1, 1, 1, 30), cron="* * * * *", catch_up="all")
    reapers = [Reaper(conn, ReaperConfig()) for conn in conns]
    for minute in range(1, 6):
        for conn in conns:
            await at(conn, utc(2026, 1, 1, 1, 30 + minute))
        results = await asyncio.gather(*(r.run_once() for r in reapers))
        assert sum(r.schedules_fired for r in results) == (2 if minute == 1 else 1)
    # Both read the same due schedule before either fires: only one fire takes effect.
    for conn in conns:
        await at(conn, utc(2026, 1, 1, 1, 40))
    due = [await schedule.due(conn, batch=10) for conn in conns]
    assert [len(d) for d in due] == [1, 1]
    fired = await asyncio.gather(
        *(
            schedule.fire(
                conn,
                rows[0]["id"],
                expected=rows[0]["next_run_at"],
                slots=[rows[0]["next_run_at"]],
                next_run_at=utc(2026, 1, 1, 1, 41),
            )
            for conn, rows in zip(conns, due, strict=True)
        )
    )
    assert sorted(fired) == [0, 1]
    slots = await slot_times(pool)
    assert len(slots) == len(set(slots)) == 7  # 01:30 to 01:35, then 01:36
    tasks = await count(
        pool, "SELECT count(*) FROM tasks WHERE metadata ->> 'schedule' = 'nightly'"
    )
    assert tasks == 7


async def test_a_restarted_reaper_fires_no_slot_twice(pool: Pool, db_url: str) -> None:
    await make(pool, utc(2026, 1, 1, 1, 30))
    for _ in range(2):  # the second pass is a new process's: a new session and reaper
        conn = await connect(db_url)
        async with conn:
            await at(conn, utc(2026, 1, 1, 1, 30, 30))
            await Reaper(conn, ReaperConfig()).run_once()
    assert await slot_times(pool) == [utc(2026, 1, 1, 1, 30)]


@pytest.mark.parametrize(("policy", "fired"), [("all", 3), ("latest", 1), ("none", 0)])
async def test_missed_slots_by_catch_up_policy(
    pool: Pool, conns: tuple[AsyncConnection[DictRow], ...], policy: str, fired: int
) -> None:
    await make(pool, utc(2026, 1, 1, 1, 30), catch_up=policy)
    conn = conns[0]
    await at(conn, utc(2026, 1, 3, 3))  # three slots passed, the last 1.5 hours ago
    assert (await Reaper(conn, ReaperConfig()).run_once()).schedules_fired == fired
    row = await schedule.get(pool, "nightly", tenant=TENANT)
    assert row["next_run_at"] == utc(2026, 1, 4, 1, 30)  # missed slots are behind it for good


async def test_a_paused_schedule_fires_nothing_and_resumes_from_then(
    pool: Pool, conns: tuple[AsyncConnection[DictRow], ...]
) -> None:
    await make(pool, utc(2026, 1, 1, 1, 30), catch_up="all")
    await schedule.pause(pool, "nightly", tenant=TENANT)
    conn = conns[0]
    await at(conn, utc(2026, 1, 5))
    assert (await Reaper(conn, ReaperConfig()).run_once()).schedules_fired == 0
    await schedule.resume(pool, "nightly", tenant=TENANT, next_run_at=utc(2026, 1, 5, 1, 30))
    await at(conn, utc(2026, 1, 5, 1, 31))
    assert (await Reaper(conn, ReaperConfig()).run_once()).schedules_fired == 1
    assert await slot_times(pool) == [utc(2026, 1, 5, 1, 30)]
