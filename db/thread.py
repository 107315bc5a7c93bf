"""Threads as stored (db/queries/thread.sql; ADR 0018): create, read, search, delete, and the
task a thread's new task starts from. API statements filter by tenant; `previous` is the
worker's."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import Conflict, NotFound


async def insert(
    db: Db, *, tenant: str, thread_id: uuid.UUID | None, metadata: dict[str, Any]
) -> Row | None:
    """A new thread; None when one of `thread_id` exists already (any tenant's)."""
    params = {"tenant": tenant, "thread_id": thread_id, "metadata": Jsonb(metadata)}
    return await fetch_one(db, "thread_insert", params)


async def get(db: Db, thread_id: uuid.UUID, *, tenant: str) -> Row:
    """The thread with `open_states` and `last_state`; NotFound for another tenant's."""
    row = await fetch_one(db, "thread_get", {"thread_id": thread_id, "tenant": tenant})
    if row is None:
        raise NotFound("thread", str(thread_id))
    return row


async def search(
    db: Db,
    *,
    tenant: str,
    metadata: dict[str, Any],
    status: str | None,
    limit: int,
    offset: int,
) -> list[Row]:
    """The tenant's threads holding `metadata` with `status` (any when None), newest first."""
    params = {
        "tenant": tenant,
        "metadata": Jsonb(metadata),
        "status": status,
        "limit": limit,
        "offset": offset,
    }
    return await fetch_all(db, "thread_search", params)


async def delete(db: Db, thread_id: uuid.UUID, *, tenant: str) -> None:
    """Delete the thread; NotFound when it is not the tenant's, Conflict while a task on it is
    unfinished."""
    row = await fetch_one(db, "thread_delete", {"thread_id": thread_id, "tenant": tenant})
    if row is None:
        await get(db, thread_id, tenant=tenant)
        raise Conflict(f"thread {thread_id} has unfinished runs; cancel them first")


async def previous(db: Db, task_id: uuid.UUID) -> uuid.UUID | None:
    """The task on the same thread, submitted before `task_id`, whose state it continues."""
    row = await fetch_one(db, "thread_previous", {"task_id": task_id})
    return None if row is None else uuid.UUID(str(row["id"]))


async def detach(
    db: Db, thread_id: uuid.UUID, task_ids: list[uuid.UUID], *, tenant: str
) -> list[uuid.UUID]:
    """Take the tasks off the thread (a rollback): each is its own thread from now on."""
    params = {"thread_id": thread_id, "task_ids": task_ids, "tenant": tenant}
    return [r["id"] for r in await fetch_all(db, "thread_detach", params)]


async def update(db: Db, thread_id: uuid.UUID, *, tenant: str, metadata: dict[str, Any]) -> None:
    """Merge `metadata` into the thread's; NotFound when it is not the tenant's."""
    params = {"thread_id": thread_id, "tenant": tenant, "metadata": Jsonb(metadata)}
    if await fetch_one(db, "thread_update", params) is None:
        raise NotFound("thread", str(thread_id))


async def count(db: Db, *, tenant: str, metadata: dict[str, Any], status: str | None) -> int:
    """How many of the tenant's threads hold `metadata` and have `status` (any when None)."""
    params = {"tenant": tenant, "metadata": Jsonb(metadata), "status": status}
    row = await fetch_one(db, "thread_count", params)
    return int(row["n"]) if row is not None else 0


async def copy(db: Db, thread_id: uuid.UUID, *, tenant: str) -> Row:
    """A copy of the tenant's thread: metadata, state and history (thread_copy); NotFound for
    another tenant's."""
    row = await fetch_one(db, "thread_copy", {"thread_id": thread_id, "tenant": tenant})
    if row is None:
        raise NotFound("thread", str(thread_id))
    return row
