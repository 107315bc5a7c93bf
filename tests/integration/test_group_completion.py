"""Group commit of completions (worker/completions.py, db outcome_complete_many): many tasks finish
in one fenced statement; a lost lease or a bad result spoils only its own task."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from db import lease, outcome
from db.connect import Pool, connect
from db.errors import LeaseLost
from tests.integration.test_fencing import expire_and_reclaim
from tests.support.queue import GRAPHS, count, new_worker, submit
from worker.completions import Completions


async def test_complete_many_lands_live_leases_and_leaves_a_lost_one(tx) -> None:  # type: ignore[no-untyped-def]
    worker_a, stale, worker_b, taken = await expire_and_reclaim(tx)
    for _ in range(2):
        await submit(tx)
    live = await lease.claim_many(tx, worker_a, limit=2, ttl_s=30, graphs=GRAPHS)
    done = [outcome.Done(c.task_id, c.epoch, f'{{"i": {i}}}') for i, c in enumerate(live)]
    landed = await outcome.complete_many(
        tx, worker_a, [outcome.Done(stale.task_id, stale.epoch, '{"zombie": true}'), *done]
    )
    assert landed == {c.task_id for c in live}
    for i, claim in enumerate(live):
        cur = await tx.execute("SELECT state, result FROM tasks WHERE id = %s", (claim.task_id,))
        assert await cur.fetchone() == {"state": "completed", "result": {"i": i}}
    # The stale epoch wrote nothing: the task is still running for worker_b, no result.
    cur = await tx.execute(
        "SELECT state, result, worker_id FROM tasks WHERE id = %s", (taken.task_id,)
    )
    assert await cur.fetchone() == {"state": "running", "result": None, "worker_id": worker_b}
    events = "SELECT count(*) FROM task_events WHERE kind = 'completed' AND worker_id = %s"
    assert await count(tx, events, worker_a) == 2


async def _claimed(pool: Pool, n: int) -> tuple[uuid.UUID, list[lease.Claim]]:
    worker_id = await new_worker(pool)
    for _ in range(n):
        await submit(pool)
    return worker_id, await lease.claim_many(pool, worker_id, limit=n, ttl_s=30, graphs=GRAPHS)


async def test_concurrent_completions_share_one_statement(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker_id, claims = await _claimed(pool, 10)
    statements: list[int] = []
    real = outcome.complete_many

    async def counted(db, worker, done):  # type: ignore[no-untyped-def]
        statements.append(len(done))
        return await real(db, worker, done)

    monkeypatch.setattr(outcome, "complete_many", counted)
    completions = Completions(pool, worker_id)
    await asyncio.gather(
        *(completions.complete(c.task_id, c.epoch, '{"ok": true}') for c in claims)
    )
    assert statements == [10]
    assert await count(pool, "SELECT count(*) FROM tasks WHERE state = 'completed'") == 10


async def test_a_result_postgres_refuses_fails_only_its_own_task(pool: Pool) -> None:
    worker_id, claims = await _claimed(pool, 4)
    completions = Completions(pool, worker_id)
    bad = claims[2]
    results = await asyncio.gather(
        *(
            completions.complete(c.task_id, c.epoch, "{not json" if c is bad else '{"ok": 1}')
            for c in claims
        ),
        return_exceptions=True,
    )
    assert isinstance(results[2], psycopg.errors.InvalidTextRepresentation)
    assert [r for i, r in enumerate(results) if i != 2] == [None, None, None]
    states = "SELECT count(*) FROM tasks WHERE state = %s"
    assert (await count(pool, states, "completed"), await count(pool, states, "running")) == (3, 1)


async def test_an_unreachable_database_reaches_every_runner_of_the_batch_at_once(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker_id, claims = await _claimed(pool, 3)
    statements: list[int] = []

    async def unreachable(db, worker, done):  # type: ignore[no-untyped-def]
        statements.append(len(done))
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(outcome, "complete_many", unreachable)
    completions = Completions(pool, worker_id)
    results = await asyncio.gather(
        *(completions.complete(c.task_id, c.epoch, "{}") for c in claims), return_exceptions=True
    )
    assert all(isinstance(r, psycopg.OperationalError) for r in results)
    assert statements == [3]  # not retried one by one
    assert await count(pool, "SELECT count(*) FROM tasks WHERE state = 'running'") == 3


async def test_a_lost_lease_raises_for_its_runner_only(pool: Pool) -> None:
    worker_id, claims = await _claimed(pool, 3)
    completions = Completions(pool, worker_id)
    lost = claims[0]
    results = await asyncio.gather(
        completions.complete(lost.task_id, lost.epoch + 1, "{}"),  # an epoch it never held
        *(completions.complete(c.task_id, c.epoch, "{}") for c in claims[1:]),
        return_exceptions=True,
    )
    assert isinstance(results[0], LeaseLost)
    assert results[1:] == [None, None]


async def test_heartbeat_and_group_completion_of_one_worker_do_not_deadlock(
    pool: Pool, db_url: str
) -> None:
    """Both statements lock many of one worker's task rows; they lock them in the same order.
    Each round runs them at once on two connections, the completion given the ids reversed."""
    worker_id = await new_worker(pool)
    beat = await connect(db_url)
    finish = await connect(db_url)
    async with beat, finish:
        for _ in range(15):
            for _ in range(20):
                await submit(pool)
            claims = await lease.claim_many(pool, worker_id, limit=20, ttl_s=30, graphs=GRAPHS)
            held = {c.task_id: c.epoch for c in claims}
            done = [outcome.Done(c.task_id, c.epoch, "{}") for c in reversed(claims)]
            answer, landed = await asyncio.gather(
                lease.heartbeat(beat, worker_id, held, ttl_s=30),
                outcome.complete_many(finish, worker_id, done),
            )
            assert landed == set(held)
            assert set(answer) <= set(held)  # extended the leases not yet completed, if any
    assert await count(pool, "SELECT count(*) FROM tasks WHERE state = 'completed'") == 300


async def test_two_writers_write_two_batches_at_once_and_none_is_left_behind(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two writers, a batch that finishes while the first is being written gets its own
    statement at once; a third waits for a free writer; every completion lands."""
    worker_id, claims = await _claimed(pool, 9)
    real = outcome.complete_many
    in_flight, most, statements = 0, 0, []
    gate = asyncio.Event()

    async def slow(db, worker, done):  # type: ignore[no-untyped-def]
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        statements.append(len(done))
        await gate.wait()
        try:
            return await real(db, worker, done)
        finally:
            in_flight -= 1

    monkeypatch.setattr(outcome, "complete_many", slow)
    completions = Completions(pool, worker_id, writers=2)

    def batch(part: list[lease.Claim]) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(completions.complete(c.task_id, c.epoch, "{}")) for c in part]

    first = batch(claims[:3])
    await asyncio.sleep(0.05)
    second = batch(claims[3:6])
    await asyncio.sleep(0.05)
    third = batch(claims[6:])  # both writers busy: queued for whichever is free first
    await asyncio.sleep(0.05)
    assert statements == [3, 3] and most == 2
    gate.set()
    await asyncio.gather(*first, *second, *third)
    assert sorted(statements) == [3, 3, 3] and most == 2
    assert await count(pool, "SELECT count(*) FROM tasks WHERE state = 'completed'") == 9
    # And a completion after the writers went idle is written too.
    worker_id, [late] = await _claimed(pool, 1)
    late_completions = Completions(pool, worker_id, writers=2)
    await asyncio.wait_for(late_completions.complete(late.task_id, late.epoch, "{}"), 10)
