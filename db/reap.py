"""The reaper's statements: expired leases and overrun attempts, silent workers."""

from __future__ import annotations

from collections import Counter

from db import workers
from db.connect import Db, fetch_all, fetch_one


async def expired_leases(db: Db, *, batch: int) -> Counter[str]:
    """Take back up to `batch` expired or timed-out attempts; count them by the state they went to
    (`queued`, `failed`, `cancelled`)."""
    rows = await fetch_all(db, "lease_reap_expired", {"batch": batch})
    return Counter(r["state"] for r in rows)


async def finished_tasks(db: Db, *, retention_s: float, batch: int) -> int:
    """Delete up to `batch` finished tasks older than the retention (and their threads)."""
    row = await fetch_one(db, "tasks_prune_finished", {"retention_s": retention_s, "batch": batch})
    return int(row["pruned"]) if row else 0


async def stopped_workers(db: Db, *, retention_s: float, batch: int) -> int:
    rows = await fetch_all(
        db, "workers_prune_stopped", {"retention_s": retention_s, "batch": batch}
    )
    return len(rows)


async def silent_workers(db: Db, *, stale_s: float, batch: int) -> int:
    rows = await fetch_all(db, "workers_mark_lost", {"stale_s": stale_s, "batch": batch})
    return len(rows)


async def silent_worker_sessions(db: Db, *, stale_s: float) -> int:
    """End the open transactions of workers gone silent (expired lease, or marked lost); how
    many sessions were ended (ADR 0008)."""
    params = {"stale_s": stale_s, "session_prefix": workers.SESSION_PREFIX}
    rows = await fetch_all(db, "worker_sessions_end", params)
    return sum(1 for r in rows if r["ended"])
