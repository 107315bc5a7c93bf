"""A soak: many tasks, three worker processes, SIGKILLs with restarts. Every task completes
exactly once; none is lost; none is dead-lettered.

Each kill lands on work in flight: the victim (chosen at random) is killed only once the database
shows it holding leases, and the attempts it held then are the ones the kill interrupts
(tests/support/faults.py). `make test` runs it at 300 tasks and 10 kills; `make soak` sets
OUTLAST_SOAK_TASKS higher."""

from __future__ import annotations

import os
import random

import pytest

from tests.support.faults import Attempt, attempt_endings, kill_holding, reaped_from
from tests.support.observe import Observer
from tests.support.processes import Proc, Processes
from tests.support.wait import wait_until

TASKS = int(os.environ.get("OUTLAST_SOAK_TASKS", "300"))
KILLS = int(os.environ.get("OUTLAST_SOAK_KILLS", "10"))


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_soak_random_sigkills_lose_nothing_and_complete_each_task_once(
    processes: Processes, observe: Observer
) -> None:
    rng = random.Random(int(os.environ.get("OUTLAST_SOAK_SEED", "7")))
    task_ids = [
        observe.submit(
            "pipeline", {"text": f"Task {i}. Survives kills.", "delay_s": 0.2}, max_attempts=25
        )
        for i in range(TASKS)
    ]
    workers: list[Proc] = [processes.worker(concurrency=8) for _ in range(3)]
    processes.reaper()
    interrupted: list[tuple[Proc, list[Attempt]]] = []  # each victim, the attempts it held
    for _ in range(KILLS):
        victim = workers.pop(rng.randrange(len(workers)))
        interrupted.append((victim, kill_holding(observe, victim)))
        workers.append(processes.worker(concurrency=8))

    def all_done() -> bool:
        return observe.value("SELECT count(*) FROM tasks WHERE state = 'completed'") == TASKS

    wait_until(all_done, 300, interval=0.5, message="every task completed")
    # Every kill caught work in flight, and the reaper took back each attempt it caught.
    for victim, attempts in interrupted:
        assert attempts, victim.app_name
        assert set(attempts) <= reaped_from(observe, victim), victim.app_name
    # Every attempt ended exactly once (a second ending would be a write without the lease).
    endings = attempt_endings(observe)
    assert {a: e for a, e in endings.items() if len(e) != 1} == {}
    assert observe.value("SELECT count(*) FROM tasks") == TASKS  # none lost, none invented
    assert observe.value("SELECT count(*) FROM dead_letters") == 0
    completions = observe.rows(
        "SELECT task_id, count(*) AS n FROM task_events WHERE kind = 'completed' GROUP BY task_id"
    )
    assert {r["task_id"] for r in completions} == set(task_ids)
    assert all(r["n"] == 1 for r in completions)
    caught = sum(len(a) for _, a in interrupted)
    print(f"soak: {TASKS} tasks, {KILLS} SIGKILLs, {caught} attempts interrupted, 0 lost")
    stuck = observe.value("SELECT count(*) FROM tasks WHERE worker_id IS NOT NULL")
    assert stuck == 0
