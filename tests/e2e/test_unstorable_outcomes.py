"""Every outcome is recorded, through a real worker: a result Postgres cannot store fails the
task at once with a clear message (it would fail the same way on every retry); an error whose
message or traceback Postgres would refuse is stored sanitised, with its real type, and a
non-retryable one is never retried. Before, the refused write crashed the runner: the lease
expired, the reaper retried the task until it was exhausted, and the dead letter said
`LeaseExpired` with no traceback."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.observe import Observer
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

FINISHED = ("completed", "failed", "cancelled")
GRAPHS = TEST_ENV["OUTLAST_GRAPHS"] + ",asking=tests.support.graphs:asking"


def finish(processes: Processes, observe: Observer, graph: str, task_input: Any) -> uuid.UUID:
    if not processes.started:
        processes.worker(OUTLAST_GRAPHS=GRAPHS)
        processes.reaper()  # so a crashed runner's task comes back (as it did before the fix)
    task_id = observe.submit(graph, task_input, max_attempts=3)
    wait_until(lambda: observe.state(task_id) in FINISHED, 60, message="the task finished")
    return task_id


def dead_letter(observe: Observer, task_id: uuid.UUID) -> dict[str, Any]:
    rows = observe.rows("SELECT * FROM dead_letters WHERE task_id = %s", task_id)
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("kind", ["nan", "infinity", "huge_int"])
def test_a_result_that_cannot_be_stored_fails_the_task_at_once(
    processes: Processes, observe: Observer, kind: str
) -> None:
    task_id = finish(processes, observe, "unstorable", {"kind": kind})
    task = observe.task(task_id)
    assert (task["state"], task["attempts"], task["result"]) == ("failed", 1, None)
    assert task["error"]["type"] == "UnstorableValue"
    assert "result cannot be stored" in task["error"]["message"]
    letter = dead_letter(observe, task_id)
    assert letter["error_type"] == "UnstorableValue"
    assert "UnstorableValue" in letter["traceback"]


@pytest.mark.parametrize(
    ("kind", "stored"), [("surrogate", {"name": "caf\ufffd"}), ("nul", "a\ufffdb")]
)
def test_text_postgres_refuses_in_a_result_is_replaced(
    processes: Processes, observe: Observer, kind: str, stored: Any
) -> None:
    task_id = finish(processes, observe, "unstorable", {"kind": kind})
    assert (observe.state(task_id), observe.task(task_id)["result"]) == ("completed", stored)


@pytest.mark.parametrize(
    ("task_input", "error_type", "attempts"),
    [
        ({"fatal": True}, "NonRetryable", 1),
        ({"type_error": True}, "TypeError", 1),  # deterministic: not retried
        ({}, "RuntimeError", 3),  # retryable: every attempt recorded, then dead-lettered
    ],
)
def test_an_error_postgres_would_refuse_is_recorded_with_its_type_and_traceback(
    processes: Processes,
    observe: Observer,
    task_input: dict[str, Any],
    error_type: str,
    attempts: int,
) -> None:
    task_id = finish(processes, observe, "refuse", task_input)
    task = observe.task(task_id)
    assert (task["state"], task["attempts"]) == ("failed", attempts)
    assert task["error"]["type"] == error_type
    assert task["error"]["message"] == "refused \ufffd caf\ufffd"
    letter = dead_letter(observe, task_id)
    assert (letter["error_type"], letter["attempts"]) == (error_type, attempts)
    assert "tests/support/functions.py" in letter["traceback"]
    assert observe.events(task_id).count("retry_scheduled") == attempts - 1


@pytest.mark.parametrize(
    ("timeout_s", "error_type", "message"),
    [
        # Past what the worker checks: a wait timeout beyond the range of Postgres' interval.
        (1e16, "DatetimeFieldOverflow", "the attempt's outcome cannot be stored: "),
        # jsonb hands 1e300 back as a 301-digit int, which LangGraph's serde cannot checkpoint.
        (1e300, "TypeError", "Integer exceeds 64-bit range"),
    ],
)
def test_a_deterministic_error_fails_the_task_at_once_saying_why(
    processes: Processes, observe: Observer, timeout_s: float, error_type: str, message: str
) -> None:
    task_id = finish(processes, observe, "asking", {"timeout_s": timeout_s})
    task = observe.task(task_id)
    assert (task["state"], task["attempts"]) == ("failed", 1)
    assert (task["error"]["type"], task["error"]["retryable"]) == (error_type, False)
    assert message in task["error"]["message"]
    assert dead_letter(observe, task_id)["traceback"]
