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
    log, gate = tmp_path / "nodes.log", tmp_path / "gate"
    first = processes.worker(concurrency=1)
    # The fourth node waits at the gate: the kill lands mid-graph however slow the machine is.
    graph_input = {"text": TEXT, "delay_s": 0.2, "log": str(log), "gate": str(gate)}
    task_id = observe.submit("counted", {**graph_input, "gate_at": NODES[3]})
    # A node logs before its checkpoint commits: wait for the checkpoints, not the log.
    wait_until(
        lambda: max((c["step"] for c in observe.checkpoints(task_id)), default=-1) >= 3,
        30,
        message="three nodes checkpointed",
    )
    first.signal(signal.SIGKILL)
    first.wait(10)
    done_steps = [c["step"] for c in observe.checkpoints(task_id)]
    assert max(done_steps) == 3  # checkpoint at step s follows node s (1-based)
    gate.touch()

    second = processes.worker(concurrency=1)
    processes.reaper()
    wait_until(lambda: observe.state(task_id) == "completed", 30, message="task completed")

    # Each node ran once: the three checkpointed before the kill never again, the rest after.
    assert Counter(node_runs(log)) == Counter(NODES)
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
