"""Event streams read task_events from an offset (db/queries/stream.sql; ADR 0015)."""

from __future__ import annotations

import uuid

from db.connect import Db, Row, fetch_all, fetch_one


async def head(db: Db) -> int:
    row = await fetch_one(db, "stream_head", {})
    return int(row["id"]) if row else 0


async def ids(db: Db, *, after: int, window: int, limit: int) -> tuple[int, list[int]]:
    """(base, the ids after base): base is `after`, or the newest id less `window` if higher."""
    row = await fetch_one(db, "stream_ids", {"after": after, "window": window, "limit": limit})
    if row is None:  # one row always: a SELECT from a one-row CTE
        return after, []
    return int(row["base"]), [int(i) for i in row["ids"]]


async def tenant(
    db: Db,
    *,
    tenant: str,
    after: int,
    upto: int,
    limit: int,
    state: str | None = None,
    graph: str | None = None,
    agent: str | None = None,
) -> list[Row]:
    params = {
        "tenant": tenant,
        "after": after,
        "upto": upto,
        "limit": limit,
        "state": state,
        "graph": graph,
        "agent": agent,
    }
    return await fetch_all(db, "stream_tenant", params)


async def task(
    db: Db, task_id: uuid.UUID, *, tenant: str, after: int, upto: int, limit: int
) -> list[Row]:
    params = {"task_id": task_id, "tenant": tenant, "after": after, "upto": upto, "limit": limit}
    return await fetch_all(db, "stream_task", params)


async def task_exists(db: Db, task_id: uuid.UUID, *, tenant: str) -> bool:
    row = await fetch_one(db, "stream_task_exists", {"task_id": task_id, "tenant": tenant})
    return row is not None
