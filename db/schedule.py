"""Cron schedules (db/queries/schedule.sql). The API makes, reads, pauses, resumes and deletes
a tenant's schedules; the reaper fires due slots (`due`, then `fire`) of every tenant. The cron
arithmetic is the caller's (outlast.cron): these statements take its slot times."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import Conflict, NotFound


@dataclass(frozen=True)
class NewSchedule:
    name: str
    cron: str
    timezone: str
    catch_up: str
    graph: str
    agent: str | None
    agent_version: int | None
    input: dict[str, Any]
    max_attempts: int
    next_run_at: datetime


async def clock(db: Db) -> datetime:
    """The database's now (outlast_now(): the test clock in tests)."""
    row = await fetch_one(db, "schedule_clock", {})
    assert row is not None  # noqa: S101 - a SELECT without FROM returns its one row
    now: datetime = row["now"]
    return now


async def insert(db: Db, new: NewSchedule, *, tenant: str, created_by: str) -> Row:
    """Make a schedule; Conflict when the tenant has one of that name."""
    params = {**vars(new), "input": Jsonb(new.input), "tenant": tenant, "created_by": created_by}
    row = await fetch_one(db, "schedule_insert", params)
    if row is None:
        raise Conflict(f"schedule {new.name} already exists")
    return row


async def get(db: Db, name: str, *, tenant: str) -> Row:
    row = await fetch_one(db, "schedule_get", {"tenant": tenant, "name": name})
    if row is None:
        raise NotFound("schedule", name)
    return row


async def list_(db: Db, *, tenant: str) -> list[Row]:
    return await fetch_all(db, "schedule_list", {"tenant": tenant})


async def tasks(db: Db, name: str, *, tenant: str, limit: int) -> list[Row]:
    """The slots the schedule fired and their tasks, newest first."""
    return await fetch_all(db, "schedule_tasks", {"tenant": tenant, "name": name, "limit": limit})


async def pause(db: Db, name: str, *, tenant: str) -> Row:
    """Pause; pausing a paused schedule returns it unchanged. NotFound if there is none."""
    row = await fetch_one(db, "schedule_pause", {"tenant": tenant, "name": name})
    return row if row is not None else await get(db, name, tenant=tenant)


async def resume(db: Db, name: str, *, tenant: str, next_run_at: datetime) -> Row:
    """Resume from `next_run_at`; resuming an active schedule returns it unchanged."""
    params = {"tenant": tenant, "name": name, "next_run_at": next_run_at}
    row = await fetch_one(db, "schedule_resume", params)
    return row if row is not None else await get(db, name, tenant=tenant)


async def delete(db: Db, name: str, *, tenant: str) -> None:
    if await fetch_one(db, "schedule_delete", {"tenant": tenant, "name": name}) is None:
        raise NotFound("schedule", name)


async def due(db: Db, *, batch: int) -> list[Row]:
    """Active schedules whose next slot has come, with the database's now (every tenant)."""
    return await fetch_all(db, "schedule_due", {"batch": batch})


async def fire(
    db: Db,
    schedule_id: uuid.UUID,
    *,
    expected: datetime,
    slots: list[datetime],
    next_run_at: datetime,
) -> int:
    """Submit one task per slot not fired yet and move the schedule to `next_run_at`, if its
    next slot is still `expected`; the number of tasks submitted (0 when another fire won)."""
    params = {
        "schedule_id": schedule_id,
        "expected": expected,
        "slots": slots,
        "next_run_at": next_run_at,
    }
    row = await fetch_one(db, "schedule_fire", params)
    return int(row["fired"]) if row is not None else 0
