"""One committer: every worker write lands only under the claimed epoch with a live lease."""

from __future__ import annotations

import pytest
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db import lease, outcome
from db.connect import Pool
from db.errors import LeaseLost
from outlast.registry import Registry
from tests.support.queue import NO_BACKOFF, claim_one, complete, count, new_worker, submit
from worker.checkpointer import FencedSaver

RETRY = outcome.RetryPolicy(base_s=1.0, max_s=10.0)
FAILURE = outcome.Failure("Boom", "boom", None, retryable=True)


async def expire_and_reclaim(tx: AsyncConnection[DictRow], ttl_s: float = 30.0):  # type: ignore[no-untyped-def]
    """Claim a task, let the clock pass its lease, reap it and claim it again: two epochs."""
    await tx.execute("SET LOCAL outlast.now = '2030-01-01T00:00:00Z'")
    worker_a, worker_b = await new_worker(tx), await new_worker(tx)
    await submit(tx)
    old = await claim_one(tx, worker_a, ttl_s=ttl_s)
    await tx.execute("SET LOCAL outlast.now = '2030-01-01T00:01:00Z'")
    assert (await lease.heartbeat(tx, worker_a, {old.task_id: old.epoch}, ttl_s=ttl_s)) == {}

    assert (await lease.reap_expired(tx, batch=10, retry=NO_BACKOFF))["queued"] == 1
    new = await claim_one(tx, worker_b, ttl_s=ttl_s)
    assert new.epoch == old.epoch + 1
    return worker_a, old, worker_b, new


async def test_stale_epoch_cannot_complete_fail_heartbeat_or_release(tx) -> None:  # type: ignore[no-untyped-def]
    worker_a, old, worker_b, new = await expire_and_reclaim(tx)
    with pytest.raises(LeaseLost):
        await complete(tx, worker_a, old.task_id, old.epoch, {"zombie": True})
    with pytest.raises(LeaseLost):
        await outcome.fail(tx, worker_a, old.task_id, old.epoch, FAILURE, RETRY)
    assert not await lease.release(tx, worker_a, old.task_id, old.epoch)
    assert await lease.heartbeat(tx, worker_a, {old.task_id: old.epoch}, ttl_s=30) == {}
    # The holder of the new epoch still writes.
    assert await lease.heartbeat(tx, worker_b, {new.task_id: new.epoch}, ttl_s=30) == {
        new.task_id: False
    }
    await complete(tx, worker_b, new.task_id, new.epoch, {"ok": True})
    assert await count(tx, "SELECT count(*) FROM task_events WHERE kind = 'completed'") == 1


async def test_expired_lease_is_dead_even_before_the_reaper_runs(tx) -> None:  # type: ignore[no-untyped-def]
    await tx.execute("SET LOCAL outlast.now = '2030-01-01T00:00:00Z'")
    worker_id = await new_worker(tx)
    await submit(tx)
    claim = await claim_one(tx, worker_id, ttl_s=5)
    await tx.execute("SET LOCAL outlast.now = '2030-01-01T00:00:06Z'")
    with pytest.raises(LeaseLost):
        await complete(tx, worker_id, claim.task_id, claim.epoch, {})


async def test_fence_refuses_a_stale_epoch(tx) -> None:  # type: ignore[no-untyped-def]
    _, old, _, new = await expire_and_reclaim(tx)
    with pytest.raises(LeaseLost):
        await lease.fence(tx, old.task_id, old.epoch)
    await lease.fence(tx, new.task_id, new.epoch)


async def test_zombie_checkpoint_write_rolls_back_whole(pool: Pool) -> None:
    """Through LangGraph itself: a saver bound to a stale epoch raises and writes no row."""
    worker_a, worker_b = await new_worker(pool), await new_worker(pool)
    task_id = await submit(pool, input={"text": "One. Two."})
    old = await claim_one(pool, worker_a, ttl_s=30)
    async with pool.connection() as conn:  # an operator-visible takeover: expire, reap, reclaim
        await conn.execute(
            "UPDATE tasks SET lease_expires_at = clock_timestamp() WHERE id = %s", (task_id,)
        )

    await lease.reap_expired(pool, batch=10, retry=NO_BACKOFF)
    await claim_one(pool, worker_b)
    graph = Registry.from_spec().compiled("pipeline", FencedSaver(pool, task_id, old.epoch))
    with pytest.raises(LeaseLost):
        await graph.ainvoke(
            old.input, {"configurable": {"thread_id": str(task_id)}}, durability="sync"
        )
    assert (
        await count(pool, "SELECT count(*) FROM checkpoints WHERE thread_id = %s", str(task_id))
        == 0
    )
    assert (
        await count(
            pool, "SELECT count(*) FROM checkpoint_writes WHERE thread_id = %s", str(task_id)
        )
        == 0
    )
    assert (
        await count(
            pool, "SELECT count(*) FROM checkpoint_blobs WHERE thread_id = %s", str(task_id)
        )
        == 0
    )
    assert (
        await count(
            pool, "SELECT count(*) FROM checkpoint_order WHERE thread_id = %s", str(task_id)
        )
        == 0
    )


async def test_checkpoints_are_numbered_in_the_order_they_were_written(pool: Pool) -> None:
    """Each fenced checkpoint write numbers its checkpoint (ADR 0007): the head is the last one
    written, whatever its id."""
    worker = await new_worker(pool)
    task_id = await submit(pool, input={"text": "One. Two."})
    claim = await claim_one(pool, worker)
    saver = FencedSaver(pool, task_id, claim.epoch)
    graph = Registry.from_spec().compiled("pipeline", saver)
    config = {"configurable": {"thread_id": str(task_id)}}
    await graph.ainvoke(claim.input, config, durability="sync")
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT o.checkpoint_id, o.lease_epoch, c.parent_checkpoint_id FROM checkpoint_order o"
            " JOIN checkpoints c USING (thread_id, checkpoint_ns, checkpoint_id)"
            " WHERE thread_id = %s ORDER BY seq",
            (str(task_id),),
        )
        rows = await cur.fetchall()
    assert {r["lease_epoch"] for r in rows} == {claim.epoch}
    assert [r["parent_checkpoint_id"] for r in rows[1:]] == [r["checkpoint_id"] for r in rows[:-1]]
    head = await saver.aget_tuple(config)
    assert head is not None and head.checkpoint["id"] == rows[-1]["checkpoint_id"]
