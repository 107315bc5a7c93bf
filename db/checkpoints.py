"""Reads of a task's LangGraph checkpoints (thread_id = task id)."""

from __future__ import annotations

import uuid

from db.connect import Db, Row, fetch_all, fetch_one


async def list_(
    db: Db, task_id: uuid.UUID, *, limit: int, before_id: str | None = None
) -> list[Row]:
    return await fetch_all(
        db,
        "checkpoint_list",
        {"thread_id": str(task_id), "before_id": before_id, "limit": limit},
    )


async def exists(db: Db, task_id: uuid.UUID, checkpoint_id: str) -> bool:
    """True when `checkpoint_id` is a checkpoint of the task's own thread."""
    row = await fetch_one(
        db, "checkpoint_exists", {"thread_id": str(task_id), "checkpoint_id": checkpoint_id}
    )
    return bool(row and row["found"])
