"""SPEC guarantee 8 statement by statement: whatever path a task takes out of `running`, a cancel
requested before it ends the task `cancelled` (with an event row saying how it left), the claim
never picks a task whose cancel was requested, and the schema refuses one that is not running
yet keeps the flag. The paths real processes need are in tests/e2e/test_cancel_takes_effect.py."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from db import lease, outcome, tasks, waits
from db.outcome import Done
from db.waits import NewWait
from tests.support.queue import GRAPHS, NO_BACKOFF, claim_one, complete, new_worker, submit

POLICY = outcome.RetryPolicy(base_s=0.01, max_s=0.01)


async def running_then_cancelled(tx: Any, **fields: Any) -> tuple[uuid.UUID, uuid.UUID, int]:
    """A task claimed by a new worker, whose cancel was then requested: (worker, task, epoch)."""
    worker_id = await new_worker(tx)
    task_id = await submit(tx, **fields)
    claim = await claim_one(tx, worker_id)
    assert (await tasks.cancel(tx, task_id, tenant="default", reason="stop"))["state"] == "running"
    return worker_id, task_id, claim.epoch


async def last_event(tx: Any, task_id: uuid.UUID) -> dict[str, Any]:
    cur = await tx.execute(
        "SELECT * FROM task_events WHERE task_id = %s ORDER BY id DESC LIMIT 1", (task_id,)
    )
    row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def assert_cancelled(tx: Any, task_id: uuid.UUID, **detail: Any) -> dict[str, Any]:
    task = await tasks.get(tx, task_id, tenant="default")
    assert (task["state"], task["worker_id"]) == ("cancelled", None)
    assert task["finished_at"] is not None
    event = await last_event(tx, task_id)
    assert (event["kind"], event["from_state"], event["to_state"]) == (
        "cancelled",
        "running",
        "cancelled",
    )
    assert detail.items() <= (event["detail"] or {}).items()
    return task


async def test_a_retryable_failure_after_a_cancel_cancels(tx) -> None:  # type: ignore[no-untyped-def]
    worker_id, task_id, epoch = await running_then_cancelled(tx, max_attempts=3)
    failure = outcome.Failure("ValueError", "bad", "Traceback ...", retryable=True)
    state, _ = await outcome.fail(tx, worker_id, task_id, epoch, failure, POLICY)
    assert state == "cancelled"
    task = await assert_cancelled(tx, task_id, after="failed")
    assert task["error"]["type"] == "ValueError"  # the attempt's error stays on the row
    cur = await tx.execute("SELECT count(*) AS n FROM dead_letters WHERE task_id = %s", (task_id,))
    assert (await cur.fetchone())["n"] == 0


async def test_a_non_retryable_failure_after_a_cancel_cancels(tx) -> None:  # type: ignore[no-untyped-def]
    worker_id, task_id, epoch = await running_then_cancelled(tx, max_attempts=3)
    failure = outcome.Failure("NonRetryable", "no", None, retryable=False)
    assert (await outcome.fail(tx, worker_id, task_id, epoch, failure, POLICY))[0] == "cancelled"
    await assert_cancelled(tx, task_id, after="failed")


async def test_a_release_after_a_cancel_cancels(tx) -> None:  # type: ignore[no-untyped-def]
    worker_id, task_id, epoch = await running_then_cancelled(tx)
    assert await lease.release(tx, worker_id, task_id, epoch)
    task = await assert_cancelled(tx, task_id, after="released")
    assert task["attempts"] == 1  # the attempt ran; nothing gives it back


async def test_parking_on_a_wait_after_a_cancel_cancels(tx) -> None:  # type: ignore[no-untyped-def]
    worker_id, task_id, epoch = await running_then_cancelled(tx)
    asked = [NewWait("interrupt-1", "approval", {"action": "pay"})]
    state = await waits.park(tx, worker_id, task_id, epoch, asked, default_timeout_s=60)
    assert state == "cancelled"
    await assert_cancelled(tx, task_id, after="waiting")
    assert (
        await waits.list_for_task(tx, task_id, tenant="default") == []
    )  # nobody is asked about a cancelled task


async def test_a_completion_racing_a_cancel_cancels_and_keeps_the_result(tx) -> None:  # type: ignore[no-untyped-def]
    worker_id, task_id, epoch = await running_then_cancelled(tx)
    await complete(tx, worker_id, task_id, epoch, {"answer": 42})
    task = await assert_cancelled(tx, task_id, after="completed")
    assert task["result"] == {"answer": 42}


async def test_a_group_completion_racing_a_cancel_cancels_only_that_task(tx) -> None:  # type: ignore[no-untyped-def]
    worker_id, task_id, epoch = await running_then_cancelled(tx)
    other_id = await submit(tx)
    other = await claim_one(tx, worker_id)
    done = [
        Done(task_id, epoch, json.dumps({"answer": 1})),
        Done(other_id, other.epoch, json.dumps({"answer": 2})),
    ]
    assert await outcome.complete_many(tx, worker_id, done) == {task_id, other_id}
    assert (await assert_cancelled(tx, task_id, after="completed"))["result"] == {"answer": 1}
    assert (await tasks.get(tx, other_id, tenant="default"))["state"] == "completed"


@pytest.mark.parametrize("reason", ["lease_expired", "timed_out"])
async def test_the_reaper_cancels_instead_of_requeueing(tx, reason: str) -> None:  # type: ignore[no-untyped-def]
    fields = {"timeout_s": 1} if reason == "timed_out" else {}
    _, task_id, _ = await running_then_cancelled(tx, max_attempts=3, **fields)
    later = datetime.now(UTC) + timedelta(seconds=5 if reason == "timed_out" else 120)
    await tx.execute(f"SET LOCAL outlast.now = '{later.isoformat()}'")
    assert (await lease.reap_expired(tx, batch=10, retry=NO_BACKOFF))["cancelled"] == 1
    assert (await tasks.get(tx, task_id, tenant="default"))["state"] == "cancelled"
    event = await last_event(tx, task_id)
    assert (event["kind"], event["to_state"]) == (reason, "cancelled")


async def test_the_claim_skips_a_queued_task_whose_cancel_was_requested(tx) -> None:  # type: ignore[no-untyped-def]
    """The schema refuses that row now; the claim's own predicate is the second guard, so this
    drops the CHECK in the test's transaction to reach it."""
    await tx.execute("ALTER TABLE tasks DROP CONSTRAINT tasks_cancel_requested_stops")
    worker_id = await new_worker(tx)
    task_id = await submit(tx)
    await tx.execute("UPDATE tasks SET cancel_requested = true WHERE id = %s", (task_id,))
    assert await lease.claim_many(tx, worker_id, limit=10, ttl_s=30, graphs=GRAPHS) == []


@pytest.mark.parametrize("state", ["queued", "waiting_for_input", "completed", "failed"])
async def test_the_schema_refuses_a_requested_cancel_outside_running(tx, state: str) -> None:  # type: ignore[no-untyped-def]
    task_id = await submit(tx)
    await tx.execute("SAVEPOINT refused")
    with pytest.raises(psycopg.errors.CheckViolation, match="tasks_cancel_requested_stops"):
        await tx.execute(
            "UPDATE tasks SET state = %s, cancel_requested = true, error = '{}',"
            " finished_at = CASE WHEN %s IN ('completed', 'failed') THEN now() END"
            " WHERE id = %s",
            (state, state, task_id),
        )
    await tx.execute("ROLLBACK TO SAVEPOINT refused")


def test_the_migration_settles_rows_the_old_statements_left(db_url: str) -> None:
    """Revision 0005 cancels a queued or waiting task that kept its flag (with an event) and
    clears the flag of a finished one, before it adds the CHECK."""
    from alembic import command

    from db import migrate

    config = migrate.alembic_config(db_url)
    command.downgrade(config, "0005-1")
    states = ["queued", "waiting_for_input", "completed", "failed"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = {
            state: conn.execute(
                "INSERT INTO tasks (graph, max_attempts, state, cancel_requested, error,"
                " finished_at) VALUES ('x', 1, %s, true, '{}',"
                " CASE WHEN %s IN ('completed', 'failed') THEN now() END) RETURNING id",
                (state, state),
            ).fetchone()[0]  # type: ignore[index]
            for state in states
        }
    migrate.upgrade(db_url)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT id, state, cancel_requested FROM tasks").fetchall()
        after = {task_id: (state, flag) for task_id, state, flag in rows}
        events = conn.execute(
            "SELECT task_id, from_state FROM task_events WHERE kind = 'cancelled'"
        ).fetchall()
    assert [after[ids[s]] for s in states] == [
        ("cancelled", True),
        ("cancelled", True),
        ("completed", False),
        ("failed", False),
    ]
    assert sorted(events) == sorted(
        [(ids["queued"], "queued"), (ids["waiting_for_input"], "waiting_for_input")]
    )
