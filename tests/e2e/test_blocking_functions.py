"""Plain `def` task functions that block, time out and get cancelled run on the worker's own
bounded threads: a graph task beside them still completes promptly, the worker never runs more
blocking calls than its concurrency, and a cancel reaches a function that polls for it."""

from __future__ import annotations

from pathlib import Path

from tests.support.observe import Observer
from tests.support.processes import Processes
from tests.support.wait import wait_until

CONCURRENCY = 4


def most_at_once(log: Path) -> int:
    """The most calls running at once, from the start/end lines they appended in order."""
    running = most = 0
    for line in log.read_text().split() if log.exists() else []:
        running += 1 if line == "start" else -1
        most = max(most, running)
    return most


def test_blocked_threads_never_starve_a_graph_task_nor_exceed_the_slots(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    processes.worker(CONCURRENCY)
    # Three rude calls that block for a minute, with a one-second timeout and retries left.
    rude = [
        observe.submit("block", {"log": str(calls), "sleep_s": 60}, timeout_s=1, max_attempts=5)
        for _ in range(CONCURRENCY - 1)
    ]
    wait_until(lambda: most_at_once(calls) == len(rude), 60, message="the calls started")
    graph = observe.submit("pipeline", {"text": "One. Two words. Three short words here."})

    def graph_done() -> bool:
        assert most_at_once(calls) <= CONCURRENCY, "more blocking calls than slots"
        return observe.state(graph) == "completed"

    # The rude calls hold their slots for a minute; the graph takes a second or two when
    # nothing starves it.
    wait_until(graph_done, 30, interval=0.2, message="the graph task completed")
    assert most_at_once(calls) <= CONCURRENCY - 1
    assert all(observe.state(t) == "running" for t in rude)  # timed out, still held


def test_cancel_reaches_a_function_that_polls_for_it(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    processes.worker(CONCURRENCY)
    task_id = observe.submit("block", {"log": str(calls), "sleep_s": 600, "polite": True})
    wait_until(calls.exists, 60, message="the call started")
    observe.call("task_cancel", task_id=task_id, reason="stop")
    assert wait_until(lambda: observe.state(task_id) == "cancelled", 30)
    assert calls.read_text().split() == ["start", "end"]
    assert observe.task(task_id)["result"] is None
