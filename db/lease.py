"""The lease a worker holds on a task: claim, heartbeat, release, the fence every worker write
opens with, and the reaper taking back expired leases. Semantics: a claim raises the task's
`lease_epoch`; a worker write commits only if the task is still running under that epoch with an
unexpired lease (by the database clock)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from db.connect import Db, fetch_all, fetch_one
from db.errors import LeaseLost
from db.outcome import RetryPolicy
from db.sql import query


@dataclass(frozen=True)
class Claim:
    """A task a worker now holds, and the epoch its writes must carry."""

    task_id: uuid.UUID
    graph: str
    input: dict[str, Any]
    attempt: int
    max_attempts: int
    epoch: int
    resume_checkpoint_id: str | None
    resume_input: dict[str, Any] | None
    resume_patch: dict[str, Any] | None
    timeout_s: int | None
    # The agent the task was submitted to (its pinned version is read by the executor: db/agent.py
    # `pinned`), or None for a task submitted to a graph.
    agent: str | None = None
    # The W3C traceparent of the request that submitted the task (its metadata's `traceparent`):
    # the attempt's span joins that trace (outlast.traces).
    traceparent: str | None = None
    # The named thread it runs on (ADR 0018), or None for its own thread (id = task id).
    thread_id: uuid.UUID | None = None
    # Its tenant: what the graph's store reads in (db/graph_store.py, ADR 0029). Every claim
    # read from the database has one; None only in unit tests' hand-made claims.
    tenant: str | None = None

    @property
    def has_resume_point(self) -> bool:
        return any(
            v is not None for v in (self.resume_checkpoint_id, self.resume_input, self.resume_patch)
        )


async def claim_many(
    db: Db, worker_id: uuid.UUID, *, limit: int, ttl_s: float, graphs: Sequence[str]
) -> list[Claim]:
    """Claim up to `limit` ready tasks of `graphs` (the graphs this worker can run: a task of
    another graph stays queued for a worker that runs it), in priority then readiness order."""
    params = {"worker_id": worker_id, "limit": limit, "ttl_s": ttl_s, "graphs": list(graphs)}
    return [_claim(r) for r in await fetch_all(db, "lease_claim_many", params)]


@dataclass
class FairCursor:
    """Where a claimer's round-robin over groups stands: the last group (tenant, agent; '' for
    a tenant's tasks without an agent) its previous fair claim looked at."""

    tenant: str = ""
    agent: str = ""


async def claim_fair(
    db: Db,
    worker_id: uuid.UUID,
    *,
    limit: int,
    ttl_s: float,
    graphs: Sequence[str],
    cursor: FairCursor | None = None,
) -> list[Claim]:
    """As claim_many, but fair across groups (a tenant's agent, or its tasks without one) and
    never past an agent's max_concurrent_tasks (ADR 0013). `cursor` (kept by the claimer, moved
    on here) makes successive claims visit the groups round-robin. A capped agent another
    claimer is claiming for is passed over this round, so a batch may come back short while
    tasks are ready."""
    at = cursor or FairCursor()
    params = {
        "worker_id": worker_id,
        "limit": limit,
        "ttl_s": ttl_s,
        "graphs": list(graphs),
        "after_tenant": at.tenant,
        "after_agent": at.agent,
    }
    rows = await fetch_all(db, "lease_claim_fair", params)
    if rows:
        at.tenant, at.agent = rows[0]["cursor_tenant"], rows[0]["cursor_agent"]
    return [_claim(r) for r in rows]


def _claim(r: dict[str, Any]) -> Claim:
    return Claim(
        task_id=r["id"],
        graph=r["graph"],
        input=r["input"],
        attempt=r["attempts"],
        max_attempts=r["max_attempts"],
        epoch=r["lease_epoch"],
        resume_checkpoint_id=r["resume_checkpoint_id"],
        resume_input=r["resume_input"],
        resume_patch=r["resume_patch"],
        timeout_s=r["timeout_s"],
        agent=r["agent"],
        traceparent=r.get("traceparent"),
        thread_id=r.get("thread_id"),
        tenant=r["tenant"],
    )


async def heartbeat(
    db: Db, worker_id: uuid.UUID, held: dict[uuid.UUID, int], *, ttl_s: float
) -> dict[uuid.UUID, bool]:
    """Extend the leases in `held` (task id -> epoch). Returns task id -> cancel requested, for
    the tasks still held; any task missing from the answer is lost."""
    rows = await fetch_all(
        db,
        "lease_heartbeat",
        {
            "worker_id": worker_id,
            "task_ids": list(held),
            "epochs": list(held.values()),
            "ttl_s": ttl_s,
        },
    )
    return {r["id"]: r["cancel_requested"] for r in rows}


async def fence(
    conn: AsyncConnection[DictRow], task_id: uuid.UUID, epoch: int, *, consume_resume: bool = False
) -> None:
    """Inside an open transaction: lock the task row if the lease is still ours, else LeaseLost.
    With `consume_resume`, also clear the task's resume point (`fence_resume`)."""
    if consume_resume:
        return await fence_resume(conn, task_id, epoch)
    cur = await conn.execute(query("lease_fence"), {"task_id": task_id, "epoch": epoch})
    if await cur.fetchone() is None:
        raise LeaseLost(task_id, epoch)


async def fence_resume(conn: AsyncConnection[DictRow], task_id: uuid.UUID, epoch: int) -> None:
    """As `fence`, and clear the task's resume point: the write it opens is now the head."""
    cur = await conn.execute(query("lease_fence_resume"), {"task_id": task_id, "epoch": epoch})
    if await cur.fetchone() is None:
        raise LeaseLost(task_id, epoch)


# The SQLSTATE lease_fence_last raises when the lease is lost.
LEASE_LOST_SQLSTATE = "OL001"


async def fence_last(conn: AsyncConnection[DictRow], task_id: uuid.UUID, epoch: int) -> None:
    """In pipeline mode, after the writes it guards: queue the fence that fails their implicit
    transaction if the lease is lost. Nothing is raised here; the Sync that ends the pipeline
    raises a psycopg error with LEASE_LOST_SQLSTATE (see `is_lease_lost`), and nothing commits."""
    await conn.execute(query("lease_fence_last"), {"task_id": task_id, "epoch": epoch})


def is_lease_lost(exc: BaseException) -> bool:
    """Whether a psycopg error is lease_fence_last refusing the write."""
    return getattr(exc, "sqlstate", None) == LEASE_LOST_SQLSTATE


async def release(
    db: Db,
    worker_id: uuid.UUID,
    task_id: uuid.UUID,
    epoch: int,
    *,
    delay_s: float = 0.0,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Give the task back (graceful shutdown; or a rate-limit wait: queued to run `delay_s`
    later, `detail` in its event). False when the lease was already gone."""
    params: dict[str, Any] = {"worker_id": worker_id, "task_id": task_id, "epoch": epoch}
    params["delay_s"] = delay_s
    params["detail"] = Jsonb(detail) if detail is not None else None
    row = await fetch_one(db, "lease_release", params)
    return row is not None


async def reap_expired(db: Db, *, batch: int, retry: RetryPolicy) -> Counter[str]:
    """Take back up to `batch` expired or timed-out attempts; count them by the state they went to
    (`queued`, after `retry`'s backoff; `failed`; `cancelled`)."""
    rows = await fetch_all(
        db,
        "lease_reap_expired",
        {"batch": batch, "retry_base_s": retry.base_s, "retry_max_s": retry.max_s},
    )
    return Counter(r["state"] for r in rows)
