"""Plain `def` task functions that block, time out and get cancelled run on the worker's own
bounded threads: a graph task beside them still completes promptly, the worker never runs more
blocking calls than its slots, and a cancel or timeout reaches a function that polls for it."""

from __future__ import annotations

from pathlib import Path

from tests.support.observe import Observer
from tests.support.processes import Processes
from tests.support.wait import wait_until

CONCURRENCY = 4
TEXT = {"text": "One. Two words. Three short words here."}


def most_at_once(log: Path) -> int:
    """The most calls running at once, from the start/end lines they appended in order."""
    running = most = 0
    for line in log.read_text().split() if log.exists() else []:
        running += 1 if line == "start" else -1
        most = max(most, running)
    return most


def test_blocked_threads_never_starve_a_graph_task(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    """More blocked calls than the event loop's default executor has threads (6 on 2 cores):
    there they left none for the graph, which then waited for a blocked call to end."""
    calls = tmp_path / "calls"
    processes.worker(8)
    for _ in range(7):
        observe.submit("block", {"log": str(calls), "sleep_s": 60})
    wait_until(lambda: most_at_once(calls) == 7, 60, message="the calls started")
    graph = observe.submit("pipeline", TEXT)
    # The blocked calls last a minute; the graph takes a second or two when nothing starves it.
    wait_until(lambda: observe.state(graph) == "completed", 30, message="the graph completed")


def test_timed_out_calls_keep_their_slots_until_they_return(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    processes.worker(CONCURRENCY)
    # Rude calls (they never look at stop_requested) that time out after a second, retries left.
    rude = [
        observe.submit("block", {"log": str(calls), "sleep_s": 60}, timeout_s=1, max_attempts=5)
        for _ in range(CONCURRENCY - 1)
    ]
    wait_until(lambda: most_at_once(calls) == len(rude), 60, message="the calls started")
    graph = observe.submit("pipeline", TEXT)

    def graph_done() -> bool:
        # A timeout that freed the slot would let a retry start a call beside the old one.
        assert most_at_once(calls) <= len(rude), "more blocking calls than slots"
        return observe.state(graph) == "completed"

    wait_until(graph_done, 30, interval=0.2, message="the graph completed")
    assert all(observe.state(t) == "running" for t in rude)  # past timeout_s, still held


def test_cancel_reaches_a_function_that_polls_for_it(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    processes.worker(CONCURRENCY)
    task_id = observe.submit("block", {"log": str(calls), "sleep_s": 600, "polite": True})
    wait_until(calls.exists, 60, message="the call started")
    observe.call("tasks_cancel", task_id=task_id, reason="stop")
    assert wait_until(lambda: observe.state(task_id) == "cancelled", 30)
    assert calls.read_text().split() == ["start", "end"]
    assert observe.task(task_id)["result"] is None


def test_a_timeout_reaches_a_function_that_polls_for_it(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    processes.worker(CONCURRENCY)
    task_id = observe.submit(
        "block", {"log": str(calls), "sleep_s": 600, "polite": True}, timeout_s=1, max_attempts=1
    )
    assert wait_until(lambda: observe.state(task_id) == "failed", 30)
    assert observe.task(task_id)["error"]["type"] == "TaskTimeout"
    assert calls.read_text().split() == ["start", "end"]
