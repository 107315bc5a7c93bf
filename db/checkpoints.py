"""Reads of a task's LangGraph checkpoints (thread_id = task id)."""

from __future__ import annotations

import uuid

from db.connect import Db, Row, fetch_all


async def list_(
    db: Db, task_id: uuid.UUID, *, limit: int, before_id: str | None = None
) -> list[Row]:
    return await fetch_all(
        db,
        "checkpoint_list",
        {"thread_id": str(task_id), "before_id": before_id, "limit": limit},
    )
