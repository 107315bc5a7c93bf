"""SPEC guarantee 8 through real worker processes: a cancel accepted while a task runs ends it
`cancelled`, whichever way the attempt leaves `running` (here: it fails with attempts left, or
the worker is stopped with SIGTERM and gives the task back). Before, both left the task queued
with its flag set: it ran again, and a second cancel answered 409."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path
from typing import Any

from tests.support.observe import Observer
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

FINISHED = ("completed", "failed", "cancelled")
GRAPHS = TEST_ENV["OUTLAST_GRAPHS"] + ",gated=tests.support.graphs:gated"


def gated_task(observe: Observer, tmp_path: Path, **fields: Any) -> tuple[uuid.UUID, Path]:
    """Submit a `gated` task and wait until its node runs; returns (task id, the go file)."""
    started, go = tmp_path / "started", tmp_path / "go"
    task_input = {"started": str(started), "go": str(go), "fail": fields.pop("fail", False)}
    task_id = observe.submit("gated", task_input, **fields)
    wait_until(started.exists, 30, message="the node started")
    return task_id, go


def cancel_event(observe: Observer, task_id: uuid.UUID) -> dict[str, Any]:
    rows = observe.rows(
        "SELECT * FROM task_events WHERE task_id = %s AND kind = 'cancelled'", task_id
    )
    assert len(rows) == 1, observe.events(task_id)
    return rows[0]


def test_an_attempt_that_fails_after_a_cancel_ends_cancelled_not_retried(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    processes.worker(concurrency=1, OUTLAST_GRAPHS=GRAPHS)
    task_id, go = gated_task(observe, tmp_path, fail=True, max_attempts=3)
    assert observe.call("tasks_cancel", task_id=task_id, reason="stop")[0]["state"] == "running"
    go.touch()  # the node now raises: an attempt with attempts left would be retried
    wait_until(lambda: observe.state(task_id) in FINISHED, 30, message="the task finished")
    task = observe.task(task_id)
    assert (task["state"], task["attempts"]) == ("cancelled", 1)
    assert task["error"]["type"] == "RuntimeError"  # the attempt's real error is kept
    assert cancel_event(observe, task_id)["from_state"] == "running"
    assert observe.value("SELECT count(*) FROM dead_letters WHERE task_id = %s", task_id) == 0


def test_a_task_released_on_sigterm_after_a_cancel_ends_cancelled(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    worker = processes.worker(concurrency=1, OUTLAST_GRAPHS=GRAPHS, OUTLAST_LEASE_TTL_S="60")
    task_id, _ = gated_task(observe, tmp_path)
    observe.call("tasks_cancel", task_id=task_id, reason="stop")
    worker.signal(signal.SIGTERM)  # the node holds: the worker gives the task back
    assert worker.wait(30) == 0
    assert observe.state(task_id) == "cancelled"
    event = cancel_event(observe, task_id)
    assert (event["from_state"], event["to_state"]) == ("running", "cancelled")
    assert observe.call("tasks_cancel", task_id=task_id, reason="again") == []
