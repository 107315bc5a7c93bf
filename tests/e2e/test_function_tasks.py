"""Function tasks through real worker processes: a registered function instead of a graph is
claimed, run, retried, dead-lettered, cancelled and timed out as a graph task is, and writes no
checkpoint."""

from __future__ import annotations

from pathlib import Path

from tests.support.observe import Observer
from tests.support.processes import Processes
from tests.support.wait import wait_until


def settled(observe: Observer, task_id: object) -> str | None:
    state = observe.state(task_id)  # type: ignore[arg-type]
    return state if state in ("completed", "failed", "cancelled") else None


def test_async_and_sync_functions_complete_with_their_results(
    processes: Processes, observe: Observer
) -> None:
    processes.worker()
    echo_id = observe.submit("echo", {"n": 41})
    shout_id = observe.submit("shout", {"text": "durable"})
    for task_id in (echo_id, shout_id):
        assert wait_until(lambda t=task_id: settled(observe, t), 30) == "completed"
    echo = observe.task(echo_id)
    assert echo["result"] == {"echo": {"n": 41}, "attempt": 1, "task_id": str(echo_id)}
    assert observe.task(shout_id)["result"] == "DURABLE"
    assert observe.events(echo_id) == ["submitted", "claimed", "completed"]
    assert observe.checkpoints(echo_id) == []  # no graph, no checkpoint


def test_a_failing_function_retries_then_completes(processes: Processes, observe: Observer) -> None:
    processes.worker()
    task_id = observe.submit("explode", {"fail_times": 2}, max_attempts=3)
    assert wait_until(lambda: settled(observe, task_id), 30) == "completed"
    assert observe.task(task_id)["attempts"] == 3
    assert observe.events(task_id).count("retry_scheduled") == 2


def test_a_non_retryable_error_dead_letters_at_once(
    processes: Processes, observe: Observer
) -> None:
    processes.worker()
    task_id = observe.submit("explode", {"fatal": True}, max_attempts=5)
    assert wait_until(lambda: settled(observe, task_id), 30) == "failed"
    letter = observe.rows("SELECT * FROM dead_letters WHERE task_id = %s", task_id)[0]
    assert (letter["error_type"], letter["attempts"]) == ("NonRetryable", 1)
    assert letter["last_checkpoint_id"] is None


def test_cancel_interrupts_a_running_async_function(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    processes.worker()
    started = tmp_path / "started"
    task_id = observe.submit("linger", {"sleep_s": 600, "started": str(started)})
    wait_until(started.exists, 30, message="the function started")
    observe.call("tasks_cancel", task_id=task_id, reason="changed my mind")
    # The function sleeps for ten minutes; only an interrupted call ends the task this soon.
    assert wait_until(lambda: settled(observe, task_id), 30) == "cancelled"
    assert observe.events(task_id)[-2:] == ["cancel_requested", "cancelled"]
    assert observe.task(task_id)["result"] is None


def test_a_function_past_its_timeout_fails_the_attempt(
    processes: Processes, observe: Observer
) -> None:
    processes.worker()
    task_id = observe.submit("linger", {"sleep_s": 600}, timeout_s=1, max_attempts=1)
    assert wait_until(lambda: settled(observe, task_id), 30) == "failed"
    error = observe.task(task_id)["error"]
    assert error["type"] == "TaskTimeout"
    assert "timeout_s=1" in error["message"]
