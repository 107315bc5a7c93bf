"""Real worker processes run real graphs: completion, retries, dead letters, redrive, timeouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from outlast.graphs.pipeline import STEPS
from tests.support.observe import Observer, assert_linear
from tests.support.processes import Processes
from tests.support.wait import wait_until

NODES = [step.__name__ for step in STEPS]
TEXT = (
    "Durable agents outlast crashes. Agents checkpoint every node. Crashes happen; agents resume."
)


def finished(observe: Observer, task_id: object) -> bool:
    return observe.state(task_id) in ("completed", "failed", "cancelled")  # type: ignore[arg-type]


def test_pipeline_completes_with_every_node_checkpointed(
    processes: Processes, observe: Observer
) -> None:
    processes.worker()
    task_id = observe.submit("pipeline", {"text": TEXT})
    wait_until(lambda: finished(observe, task_id), 30, message="pipeline task finished")
    task = observe.task(task_id)
    assert task["state"] == "completed", task["error"]
    assert task["result"]["keywords"][:2] == ["agents", "crashes"]
    assert task["result"]["report"]["sentences"] == 3
    assert observe.events(task_id) == ["submitted", "claimed", "completed"]
    checkpoints = observe.checkpoints(task_id)
    assert [c["step"] for c in checkpoints] == list(range(-1, 7))
    assert_linear(checkpoints)


def test_flaky_retries_with_backoff_then_completes(processes: Processes, observe: Observer) -> None:
    processes.worker()
    task_id = observe.submit("flaky", {"fail_times": 2}, max_attempts=3)
    wait_until(lambda: finished(observe, task_id), 30, message="flaky task finished")
    task = observe.task(task_id)
    assert (task["state"], task["attempts"]) == ("completed", 3)
    assert task["result"]["trail"] == ["prepare@1", "act@3", "finish@3"]  # prepare never re-ran
    assert observe.events(task_id).count("retry_scheduled") == 2


def test_exhausted_task_is_dead_lettered_then_redriven_to_completion(
    processes: Processes, observe: Observer
) -> None:
    processes.worker()
    task_id = observe.submit("flaky", {"fail_times": 3}, max_attempts=2)
    wait_until(lambda: finished(observe, task_id), 30, message="flaky task dead-lettered")
    letters = observe.rows("SELECT * FROM dead_letters WHERE task_id = %s", task_id)
    assert len(letters) == 1
    letter = letters[0]
    assert (letter["error_type"], letter["attempts"]) == ("FlakyError", 2)
    assert [h["attempt"] for h in letter["attempt_history"]] == [1, 2]
    assert "act failed on run 2" in letter["error_message"]
    assert "Traceback" in letter["traceback"]
    assert letter["last_checkpoint_id"] is not None

    redriven = observe.call(
        "dead_letters_redrive",
        dead_letter_id=letter["id"],
        graph=None,
        error_type=None,
        limit=1,
        mode="last_checkpoint",
        checkpoint_id=None,
        max_attempts=None,
    )
    assert [r["id"] for r in redriven] == [task_id]
    wait_until(lambda: finished(observe, task_id), 30, message="redriven task finished")
    task = observe.task(task_id)
    assert task["state"] == "completed", task["error"]
    # Resumed from the last checkpoint: prepare ran once, on run 1; act failed on runs 1-3.
    assert task["result"]["trail"] == ["prepare@1", "act@4", "finish@4"]


def test_non_retryable_error_goes_straight_to_dead_letters(
    processes: Processes, observe: Observer
) -> None:
    processes.worker()
    task_id = observe.submit("flaky", {"fail_times": 1, "permanent": True}, max_attempts=5)
    wait_until(lambda: finished(observe, task_id), 30, message="task failed")
    assert (observe.state(task_id), observe.task(task_id)["attempts"]) == ("failed", 1)
    assert (
        observe.value("SELECT error_type FROM dead_letters WHERE task_id = %s", task_id)
        == "NonRetryable"
    )


def test_attempt_past_its_timeout_fails_and_dead_letters(
    processes: Processes, observe: Observer
) -> None:
    processes.worker()
    task_id = observe.submit("pipeline", {"text": TEXT, "delay_s": 3}, max_attempts=1, timeout_s=1)
    wait_until(lambda: finished(observe, task_id), 30, message="task timed out")
    assert observe.state(task_id) == "failed"
    assert (
        observe.value("SELECT error_type FROM dead_letters WHERE task_id = %s", task_id)
        == "TaskTimeout"
    )


# How a cancel reaches the worker, and how the test knows it has: its LISTEN session is up
# before the cancel, or a heartbeat (which reports the flag) ran after it.
LISTENING = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
    " AND query = 'LISTEN outlast_cancel'"
)
BEAT_AFTER_CANCEL = (
    "SELECT count(*) FROM workers w, task_events e WHERE w.pid = %s AND e.task_id = %s"
    " AND e.kind = 'cancel_requested' AND w.last_heartbeat_at > e.at"
)


@pytest.mark.parametrize(
    "path",
    [
        # NOTIFY alone: the heartbeat is too slow to deliver the flag within the run.
        {"OUTLAST_LEASE_TTL_S": "60", "OUTLAST_HEARTBEAT_INTERVAL_S": "20"},
        # The heartbeat alone: no LISTEN/NOTIFY at all.
        {"OUTLAST_NOTIFY": "false", "OUTLAST_HEARTBEAT_INTERVAL_S": "0.2"},
    ],
    ids=["notify", "heartbeat"],
)
def test_cancel_running_task_stops_at_next_node_boundary(
    processes: Processes, observe: Observer, tmp_path: Path, path: dict[str, str]
) -> None:
    log, gate = tmp_path / "nodes.log", tmp_path / "gate"
    worker = processes.worker(**path)
    notify = "OUTLAST_NOTIFY" not in path
    # The second node waits at the gate until the worker has the cancel: it stops right after.
    graph_input = {"text": TEXT, "delay_s": 0.3, "log": str(log), "gate": str(gate)}
    task_id = observe.submit("counted", {**graph_input, "gate_at": NODES[1]})
    wait_until(lambda: log.exists() and log.read_text().count("\n") >= 1, 30, message="first node")
    # The second node has started (it waits at the gate): the cancel lands while it runs, not at
    # the boundary before it (where it would stop the task after the first node alone).
    waiting = tmp_path / "gate.waiting"
    wait_until(waiting.exists, 30, message="second node waiting at the gate")
    if notify:
        wait_until(lambda: observe.value(LISTENING, worker.app_name), 30, message="LISTEN")
    assert observe.call("tasks_cancel", task_id=task_id, reason="test")[0]["state"] == "running"
    if not notify:
        wait_until(lambda: observe.value(BEAT_AFTER_CANCEL, worker.pid, task_id), 30)
    gate.touch()
    wait_until(lambda: finished(observe, task_id), 30, message="task cancelled")
    assert observe.state(task_id) == "cancelled"
    assert [line.split()[0] for line in log.read_text().splitlines()] == NODES[:2]
    assert observe.events(task_id)[-1] == "cancelled"


def test_cancel_queued_task_is_immediate_and_never_runs(
    processes: Processes, observe: Observer
) -> None:
    task_id = observe.submit("pipeline", {"text": TEXT})
    assert observe.call("tasks_cancel", task_id=task_id, reason="test")[0]["state"] == "cancelled"
    processes.worker()
    other = observe.submit("pipeline", {"text": TEXT})
    wait_until(lambda: finished(observe, other), 30, message="other task done")
    assert observe.state(task_id) == "cancelled"
    assert "claimed" not in observe.events(task_id)


def test_redrive_from_scratch_or_a_chosen_checkpoint_reruns_the_nodes_after_it(
    processes: Processes, observe: Observer
) -> None:
    processes.worker()
    trails = {}
    for mode in ("scratch", "checkpoint"):
        task_id = observe.submit("flaky", {"fail_times": 2}, max_attempts=2)
        wait_until(lambda: finished(observe, task_id), 30, message="dead-lettered")  # noqa: B023
        letter = observe.rows("SELECT id FROM dead_letters WHERE task_id = %s", task_id)[0]
        before_prepare = next(c for c in observe.checkpoints(task_id) if c["step"] == 0)
        observe.call(
            "dead_letters_redrive",
            dead_letter_id=letter["id"],
            graph=None,
            error_type=None,
            limit=1,
            mode=mode,
            max_attempts=None,
            checkpoint_id=before_prepare["checkpoint_id"] if mode == "checkpoint" else None,
        )
        wait_until(lambda: finished(observe, task_id), 30, message="redriven")  # noqa: B023
        task = observe.task(task_id)
        assert task["state"] == "completed", task["error"]
        trails[mode] = task["result"]["trail"]
        assert observe.task(task_id)["resume_checkpoint_id"] is None  # consumed by the fork
    # prepare ran again on run 3 (it was checkpointed on run 1 and would otherwise be kept)
    assert trails == {m: ["prepare@3", "act@3", "finish@3"] for m in ("scratch", "checkpoint")}
