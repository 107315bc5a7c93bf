"""A task's LangGraph checkpoints (thread_id = task id): reads, and their order.

The order of a thread's checkpoints is the database's (checkpoint_order, ADR 0007): a checkpoint
id is a uuid6 from the writer's wall clock, and a worker whose clock is behind writes ids that
sort before older ones."""

from __future__ import annotations

import uuid

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db.connect import Db, Row, fetch_all, fetch_one
from db.sql import query


async def list_(
    db: Db, task_id: uuid.UUID, *, tenant: str, limit: int, before_id: str | None = None
) -> list[Row]:
    """The checkpoints of one of `tenant`'s tasks (none for another tenant's task)."""
    return await fetch_all(
        db,
        "checkpoints_list",
        {"thread_id": str(task_id), "tenant": tenant, "before_id": before_id, "limit": limit},
    )


async def exists(db: Db, task_id: uuid.UUID, checkpoint_id: str, *, tenant: str) -> bool:
    """True when `checkpoint_id` is a checkpoint of the thread of one of `tenant`'s tasks."""
    row = await fetch_one(
        db,
        "checkpoints_exists",
        {"thread_id": str(task_id), "tenant": tenant, "checkpoint_id": checkpoint_id},
    )
    return bool(row and row["found"])


async def head(db: Db, thread_id: str, checkpoint_ns: str = "") -> str | None:
    """The id of the thread's newest checkpoint in `checkpoint_ns` (the last written), if any."""
    row = await fetch_one(
        db, "checkpoints_head", {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
    )
    return row["checkpoint_id"] if row else None


async def order_insert(
    conn: AsyncConnection[DictRow],
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str,
    epoch: int,
) -> None:
    """Number a checkpoint as the newest of its thread. Only inside the fenced write of that
    checkpoint (worker/checkpointer.py): in pipeline mode this queues the statement."""
    params = {
        "thread_id": thread_id,
        "checkpoint_ns": checkpoint_ns,
        "checkpoint_id": checkpoint_id,
        "epoch": epoch,
    }
    await conn.execute(query("checkpoints_order_insert"), params)
