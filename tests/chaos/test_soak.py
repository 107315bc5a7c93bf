"""A soak: many tasks, three worker processes, random SIGKILLs with restarts. Every task
completes exactly once; none is lost; none is dead-lettered.

`make test` runs it at 300 tasks and 10 kills; `make soak` sets OUTLAST_SOAK_TASKS higher."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

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
            "pipeline", {"text": f"Task {i}. Survives kills.", "delay_s": 0.05}, max_attempts=25
        )
        for i in range(TASKS)
    ]
    workers: list[Proc] = [processes.worker(concurrency=8) for _ in range(3)]
    processes.reaper()
    kills = 0
    while kills < KILLS:
        time.sleep(rng.uniform(0.5, 1.5))
        remaining = observe.value("SELECT count(*) FROM tasks WHERE state <> 'completed'")
        if remaining == 0:
            break
        victim = workers.pop(rng.randrange(len(workers)))
        victim.signal(signal.SIGKILL)
        victim.wait(10)
        kills += 1
        workers.append(processes.worker(concurrency=8))

    def all_done() -> bool:
        return observe.value("SELECT count(*) FROM tasks WHERE state = 'completed'") == TASKS

    wait_until(all_done, 300, interval=0.5, message="every task completed")
    assert kills >= min(KILLS, 1)
    assert observe.value("SELECT count(*) FROM tasks") == TASKS  # none lost, none invented
    assert observe.value("SELECT count(*) FROM dead_letters") == 0
    completions = observe.rows(
        "SELECT task_id, count(*) AS n FROM task_events WHERE kind = 'completed' GROUP BY task_id"
    )
    assert {r["task_id"] for r in completions} == set(task_ids)
    assert all(r["n"] == 1 for r in completions)
    stuck = observe.value("SELECT count(*) FROM tasks WHERE worker_id IS NOT NULL")
    assert stuck == 0
