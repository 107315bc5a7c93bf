"""Threads (ADR 0018): the claim runs a thread's tasks one at a time, in submit order, and a
unique index makes two running tasks of one thread impossible, whatever claims them."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from db import lease, thread
from db.connect import Pool, connect
from db.errors import Conflict, NotFound
from tests.support.queue import GRAPHS, complete, count, new_worker, submit


async def _thread(pool: Pool, tenant: str = "default") -> uuid.UUID:
    row = await thread.insert(pool, tenant=tenant, thread_id=None, metadata={})
    assert row is not None
    return uuid.UUID(str(row["id"]))


@pytest.mark.parametrize("fair", [False, True])
async def test_a_thread_runs_one_task_at_a_time_in_submit_order(pool: Pool, fair: bool) -> None:
    worker_id = await new_worker(pool)
    on = await _thread(pool)
    first, second, _third = [await submit(pool, thread_id=on) for _ in range(3)]
    alone = await submit(pool)  # a task on its own thread is claimed as before

    async def claim() -> list[lease.Claim]:
        if fair:
            return await lease.claim_fair(pool, worker_id, limit=10, ttl_s=30, graphs=GRAPHS)
        return await lease.claim_many(pool, worker_id, limit=10, ttl_s=30, graphs=GRAPHS)

    batch = await claim()
    assert {c.task_id for c in batch} == {first, alone}
    assert [c.thread_id for c in batch if c.task_id == first] == [on]
    assert await claim() == []  # the thread is busy: its next task waits
    held = {c.task_id: c for c in batch}
    await complete(pool, worker_id, first, held[first].epoch, {})
    assert [c.task_id for c in await claim()] == [second]
    assert await claim() == []


async def test_a_waiting_task_holds_its_thread(pool: Pool) -> None:
    worker_id = await new_worker(pool)
    on = await _thread(pool)
    first = await submit(pool, thread_id=on)
    second = await submit(pool, thread_id=on)
    await lease.claim_many(pool, worker_id, limit=10, ttl_s=30, graphs=GRAPHS)
    await pool_execute(
        pool,
        "UPDATE tasks SET state = 'waiting_for_input', worker_id = NULL,"
        " lease_expires_at = NULL WHERE id = %s",
        first,
    )
    assert await lease.claim_many(pool, worker_id, limit=10, ttl_s=30, graphs=GRAPHS) == []
    assert (
        await count(pool, "SELECT count(*) FROM tasks WHERE id = %s AND state = 'queued'", second)
        == 1
    )


async def pool_execute(pool: Pool, sql: str, *params: object) -> None:
    async with pool.connection() as conn:
        await conn.execute(sql, params)  # type: ignore[arg-type]


async def test_two_running_tasks_of_one_thread_are_refused_by_the_database(
    pool: Pool, db_url: str
) -> None:
    """The constraint, not the claim: a write that would run a second task of the thread fails."""
    worker_id = await new_worker(pool)
    on = await _thread(pool)
    await submit(pool, thread_id=on)
    second = await submit(pool, thread_id=on)
    await lease.claim_many(pool, worker_id, limit=10, ttl_s=30, graphs=GRAPHS)
    conn = await connect(db_url)
    async with conn:
        with pytest.raises(psycopg.errors.UniqueViolation, match="tasks_thread_running"):
            await conn.execute(
                "UPDATE tasks SET state = 'running', worker_id = %s,"
                " lease_expires_at = now() + interval '1 minute' WHERE id = %s",
                (worker_id, second),
            )


async def test_a_submit_on_another_tenants_thread_inserts_nothing(pool: Pool) -> None:
    theirs = await _thread(pool, tenant="other")
    with pytest.raises(NotFound):
        await submit(pool, thread_id=theirs)
    assert await count(pool, "SELECT count(*) FROM tasks") == 0


async def test_a_thread_is_deleted_once_its_runs_are_finished_and_they_stay(pool: Pool) -> None:
    worker_id = await new_worker(pool)
    on = await _thread(pool)
    task_id = await submit(pool, thread_id=on)
    with pytest.raises(Conflict):
        await thread.delete(pool, on, tenant="default")
    with pytest.raises(NotFound):
        await thread.delete(pool, on, tenant="other")
    (claim,) = await lease.claim_many(pool, worker_id, limit=10, ttl_s=30, graphs=GRAPHS)
    await complete(pool, worker_id, task_id, claim.epoch, {})
    await thread.delete(pool, on, tenant="default")
    with pytest.raises(NotFound):
        await thread.get(pool, on, tenant="default")
    assert (
        await count(pool, "SELECT count(*) FROM tasks WHERE id = %s AND thread_id IS NULL", task_id)
        == 1
    )
