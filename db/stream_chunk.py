"""Chunks run nodes wrote to the stream writer (db/queries/stream_chunk.sql; ADR 0027)."""

from __future__ import annotations

import uuid

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import LeaseLost


async def insert(
    db: Db,
    task_id: uuid.UUID,
    epoch: int,
    *,
    namespace: str,
    data_json: str,
    after: tuple[str, str] | None,
) -> int:
    """Append one chunk (JSON text) after the checkpoint `after` (namespace, checkpoint id) and
    wake the task's streams; its id. LeaseLost when the lease is gone."""
    after_ns, after_id = after if after is not None else ("", None)
    params = {
        "task_id": task_id,
        "epoch": epoch,
        "namespace": namespace,
        "data": data_json,
        "after_ns": after_ns,
        "after_id": after_id,
    }
    row = await fetch_one(db, "stream_chunk_insert", params)
    if row is None:
        raise LeaseLost(task_id, epoch)
    return int(row["id"])


async def purge(db: Db, task_id: uuid.UUID, epoch: int) -> int:
    """Drop the chunks of earlier attempts' unfinished steps; how many. LeaseLost when the lease
    is gone."""
    row = await fetch_one(db, "stream_chunk_purge", {"task_id": task_id, "epoch": epoch})
    if row is None:
        raise LeaseLost(task_id, epoch)
    return int(row["purged"])


async def run(
    db: Db, task_id: uuid.UUID, *, tenant: str, after: int, limit: int, subgraphs: bool
) -> list[Row]:
    params = {
        "task_id": task_id,
        "tenant": tenant,
        "after": after,
        "limit": limit,
        "subgraphs": subgraphs,
    }
    return await fetch_all(db, "stream_chunk_run", params)
