"""Concurrent claimers never claim one task twice, and claim in priority order."""

from __future__ import annotations

import asyncio
import uuid

from db import lease
from db.connect import Pool, connect
from tests.support.queue import GRAPHS, count, new_worker, submit


async def test_concurrent_claimers_never_claim_a_task_twice(pool: Pool, db_url: str) -> None:
    total = 300
    for _ in range(total):
        await submit(pool)
    worker_ids = [await new_worker(pool) for _ in range(6)]
    claimed: list[uuid.UUID] = []

    async def claimer(worker_id: uuid.UUID) -> None:
        conn = await connect(db_url)  # each claimer on its own connection: real concurrency
        async with conn:
            while batch := await lease.claim_many(
                conn, worker_id, limit=7, ttl_s=30, graphs=GRAPHS
            ):
                claimed.extend(c.task_id for c in batch)

    await asyncio.gather(*(claimer(w) for w in worker_ids))
    assert len(claimed) == total
    assert len(set(claimed)) == total
    assert await count(pool, "SELECT count(*) FROM tasks WHERE state = 'running'") == total
    assert await count(pool, "SELECT count(*) FROM task_events WHERE kind = 'claimed'") == total
    assert (
        await count(pool, "SELECT count(*) FROM tasks WHERE lease_epoch <> 1 OR attempts <> 1") == 0
    )


async def test_claim_takes_highest_priority_then_oldest(pool: Pool) -> None:
    low = await submit(pool, priority=-5)
    first_normal = await submit(pool)
    high = await submit(pool, priority=10)
    second_normal = await submit(pool)
    worker_id = await new_worker(pool)
    order = [
        c.task_id
        for c in await lease.claim_many(pool, worker_id, limit=10, ttl_s=30, graphs=GRAPHS)
    ]
    assert order == [high, first_normal, second_normal, low]


async def test_delayed_task_is_not_claimed_before_run_at(tx) -> None:  # type: ignore[no-untyped-def]
    await tx.execute("SET LOCAL outlast.now = '2030-01-01T00:00:00Z'")
    from datetime import UTC, datetime

    task_id = await submit(tx, run_at=datetime(2030, 1, 1, 0, 5, tzinfo=UTC))
    worker_id = await new_worker(tx)
    assert await lease.claim_many(tx, worker_id, limit=10, ttl_s=30, graphs=GRAPHS) == []
    await tx.execute("SET LOCAL outlast.now = '2030-01-01T00:05:00Z'")
    claims = await lease.claim_many(tx, worker_id, limit=10, ttl_s=30, graphs=GRAPHS)
    assert [c.task_id for c in claims] == [task_id]
