"""Text artifacts of a task (db/queries/artifact.sql): stored by the worker (fenced), listed
and read by the API (in the caller's tenant)."""

from __future__ import annotations

import uuid

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import LeaseLost, NotFound


async def put(
    db: Db,
    task_id: uuid.UUID,
    epoch: int,
    *,
    name: str,
    content_type: str,
    content: str,
    key: str,
) -> Row:
    """Store (or replace) the task's artifact `name`; LeaseLost when the lease is gone."""
    params = {
        "task_id": task_id,
        "epoch": epoch,
        "name": name,
        "content_type": content_type,
        "content": content,
        "size_bytes": len(content.encode()),
        "key": key,
    }
    row = await fetch_one(db, "artifact_put", params)
    if row is None:
        raise LeaseLost(task_id, epoch)
    return row


async def list_(db: Db, task_id: uuid.UUID, *, tenant: str) -> list[Row]:
    """The task's artifacts without content; NotFound when the tenant has no such task."""
    rows = await fetch_all(db, "artifact_list", {"task_id": task_id, "tenant": tenant})
    if not rows:
        raise NotFound("task", task_id)
    return [r for r in rows if r["name"] is not None]


async def get(db: Db, task_id: uuid.UUID, name: str, *, tenant: str) -> Row:
    params = {"task_id": task_id, "name": name, "tenant": tenant}
    row = await fetch_one(db, "artifact_get", params)
    if row is None:
        raise NotFound("artifact", name)
    return row
