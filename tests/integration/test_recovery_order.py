"""A task the reaper takes back is claimable at once the first time (recovery stays within TTL +
reaper interval); from its second lost lease on it waits out a backoff, as a failed attempt does.
Either way it keeps its place in the claim order: it is not put behind the tasks that became
ready after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db import lease, outcome, tasks
from tests.support.queue import GRAPHS, claim_one, count, new_worker, submit

T0 = datetime(2030, 1, 1, tzinfo=UTC)
POLICY = outcome.RetryPolicy(base_s=10.0, max_s=25.0)
BACKLOG = 10_000


async def at(tx, moment: datetime) -> None:  # type: ignore[no-untyped-def]
    await tx.execute(f"SET LOCAL outlast.now = '{moment.isoformat()}'")


async def run_at(tx, task_id) -> datetime:  # type: ignore[no-untyped-def]
    cur = await tx.execute("SELECT run_at FROM tasks WHERE id = %s", (task_id,))
    row = await cur.fetchone()
    return row["run_at"]  # type: ignore[no-any-return]


async def test_reaped_lease_is_requeued_after_exponential_backoff_with_jitter(tx) -> None:  # type: ignore[no-untyped-def]
    """None after the first lost lease; then outcome_fail's backoff one attempt behind: base
    doubling per attempt, equal jitter, capped."""
    worker_id = await new_worker(tx)
    await at(tx, T0)
    task_id = await submit(tx, max_attempts=5)
    now = T0
    claim = await claim_one(tx, worker_id, ttl_s=5)
    now += timedelta(seconds=6)  # the worker died: its lease ran out
    await at(tx, now)
    assert (await lease.reap_expired(tx, batch=10, retry=POLICY))["queued"] == 1
    assert await run_at(tx, task_id) == now  # claimable at once: recovery is TTL + reaper pass
    for attempt, (low, high) in enumerate([(5, 10), (10, 20), (12.5, 25)], start=2):
        claim = await claim_one(tx, worker_id, ttl_s=5)
        assert claim.attempt == attempt
        now += timedelta(seconds=6)  # the worker died: its lease ran out
        await at(tx, now)
        assert (await lease.reap_expired(tx, batch=10, retry=POLICY))["queued"] == 1
        due = await run_at(tx, task_id)
        assert timedelta(seconds=low) <= due - now <= timedelta(seconds=high)
        await at(tx, due - timedelta(milliseconds=1))
        assert await lease.claim_many(tx, worker_id, limit=1, ttl_s=5, graphs=GRAPHS) == []
        now = due
        await at(tx, now)
    assert (await claim_one(tx, worker_id)).attempt == 5
    retry_ats = await count(
        tx,
        "SELECT count(*) FROM task_events WHERE task_id = %s AND kind = 'lease_expired'"
        " AND detail->>'retry_at' IS NOT NULL",
        task_id,
    )
    assert retry_ats == 4


async def test_reaped_task_is_claimed_first_after_its_backoff_despite_a_newer_backlog(tx) -> None:  # type: ignore[no-untyped-def]
    """10k tasks became ready after it; once its backoff is over, the next claim takes it."""
    worker_id = await new_worker(tx)
    await at(tx, T0)
    reaped = await submit(tx)
    claim = await claim_one(tx, worker_id, ttl_s=5)
    assert claim.task_id == reaped
    await at(tx, T0 + timedelta(seconds=1))
    newer = [tasks.NewTask(graph="pipeline", input={}, max_attempts=3)] * BACKLOG
    await tasks.insert_many(tx, newer, tenant="default")
    now = T0 + timedelta(seconds=6)
    await at(tx, now)
    assert (await lease.reap_expired(tx, batch=10, retry=POLICY))["queued"] == 1
    # The first lost lease: no backoff, and the next claim takes it ahead of the backlog.
    again = await lease.claim_many(tx, worker_id, limit=10, ttl_s=5, graphs=GRAPHS)
    assert again[0].task_id == reaped
    now += timedelta(seconds=6)  # its second worker died too
    await at(tx, now)
    assert (await lease.reap_expired(tx, batch=20, retry=POLICY))["queued"] == 10
    due = await run_at(tx, reaped)
    assert due > now
    # During its backoff the backlog is served, and the reaped task is passed over.
    first = await lease.claim_many(tx, worker_id, limit=10, ttl_s=30, graphs=GRAPHS)
    assert len(first) == 10 and reaped not in {c.task_id for c in first}
    await at(tx, due)
    after = await lease.claim_many(tx, worker_id, limit=10, ttl_s=30, graphs=GRAPHS)
    assert after[0].task_id == reaped  # the first claim after its backoff, ahead of the backlog


async def test_failed_attempt_keeps_its_place_after_backoff(tx) -> None:  # type: ignore[no-untyped-def]
    """The same order holds for a retry scheduled by outcome_fail."""
    worker_id = await new_worker(tx)
    await at(tx, T0)
    retried = await submit(tx)
    claim = await claim_one(tx, worker_id)
    await at(tx, T0 + timedelta(seconds=1))
    for _ in range(20):
        await submit(tx)
    failure = outcome.Failure("ValueError", "bad", None, retryable=True)
    _, due = await outcome.fail(tx, worker_id, retried, claim.epoch, failure, POLICY)
    await at(tx, due)
    after = await lease.claim_many(tx, worker_id, limit=5, ttl_s=30, graphs=GRAPHS)
    assert after[0].task_id == retried
