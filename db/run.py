"""Runs of the LangGraph Platform API, read from tasks and checkpoint_order
(db/queries/run.sql; ADR 0018). Every function is an API request's: it takes the tenant."""

from __future__ import annotations

import uuid

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import Conflict, NotFound


async def get(db: Db, run_id: uuid.UUID, *, thread_id: uuid.UUID, tenant: str) -> Row:
    """The run (a task row); NotFound when it is not this tenant's run on this thread."""
    params = {"run_id": run_id, "thread_id": thread_id, "tenant": tenant}
    row = await fetch_one(db, "run_get", params)
    if row is None:
        raise NotFound("run", str(run_id))
    return row


async def list_(
    db: Db,
    thread_id: uuid.UUID,
    *,
    tenant: str,
    limit: int,
    offset: int,
    states: list[str] | None = None,
) -> list[Row]:
    params = {
        "thread_id": thread_id,
        "tenant": tenant,
        "limit": limit,
        "offset": offset,
        "state": states,
    }
    return await fetch_all(db, "run_list", params)


async def checkpoints(
    db: Db, run_id: uuid.UUID, *, tenant: str, after: int, limit: int, subgraphs: bool = False
) -> list[Row]:
    """(seq, checkpoint_ns, checkpoint_id) of the run's checkpoints after the offset `after`,
    in order; the subgraphs' namespaces too with `subgraphs`."""
    params = {
        "run_id": run_id,
        "tenant": tenant,
        "after": after,
        "limit": limit,
        "subgraphs": subgraphs,
    }
    return await fetch_all(db, "run_checkpoints", params)


async def head(db: Db, thread_id: uuid.UUID, *, tenant: str) -> Row | None:
    """(id, graph) of the thread's newest run with a checkpoint: its head is the thread's state."""
    return await fetch_one(db, "run_head", {"thread_id": thread_id, "tenant": tenant})


async def by_checkpoint(
    db: Db, thread_id: uuid.UUID, checkpoint_id: str, *, tenant: str
) -> Row | None:
    """(id, graph) of the thread's run that wrote the checkpoint; None when no run of the
    tenant's thread did."""
    params = {"thread_id": thread_id, "checkpoint_id": checkpoint_id, "tenant": tenant}
    return await fetch_one(db, "run_by_checkpoint", params)


async def select(
    db: Db, *, tenant: str, states: list[str], thread_id: uuid.UUID | None, limit: int
) -> list[Row]:
    """(id, thread_id) of the tenant's runs in `states` (on `thread_id` when named)."""
    params = {"tenant": tenant, "states": states, "thread_id": thread_id, "limit": limit}
    return await fetch_all(db, "run_select", params)


async def delete(db: Db, run_id: uuid.UUID, *, thread_id: uuid.UUID, tenant: str) -> None:
    """Take the finished run off its thread; NotFound when it is not the tenant's run on that
    thread, Conflict while it is unfinished (or when it is a thread of its own)."""
    params = {"run_id": run_id, "thread_id": thread_id, "tenant": tenant}
    if await fetch_one(db, "run_delete", params) is None:
        row = await get(db, run_id, thread_id=thread_id, tenant=tenant)
        if row["thread_id"] is None:
            raise Conflict(f"run {run_id} is a thread of its own: it is not taken off one")
        raise Conflict(f"run {run_id} is {row['state']}: cancel it first", state=row["state"])
