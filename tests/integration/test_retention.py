"""The reaper prunes finished tasks past the retention, with their whole LangGraph thread, and
leaves everything else alone."""

from __future__ import annotations

import uuid

from db import dead_letters, outcome
from db.connect import Pool, connect
from outlast.registry import Registry
from reaper.reaper import Reaper, ReaperConfig
from tests.support.queue import claim_one, complete, count, new_worker, submit
from worker.checkpointer import FencedSaver

DAY_S = 86_400.0


async def run_to_completion(pool: Pool, worker_id) -> str:  # type: ignore[no-untyped-def]
    claim = await claim_one(pool, worker_id)
    graph = Registry.from_spec().compiled("pipeline", FencedSaver(pool, claim.task_id, claim.epoch))
    config = {"configurable": {"thread_id": str(claim.task_id)}}
    values = await graph.ainvoke({"text": "Old news."}, config, durability="sync")
    await complete(pool, worker_id, claim.task_id, claim.epoch, {"n": len(values)})
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


FAILURE = outcome.Failure("ValueError", "bad value", None, retryable=False)
POLICY = outcome.RetryPolicy(base_s=1.0, max_s=1.0)


async def dead_lettered(pool: Pool, worker_id) -> str:  # type: ignore[no-untyped-def]
    """A task that failed for good: failed, with its open dead letter."""
    claim = await claim_one(pool, worker_id)
    await outcome.fail(pool, worker_id, claim.task_id, claim.epoch, FAILURE, POLICY)
    return str(claim.task_id)


async def reap_on(db_url: str, days: float, config: ReaperConfig):  # type: ignore[no-untyped-def]
    """One reaper pass with the database clock `days` ahead."""
    conn = await connect(db_url)
    async with conn:
        await conn.execute(
            "SELECT set_config('outlast.now', (clock_timestamp() + make_interval(days => %s))::text,"
            " false)",
            (days,),
        )
        return await Reaper(conn, config).run_once()


async def test_open_dead_letter_and_its_failed_task_outlive_the_retention(
    pool: Pool, db_url: str
) -> None:
    worker_id = await new_worker(pool)
    await submit(pool)
    failed = await dead_lettered(pool, worker_id)
    config = ReaperConfig(retention_s=30 * DAY_S, dead_letter_retention_s=30 * DAY_S)
    result = await reap_on(db_url, 400, config)
    assert (result.tasks_pruned, result.dead_letters_pruned) == (0, 0)
    assert await count(pool, "SELECT count(*) FROM tasks WHERE id = %s", failed) == 1
    assert await count(pool, "SELECT count(*) FROM dead_letters WHERE task_id = %s", failed) == 1
    assert await count(pool, "SELECT count(*) FROM task_events WHERE task_id = %s", failed) > 0


async def test_redriven_dead_letter_is_kept_for_its_own_retention(pool: Pool, db_url: str) -> None:
    worker_id = await new_worker(pool)
    await submit(pool, max_attempts=1)
    task_id = await dead_lettered(pool, worker_id)
    (letter,) = await dead_letters.list_(
        pool, dead_letters.Filter("default", task_id=uuid.UUID(task_id)), limit=1
    )
    await dead_letters.redrive_one(pool, letter["id"], tenant="default")
    claim = await claim_one(pool, worker_id)
    await complete(pool, worker_id, claim.task_id, claim.epoch, {"ok": True})
    config = ReaperConfig(retention_s=30 * DAY_S, dead_letter_retention_s=60 * DAY_S)
    # Past the task's retention, within the dead letter's: both stay (the cascade would take it).
    assert (await reap_on(db_url, 31, config)).tasks_pruned == 0
    assert await count(pool, "SELECT count(*) FROM dead_letters WHERE task_id = %s", task_id) == 1
    # Past both: the dead letter goes, then the task.
    result = await reap_on(db_url, 61, config)
    assert (result.dead_letters_pruned, result.tasks_pruned) == (1, 1)
    # A dead-letter retention of 0 keeps redriven ones, and so their tasks, forever.
    await submit(pool, max_attempts=1)
    other = await dead_lettered(pool, worker_id)
    (letter,) = await dead_letters.list_(
        pool, dead_letters.Filter("default", task_id=uuid.UUID(other)), limit=1
    )
    await dead_letters.redrive_one(pool, letter["id"], tenant="default")
    claim = await claim_one(pool, worker_id)
    await complete(pool, worker_id, claim.task_id, claim.epoch, {"ok": True})
    forever = ReaperConfig(retention_s=30 * DAY_S, dead_letter_retention_s=0)
    assert (await reap_on(db_url, 4000, forever)).tasks_pruned == 0
    assert await count(pool, "SELECT count(*) FROM dead_letters WHERE task_id = %s", other) == 1


async def test_resolved_dead_letter_goes_by_its_retention_then_its_task(
    pool: Pool, db_url: str
) -> None:
    worker_id = await new_worker(pool)
    await submit(pool, max_attempts=1)
    task_id = await dead_lettered(pool, worker_id)
    (letter,) = await dead_letters.list_(
        pool, dead_letters.Filter("default", task_id=uuid.UUID(task_id)), limit=1
    )
    await dead_letters.resolve(pool, letter["id"], note="not worth a rerun", tenant="default")
    config = ReaperConfig(retention_s=30 * DAY_S, dead_letter_retention_s=60 * DAY_S)
    assert (await reap_on(db_url, 31, config)).tasks_pruned == 0
    result = await reap_on(db_url, 61, config)
    assert (result.dead_letters_pruned, result.tasks_pruned) == (1, 1)
    assert await count(pool, "SELECT count(*) FROM tasks WHERE id = %s", task_id) == 0
