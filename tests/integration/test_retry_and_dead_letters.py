"""Bounded retries with exponential backoff and jitter; dead letter exactly once; redrive."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from db import dead_letters, lease, outcome, tasks
from db.connect import Pool
from db.errors import Conflict
from tests.support.queue import GRAPHS, NO_BACKOFF, claim_one, count, new_worker, submit

NOW = datetime(2030, 1, 1, tzinfo=UTC)
POLICY = outcome.RetryPolicy(base_s=10.0, max_s=25.0)


def failure(retryable: bool = True) -> outcome.Failure:
    return outcome.Failure("ValueError", "bad value", "Traceback ...", retryable=retryable)


async def at(tx, moment: datetime) -> None:  # type: ignore[no-untyped-def]
    await tx.execute(f"SET LOCAL outlast.now = '{moment.isoformat()}'")


async def test_backoff_doubles_with_jitter_then_caps_and_dead_letters_once(tx) -> None:  # type: ignore[no-untyped-def]
    await at(tx, NOW)
    worker_id = await new_worker(tx)
    task_id = await submit(tx, max_attempts=4)
    now = NOW
    for attempt, (low, high) in enumerate([(5, 10), (10, 20), (12.5, 25)], start=1):
        claim = await claim_one(tx, worker_id)
        assert claim.attempt == attempt
        state, run_at = await outcome.fail(tx, worker_id, task_id, claim.epoch, failure(), POLICY)
        assert state == "queued"
        assert timedelta(seconds=low) <= run_at - now <= timedelta(seconds=high)
        now = run_at
        await at(tx, now)
    claim = await claim_one(tx, worker_id)
    state, _ = await outcome.fail(tx, worker_id, task_id, claim.epoch, failure(), POLICY)
    assert state == "failed"
    rows = await dead_letters.list_(tx, dead_letters.Filter("default", task_id=task_id), limit=10)
    assert len(rows) == 1
    letter = rows[0]
    assert (letter["error_type"], letter["error_message"], letter["attempts"]) == (
        "ValueError",
        "bad value",
        4,
    )
    assert [h["attempt"] for h in letter["attempt_history"]] == [1, 2, 3, 4]
    assert letter["traceback"] == "Traceback ..."
    task = await tasks.get(tx, task_id, tenant="default")
    assert task["finished_at"] is not None and task["error"]["type"] == "ValueError"


async def test_non_retryable_error_dead_letters_at_once(tx) -> None:  # type: ignore[no-untyped-def]
    worker_id = await new_worker(tx)
    task_id = await submit(tx, max_attempts=5)
    claim = await claim_one(tx, worker_id)
    state, _ = await outcome.fail(
        tx, worker_id, task_id, claim.epoch, failure(retryable=False), POLICY
    )
    assert state == "failed"
    assert await count(tx, "SELECT count(*) FROM dead_letters WHERE task_id = %s", task_id) == 1


async def test_crash_looping_task_runs_out_of_attempts(tx) -> None:  # type: ignore[no-untyped-def]
    """Attempts count at claim: a task whose worker always dies still ends, in the dead letters."""
    worker_id = await new_worker(tx)
    task_id = await submit(tx, max_attempts=3)
    moment = NOW
    for _ in range(3):
        await at(tx, moment)
        await claim_one(tx, worker_id, ttl_s=5)
        moment += timedelta(seconds=6)
        await at(tx, moment)
        await lease.reap_expired(tx, batch=10, retry=NO_BACKOFF)
    task = await tasks.get(tx, task_id, tenant="default")
    assert (task["state"], task["attempts"], task["error"]["type"]) == ("failed", 3, "LeaseExpired")
    letter = (
        await dead_letters.list_(tx, dead_letters.Filter("default", task_id=task_id), limit=5)
    )[0]
    assert [h["kind"] for h in letter["attempt_history"]] == ["lease_expired"] * 3


async def test_redrive_requeues_keeps_epoch_and_restarts_attempts(tx) -> None:  # type: ignore[no-untyped-def]
    worker_id = await new_worker(tx)
    task_id = await submit(tx, max_attempts=1)
    claim = await claim_one(tx, worker_id)
    await outcome.fail(tx, worker_id, task_id, claim.epoch, failure(), POLICY)
    letter = (
        await dead_letters.list_(tx, dead_letters.Filter("default", task_id=task_id), limit=5)
    )[0]
    task = await dead_letters.redrive_one(tx, letter["id"], max_attempts=2, tenant="default")
    assert (task["state"], task["attempts"], task["max_attempts"]) == ("queued", 0, 2)
    assert task["lease_epoch"] == claim.epoch  # never reset
    again = await claim_one(tx, worker_id)
    assert (again.attempt, again.epoch) == (1, claim.epoch + 1)
    with pytest.raises(Conflict):
        await dead_letters.redrive_one(tx, letter["id"], tenant="default")
    # A second exhaustion writes a second dead letter; the first stays, marked redriven.
    await outcome.fail(tx, worker_id, task_id, again.epoch, failure(retryable=False), POLICY)
    rows = await dead_letters.list_(
        tx, dead_letters.Filter("default", task_id=task_id, include_redriven=True), limit=5
    )
    assert [r["redriven_at"] is None for r in rows] == [False, True]
    assert [len(r["attempt_history"]) for r in rows] == [1, 1]


async def test_two_concurrent_redrives_one_wins(pool: Pool) -> None:
    worker_id = await new_worker(pool)
    task_id = await submit(pool, max_attempts=1)
    claim = await claim_one(pool, worker_id)
    await outcome.fail(pool, worker_id, task_id, claim.epoch, failure(), POLICY)
    letter = (
        await dead_letters.list_(pool, dead_letters.Filter("default", task_id=task_id), limit=5)
    )[0]
    results = await asyncio.gather(
        *(dead_letters.redrive_one(pool, letter["id"], tenant="default") for _ in range(2)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "dict"]
    assert await count(pool, "SELECT count(*) FROM task_events WHERE kind = 'redriven'") == 1


async def test_redrive_by_filter_honours_the_cap(tx) -> None:  # type: ignore[no-untyped-def]
    worker_id = await new_worker(tx)
    for graph in ["flaky"] * 3 + ["pipeline"]:
        task_id = await submit(tx, graph, max_attempts=1)
        claim = await claim_one(tx, worker_id)
        await outcome.fail(tx, worker_id, task_id, claim.epoch, failure(), POLICY)
    redriven = await dead_letters.redrive_many(
        tx, dead_letters.Filter("default", graph="flaky"), limit=2
    )
    assert len(redriven) == 2 and {r["graph"] for r in redriven} == {"flaky"}
    groups = {
        (g["graph"], g["error_type"]): g["count"]
        for g in await dead_letters.groups(tx, tenant="default")
    }
    assert groups == {("flaky", "ValueError"): 1, ("pipeline", "ValueError"): 1}


async def test_two_reapers_at_once_reap_each_lease_once(pool: Pool, db_url: str) -> None:
    worker_id = await new_worker(pool)
    total = 200
    for _ in range(total):
        await submit(pool)

    await lease.claim_many(pool, worker_id, limit=total, ttl_s=0.01, graphs=GRAPHS)
    await asyncio.sleep(0.05)
    from db.connect import connect

    async def reaper() -> int:
        conn = await connect(db_url)
        async with conn:
            reaped = 0
            while n := sum((await lease.reap_expired(conn, batch=7, retry=NO_BACKOFF)).values()):
                reaped += n
            return reaped

    counts = await asyncio.gather(reaper(), reaper())
    assert sum(counts) == total
    assert (
        await count(pool, "SELECT count(*) FROM task_events WHERE kind = 'lease_expired'") == total
    )
    assert await count(pool, "SELECT count(*) FROM tasks WHERE state = 'queued'") == total
