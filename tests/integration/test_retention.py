"""The reaper prunes finished tasks past the retention, with their whole LangGraph thread, and
leaves everything else alone."""

from __future__ import annotations

from db import outcome
from db.connect import Pool, connect
from outlast.registry import Registry
from reaper.reaper import Reaper, ReaperConfig
from tests.support.queue import claim_one, count, new_worker, submit
from worker.checkpointer import FencedSaver

DAY_S = 86_400.0


async def run_to_completion(pool: Pool, worker_id) -> str:  # type: ignore[no-untyped-def]
    claim = await claim_one(pool, worker_id)
    graph = Registry.from_spec().compiled("pipeline", FencedSaver(pool, claim.task_id, claim.epoch))
    config = {"configurable": {"thread_id": str(claim.task_id)}}
    values = await graph.ainvoke({"text": "Old news."}, config, durability="sync")
    await outcome.complete(pool, worker_id, claim.task_id, claim.epoch, {"n": len(values)})
    return str(claim.task_id)


async def test_finished_tasks_past_retention_are_pruned_with_their_threads(
    pool: Pool, db_url: str
) -> None:
    worker_id = await new_worker(pool)
    await submit(pool)
    old = await run_to_completion(pool, worker_id)
    still_queued = await submit(pool, run_at=None)
    assert await count(pool, "SELECT count(*) FROM checkpoints WHERE thread_id = %s", old) > 0

    conn = await connect(db_url)
    async with conn:
        reaper = Reaper(conn, ReaperConfig(retention_s=30 * DAY_S))
        assert (await reaper.run_once()).tasks_pruned == 0  # finished just now: kept
        await conn.execute(
            "SELECT set_config('outlast.now', (clock_timestamp() + interval '31 days')::text, false)"
        )
        result = await reaper.run_once()
    assert result.tasks_pruned == 1
    for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
        assert await count(pool, f"SELECT count(*) FROM {table} WHERE thread_id = %s", old) == 0  # noqa: S608
    assert await count(pool, "SELECT count(*) FROM task_events WHERE task_id = %s::uuid", old) == 0
    assert await count(pool, "SELECT count(*) FROM tasks WHERE id = %s", still_queued) == 1
