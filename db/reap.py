"""The reaper's statements: expired leases and overrun attempts, silent workers, retention."""

from __future__ import annotations

from collections import Counter

from db import workers
from db.connect import Db, fetch_all, fetch_one
from db.outcome import RetryPolicy


async def expired_leases(db: Db, *, batch: int, retry: RetryPolicy) -> Counter[str]:
    """Take back up to `batch` expired or timed-out attempts; count them by the state they went to
    (`queued`, after `retry`'s backoff; `failed`; `cancelled`)."""
    rows = await fetch_all(
        db,
        "lease_reap_expired",
        {"batch": batch, "retry_base_s": retry.base_s, "retry_max_s": retry.max_s},
    )
    return Counter(r["state"] for r in rows)


async def finished_tasks(
    db: Db, *, retention_s: float, dead_letter_retention_s: float, batch: int
) -> int:
    """Delete up to `batch` finished tasks older than the retention (and their threads), except
    those with a dead letter still kept (open, or closed within `dead_letter_retention_s`;
    0 keeps closed ones forever)."""
    row = await fetch_one(
        db,
        "tasks_prune_finished",
        {
            "retention_s": retention_s,
            "dead_letter_retention_s": dead_letter_retention_s,
            "batch": batch,
        },
    )
    return int(row["pruned"]) if row else 0


async def closed_dead_letters(db: Db, *, retention_s: float, batch: int) -> int:
    """Delete up to `batch` dead letters redriven longer ago than `retention_s`."""
    rows = await fetch_all(
        db, "dead_letters_prune_closed", {"retention_s": retention_s, "batch": batch}
    )
    return len(rows)


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
