"""Cron schedules (db/queries/schedule.sql). The API makes, reads, pauses, resumes and deletes
a tenant's schedules; the reaper fires due slots (`due`, then `fire`) of every tenant. The cron
arithmetic is the caller's (outlast.cron): these statements take its slot times."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
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
    # A LangGraph cron's (ADR 0029): the thread its tasks go on, their metadata, the cron body
    # as given, the last slot's bound, and whether it starts paused (`enabled=False`).
    id: uuid.UUID | None = None  # None: a new one
    thread_id: uuid.UUID | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] | None = None
    end_time: datetime | None = None
    paused: bool = False


@dataclass(frozen=True)
class CronChange:
    """A LangGraph cron update merged into the row read (`expected`: its `updated_at`)."""

    cron: str
    timezone: str
    input: dict[str, Any]
    metadata: dict[str, Any]
    payload: dict[str, Any] | None
    end_time: datetime | None
    next_run_at: datetime
    enabled: bool
    expected: datetime


def _params(fields: NewSchedule | CronChange) -> dict[str, Any]:
    """The dataclass's fields as statement parameters, its JSON ones adapted."""
    payload = None if fields.payload is None else Jsonb(fields.payload)
    return {
        **vars(fields),
        "input": Jsonb(fields.input),
        "metadata": Jsonb(fields.metadata),
        "payload": payload,
    }


async def clock(db: Db) -> datetime:
    """The database's now (outlast_now(): the test clock in tests)."""
    row = await fetch_one(db, "schedule_clock", {})
    assert row is not None  # noqa: S101 - a SELECT without FROM returns its one row
    now: datetime = row["now"]
    return now


async def insert(db: Db, new: NewSchedule, *, tenant: str, created_by: str) -> Row:
    """Make a schedule; Conflict when the tenant has one of that name (or, after the caller
    checked the thread, the thread stopped being the tenant's)."""
    params = {**_params(new), "tenant": tenant, "created_by": created_by}
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


async def search(
    db: Db,
    *,
    tenant: str,
    assistant_id: str | None = None,
    thread_id: uuid.UUID | None = None,
    enabled: bool | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[Row]:
    """The tenant's schedules matching a LangGraph cron search, oldest first."""
    params = {
        "tenant": tenant,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "enabled": enabled,
        "metadata": Jsonb(metadata or {}),
    }
    return await fetch_all(db, "schedule_search", params)


async def get_by_id(db: Db, schedule_id: uuid.UUID, *, tenant: str) -> Row:
    row = await fetch_one(db, "schedule_get_by_id", {"tenant": tenant, "id": schedule_id})
    if row is None:
        raise NotFound("cron", str(schedule_id))
    return row


async def update(db: Db, schedule_id: uuid.UUID, change: CronChange, *, tenant: str) -> Row:
    """Write `change` if the schedule is still as read; Conflict if it changed meanwhile,
    NotFound if it is gone."""
    params = {**_params(change), "tenant": tenant, "id": schedule_id}
    row = await fetch_one(db, "schedule_update", params)
    if row is None:
        await get_by_id(db, schedule_id, tenant=tenant)
        raise Conflict(f"cron {schedule_id} changed meanwhile")
    return row


async def delete_by_id(db: Db, schedule_id: uuid.UUID, *, tenant: str) -> None:
    if await fetch_one(db, "schedule_delete_by_id", {"tenant": tenant, "id": schedule_id}) is None:
        raise NotFound("cron", str(schedule_id))
