"""The pipelined checkpoint fence (ADR 0005): a checkpoint write and its fence commit in one
implicit transaction, or nothing does."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from langgraph.checkpoint.base import empty_checkpoint
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db import lease
from db.connect import Pool
from db.errors import LeaseLost
from db.lease import Claim
from db.sql import query
from outlast.registry import Registry
from tests.support.queue import NO_BACKOFF, claim_one, count, new_worker, submit
from worker.checkpointer import FencedSaver


def writes_config(task_id: uuid.UUID, checkpoint_id: str = "cp-1") -> Any:
    return {
        "configurable": {
            "thread_id": str(task_id),
            "checkpoint_ns": "",
            "checkpoint_id": checkpoint_id,
        }
    }


async def rows(pool: Pool, table: str, task_id: uuid.UUID) -> int:
    sql = f"SELECT count(*) FROM {table} WHERE thread_id = %s"  # noqa: S608 (our table names)
    return await count(pool, sql, str(task_id))


async def taken_over(pool: Pool) -> tuple[Claim, Claim]:
    """A task claimed by one worker, expired, reaped and claimed by another: (old, new)."""
    worker_a, worker_b = await new_worker(pool), await new_worker(pool)
    await submit(pool)
    old = await claim_one(pool, worker_a)
    async with pool.connection() as conn:
        await conn.execute("UPDATE tasks SET lease_expires_at = clock_timestamp()")
    await lease.reap_expired(pool, batch=10, retry=NO_BACKOFF)
    return old, await claim_one(pool, worker_b)


async def test_a_live_lease_commits_every_write_of_a_run(pool: Pool) -> None:
    worker_id = await new_worker(pool)
    task_id = await submit(pool, input={"text": "One. Two."})
    claim = await claim_one(pool, worker_id)
    graph = Registry.from_spec().compiled("pipeline", FencedSaver(pool, task_id, claim.epoch))
    result = await graph.ainvoke(
        claim.input, {"configurable": {"thread_id": str(task_id)}}, durability="sync"
    )
    assert result["report"]["sentences"] == 2
    assert await rows(pool, "checkpoints", task_id) == 8  # input, six nodes, and the end
    assert (
        await count(
            pool,
            "SELECT count(*) FROM checkpoints JOIN checkpoint_order"
            " USING (thread_id, checkpoint_ns, checkpoint_id)"
            " WHERE thread_id = %s AND lease_epoch = %s",
            str(task_id),
            claim.epoch,
        )
        == 8
    )


async def test_stale_pending_writes_raise_and_write_nothing(pool: Pool) -> None:
    old, new = await taken_over(pool)
    stale = FencedSaver(pool, old.task_id, old.epoch)
    with pytest.raises(LeaseLost):
        await stale.aput_writes(writes_config(old.task_id), [("x", 1), ("y", 2)], "task-1")
    assert await rows(pool, "checkpoint_writes", old.task_id) == 0
    live = FencedSaver(pool, new.task_id, new.epoch)
    await live.aput_writes(writes_config(new.task_id), [("x", 1), ("y", 2)], "task-1")
    assert await rows(pool, "checkpoint_writes", new.task_id) == 2


async def test_stale_checkpoint_with_blobs_writes_nothing(pool: Pool) -> None:
    old, _ = await taken_over(pool)
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"big": {"nested": ["a", "b"]}, "small": 1}
    config: Any = {"configurable": {"thread_id": str(old.task_id), "checkpoint_ns": ""}}
    with pytest.raises(LeaseLost):
        await FencedSaver(pool, old.task_id, old.epoch).aput(
            config, checkpoint, {"source": "loop", "step": 0}, {"big": "1", "small": "1"}
        )
    for table in ("checkpoints", "checkpoint_blobs"):
        assert await rows(pool, table, old.task_id) == 0, table


async def test_a_write_that_fails_before_its_fence_is_rolled_back(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writes went to the server already; without a fence behind them they are never
    synced, so they never commit, even though the lease is live."""
    worker_id = await new_worker(pool)
    task_id = await submit(pool)
    claim = await claim_one(pool, worker_id)

    async def broken_fence(*_: Any) -> None:
        raise RuntimeError("the worker died between its writes and its fence")

    monkeypatch.setattr(lease, "fence_last", broken_fence)
    with pytest.raises(RuntimeError, match="between its writes"):
        await FencedSaver(pool, task_id, claim.epoch).aput_writes(
            writes_config(task_id), [("x", 1)], "task-1"
        )
    assert await rows(pool, "checkpoint_writes", task_id) == 0


async def test_fence_last_raises_its_sqlstate_and_locks_a_live_row(
    tx: AsyncConnection[DictRow],
) -> None:
    worker_id = await new_worker(tx)
    await submit(tx)
    claim = await claim_one(tx, worker_id)
    cur = await tx.execute(
        query("lease_fence_last"), {"task_id": claim.task_id, "epoch": claim.epoch}
    )
    assert await cur.fetchall() == [{"lost": None}]
    locks = await count(
        tx,
        "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"
        " AND locktype = 'relation' AND relation = 'tasks'::regclass"
        " AND mode = 'RowShareLock'",
    )
    assert locks == 1
    await tx.execute("SAVEPOINT stale")
    with pytest.raises(psycopg.Error) as raised:
        await tx.execute(
            query("lease_fence_last"), {"task_id": claim.task_id, "epoch": claim.epoch - 1}
        )
    assert lease.is_lease_lost(raised.value)
    assert f"lease on task {claim.task_id} at epoch {claim.epoch - 1} is lost" in str(raised.value)
    await tx.execute("ROLLBACK TO SAVEPOINT stale")
