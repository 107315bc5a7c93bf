"""A zombie worker (SIGSTOPped past its lease) can run again after SIGCONT but commits nothing;
the thread's checkpoints stay one linear chain."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.observe import Observer, assert_linear
from tests.support.processes import Processes
from tests.support.wait import wait_until

TEXT = "A frozen worker wakes up. Its lease is gone. It must not write."


def test_zombie_commits_nothing_after_another_worker_takes_over(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    log, gate = tmp_path / "nodes.log", tmp_path / "gate"
    zombie = processes.worker(concurrency=1)
    # The third node waits at the gate: the zombie is frozen mid-graph, and the worker that
    # takes over cannot finish the task before the test has read what the zombie wrote.
    graph_input = {"text": TEXT, "delay_s": 0.1, "log": str(log), "gate": str(gate)}
    task_id = observe.submit("counted", {**graph_input, "gate_at": "count_words"})
    wait_until(
        lambda: max((c["step"] for c in observe.checkpoints(task_id)), default=-1) >= 2,
        30,
        message="2 nodes checkpointed",
    )
    zombie.signal(signal.SIGSTOP)
    zombie_epoch = observe.task(task_id)["lease_epoch"]

    processes.worker(concurrency=1)
    processes.reaper()
    wait_until(lambda: observe.task(task_id)["lease_epoch"] > zombie_epoch, 30, message="takeover")
    zombie_checkpoints = [c for c in observe.checkpoints(task_id) if c["epoch"] == zombie_epoch]
    assert zombie_checkpoints
    gate.touch()
    wait_until(lambda: observe.state(task_id) == "completed", 30, message="task completed")

    zombie.signal(signal.SIGCONT)
    wait_until(lambda: "lease lost" in zombie.output(), 30, message="zombie notices its lost lease")
    after = observe.checkpoints(task_id)
    assert [c for c in after if c["epoch"] == zombie_epoch] == zombie_checkpoints
    assert_linear(after)
    completions = observe.rows(
        "SELECT lease_epoch FROM task_events WHERE task_id = %s AND kind = 'completed'", task_id
    )
    assert [r["lease_epoch"] for r in completions] == [zombie_epoch + 1]
    assert observe.task(task_id)["state"] == "completed"
    assert zombie.alive()  # it ran on, and wrote nothing
