"""Token deltas of running model calls (db/queries/llm_delta.sql; ADR 0022)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from db.connect import Db, Row, fetch_all, fetch_one


async def insert(
    db: Db, task_id: uuid.UUID, call_id: int, pieces: Sequence[tuple[int, str]]
) -> int:
    """Append (attempt, text) pieces of one call, in order, and wake the task's streams; the
    number of rows written (0: the task is gone)."""
    params = {
        "task_id": task_id,
        "call_id": call_id,
        "attempts": [attempt for attempt, _ in pieces],
        "texts": [text for _, text in pieces],
    }
    row = await fetch_one(db, "llm_delta_insert", params)
    return int(row["n"]) if row else 0


async def task(db: Db, task_id: uuid.UUID, *, tenant: str, after: int, limit: int) -> list[Row]:
    params = {"task_id": task_id, "tenant": tenant, "after": after, "limit": limit}
    return await fetch_all(db, "llm_delta_task", params)


async def run(db: Db, task_id: uuid.UUID, *, tenant: str, after: int, limit: int) -> list[Row]:
    params = {"task_id": task_id, "tenant": tenant, "after": after, "limit": limit}
    return await fetch_all(db, "llm_delta_run", params)


async def prune(db: Db, *, retention_s: float, batch: int) -> int:
    rows = await fetch_all(db, "llm_delta_prune", {"retention_s": retention_s, "batch": batch})
    return len(rows)
