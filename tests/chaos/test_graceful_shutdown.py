"""SIGTERM: the worker stops claiming, releases its tasks at once (no wait for the lease TTL),
marks itself stopped and exits 0."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.observe import Observer
from tests.support.processes import Processes
from tests.support.wait import wait_until

TEXT = "Deploys send SIGTERM. Tasks move on at once."


def test_sigterm_releases_task_to_another_worker_without_lease_expiry(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    log, gate = tmp_path / "nodes.log", tmp_path / "gate"
    slow = {"OUTLAST_LEASE_TTL_S": "60"}  # recovery by expiry would take a minute
    leaving = processes.worker(concurrency=1, **slow)
    # The second node waits at the gate: SIGTERM lands while the task runs, however slow the
    # machine is.
    graph_input = {"text": TEXT, "delay_s": 0.1, "log": str(log), "gate": str(gate)}
    task_id = observe.submit("counted", {**graph_input, "gate_at": "split_sentences"})
    wait_until(lambda: log.exists() and log.read_text().strip(), 30, message="first node")
    leaving.signal(signal.SIGTERM)
    assert leaving.wait(15) == 0
    assert observe.state(task_id) == "queued"
    assert observe.value("SELECT state FROM workers WHERE pid = %s", leaving.pid) == "stopped"
    gate.touch()

    staying = processes.worker(concurrency=1, **slow)
    wait_until(lambda: observe.state(task_id) == "completed", 30, message="task completed")
    assert observe.events(task_id) == ["submitted", "claimed", "released", "claimed", "completed"]
    assert observe.task(task_id)["attempts"] == 1  # the release gave the attempt back
    assert observe.value(
        "SELECT worker_id FROM task_events WHERE task_id = %s AND kind = 'completed'", task_id
    ) == observe.value("SELECT id FROM workers WHERE pid = %s", staying.pid)
