"""Worker process records: register, state, list, the graphs they serve; the reaper marks the
silent ones lost, ends their sessions, and forgets the stopped."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from db.connect import Db, Row, fetch_all, fetch_one

# A worker's database sessions carry this name (pg_stat_activity.application_name), so the reaper
# finds them (db/queries/workers.sql workers_sessions_end).
SESSION_PREFIX = "outlast-worker "


def application_name(worker_id: uuid.UUID) -> str:
    return f"{SESSION_PREFIX}{worker_id}"


async def register(
    db: Db,
    worker_id: uuid.UUID,
    *,
    hostname: str,
    pid: int,
    concurrency: int,
    graphs: Sequence[str],
) -> Row:
    """Announce a worker process and the graphs it runs (the same names it claims with)."""
    row = await fetch_one(
        db,
        "workers_register",
        {
            "worker_id": worker_id,
            "hostname": hostname,
            "pid": pid,
            "concurrency": concurrency,
            "graphs": list(graphs),
        },
    )
    if row is None:  # INSERT ... RETURNING always answers; this guards the type
        raise RuntimeError("workers_register returned no row")
    return row


async def set_state(db: Db, worker_id: uuid.UUID, state: Literal["stopping", "stopped"]) -> None:
    await fetch_one(db, "workers_set_state", {"worker_id": worker_id, "state": state})


async def list_(
    db: Db,
    *,
    tenant: str,
    limit: int,
    state: str | None = None,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[Row]:
    """Workers (shared by every tenant), each with the count of `tenant`'s tasks it holds."""
    return await fetch_all(
        db,
        "workers_list",
        {
            "tenant": tenant,
            "state": state,
            "before_started_at": before[0] if before else None,
            "before_id": before[1] if before else None,
            "limit": limit,
        },
    )


async def graph_coverage(db: Db, *, tenant: str) -> dict[str, Row]:
    """Graph name -> {workers: live workers serving it, queued: the tenant's queued tasks of
    it}, for every graph a running worker announced or a queued task of the tenant names."""
    rows = await fetch_all(db, "workers_graph_coverage", {"tenant": tenant})
    return {r["graph"]: r for r in rows}


async def mark_lost(db: Db, *, stale_s: float, batch: int) -> int:
    """Mark up to `batch` workers silent for longer than `stale_s` lost; how many were."""
    rows = await fetch_all(db, "workers_mark_lost", {"stale_s": stale_s, "batch": batch})
    return len(rows)


async def sessions_end(db: Db, *, stale_s: float) -> int:
    """End the open transactions of workers gone silent (expired lease, or marked lost); how
    many sessions were ended (ADR 0008)."""
    params = {"stale_s": stale_s, "session_prefix": SESSION_PREFIX}
    rows = await fetch_all(db, "workers_sessions_end", params)
    return sum(1 for r in rows if r["ended"])


async def prune_stopped(db: Db, *, retention_s: float, batch: int) -> int:
    """Forget up to `batch` workers stopped or lost longer ago than `retention_s`."""
    rows = await fetch_all(
        db, "workers_prune_stopped", {"retention_s": retention_s, "batch": batch}
    )
    return len(rows)
