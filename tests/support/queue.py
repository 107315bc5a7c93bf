"""Drive the queue through its real statements, for tests that need tasks in a given state."""

from __future__ import annotations

import json
import uuid
from typing import Any

from db import lease, outcome, tasks, workers
from db.connect import Db
from db.errors import LeaseLost
from db.lease import Claim
from db.outcome import RetryPolicy
from outlast.registry import BUILTIN

# Reap expired leases without backoff, for tests about what happens after a takeover.
NO_BACKOFF = RetryPolicy(base_s=0.0, max_s=0.0)

# The graphs a test worker announces and claims: the built-ins, which these tests submit.
GRAPHS = tuple(BUILTIN)


async def new_worker(db: Db) -> uuid.UUID:
    worker_id = uuid.uuid4()
    await workers.register(db, worker_id, hostname="test", pid=1, concurrency=8, graphs=GRAPHS)
    return worker_id


async def submit(
    db: Db,
    graph: str = "pipeline",
    *,
    max_attempts: int = 3,
    tenant: str = "default",
    **fields: Any,
) -> uuid.UUID:
    row, _ = await tasks.insert(
        db,
        tasks.NewTask(
            graph=graph, input=fields.pop("input", {}), max_attempts=max_attempts, **fields
        ),
        tenant=tenant,
    )
    return uuid.UUID(str(row["id"]))


async def claim_one(db: Db, worker_id: uuid.UUID, *, ttl_s: float = 30.0) -> Claim:
    claims = await lease.claim_many(db, worker_id, limit=1, ttl_s=ttl_s, graphs=GRAPHS)
    assert len(claims) == 1, f"expected one ready task, claimed {len(claims)}"
    return claims[0]


async def complete(
    db: Db, worker_id: uuid.UUID, task_id: uuid.UUID, epoch: int, result: Any
) -> None:
    """Finish one task through the worker's own statement (the group commit, of one), raising
    LeaseLost as a runner would learn it: the task missing from the answer."""
    done = [outcome.Done(task_id, epoch, json.dumps(result))]
    if task_id not in await outcome.complete_many(db, worker_id, done):
        raise LeaseLost(task_id, epoch)


async def count(db: Db, sql: str, *params: Any) -> int:
    if not hasattr(db, "execute"):
        async with db.connection() as conn:  # type: ignore[union-attr]
            return await count(conn, sql, *params)
    cur = await db.execute(sql, params)  # type: ignore[union-attr]
    row = await cur.fetchone()
    return int(next(iter(row.values())))
