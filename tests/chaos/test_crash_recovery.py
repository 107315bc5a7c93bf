"""SIGKILL a worker mid-graph: another worker finishes the task from the last checkpoint, and no
node that was checkpointed before the kill runs again."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

from outlast.graphs.pipeline import STEPS
from tests.support.observe import Observer, assert_linear
from tests.support.processes import Processes
from tests.support.wait import wait_until

TEXT = "Workers die. Tasks survive. Checkpoints remember every finished node."
NODES = [step.__name__ for step in STEPS]


def node_runs(log: Path) -> list[str]:
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def test_sigkill_mid_graph_resumes_on_another_worker_without_rerunning_nodes(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    log = tmp_path / "nodes.log"
    first = processes.worker(concurrency=1)
    task_id = observe.submit("counted", {"text": TEXT, "delay_s": 0.4, "log": str(log)})
    # A node logs before its checkpoint commits: wait for the checkpoints, not the log.
    wait_until(
        lambda: max((c["step"] for c in observe.checkpoints(task_id)), default=-1) >= 3,
        30,
        message="three nodes checkpointed",
    )
    first.signal(signal.SIGKILL)
    first.wait(10)
    done_steps = [c["step"] for c in observe.checkpoints(task_id)]
    checkpointed = NODES[: max(done_steps)]  # checkpoint at step s follows node s (1-based)
    assert len(checkpointed) >= 3

    second = processes.worker(concurrency=1)
    processes.reaper()
    wait_until(lambda: observe.state(task_id) == "completed", 30, message="task completed")

    runs = Counter(node_runs(log))
    assert all(runs[node] == 1 for node in checkpointed), runs  # never re-run
    assert all(runs[node] >= 1 for node in NODES), runs
    assert sum(runs.values()) <= len(NODES) + 1  # at most the node in flight ran twice
    task = observe.task(task_id)
    assert task["attempts"] == 2
    assert observe.events(task_id) == [
        "submitted",
        "claimed",
        "lease_expired",
        "claimed",
        "completed",
    ]
    finisher = observe.value(
        "SELECT worker_id FROM task_events WHERE task_id = %s AND kind = 'completed'", task_id
    )
    assert finisher == observe.value("SELECT id FROM workers WHERE pid = %s", second.pid)
    assert_linear(observe.checkpoints(task_id))


def test_flaky_crash_at_kills_its_own_worker_and_recovers(
    processes: Processes, observe: Observer
) -> None:
    victim = processes.worker(concurrency=1)
    task_id = observe.submit("flaky", {"crash_at": "act"})
    assert victim.wait(30) == -signal.SIGKILL
    processes.worker(concurrency=1)
    processes.reaper()
    wait_until(lambda: observe.state(task_id) == "completed", 30, message="task completed")
    assert observe.task(task_id)["result"]["trail"] == ["prepare@1", "act@2", "finish@2"]
