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
            "pipeline", {"text": f"Task {i}. Survives kills.", "delay_s": 0.2}, max_attempts=25
        )
        for i in range(TASKS)
    ]
    workers: list[Proc] = [processes.worker(concurrency=8) for _ in range(3)]
    processes.reaper()
    interrupted = 0  # tasks a kill caught mid-run
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.3, 1.0))
        victim = workers.pop(rng.randrange(len(workers)))
        victim.signal(signal.SIGKILL)
        victim.wait(10)
        interrupted += observe.value(
            "SELECT count(*) FROM tasks t JOIN workers w ON w.id = t.worker_id"
            " WHERE w.pid = %s AND t.state = 'running'",
            victim.pid,
        )
        workers.append(processes.worker(concurrency=8))

    def all_done() -> bool:
        return observe.value("SELECT count(*) FROM tasks WHERE state = 'completed'") == TASKS

    wait_until(all_done, 300, interval=0.5, message="every task completed")
    assert interrupted >= KILLS  # the kills landed on work in flight, not on idle workers
    expired = observe.value("SELECT count(*) FROM task_events WHERE kind = 'lease_expired'")
    assert expired == interrupted  # each interrupted attempt was reaped exactly once
    assert observe.value("SELECT count(*) FROM tasks") == TASKS  # none lost, none invented
    assert observe.value("SELECT count(*) FROM dead_letters") == 0
    completions = observe.rows(
        "SELECT task_id, count(*) AS n FROM task_events WHERE kind = 'completed' GROUP BY task_id"
    )
    assert {r["task_id"] for r in completions} == set(task_ids)
    assert all(r["n"] == 1 for r in completions)
    print(f"soak: {TASKS} tasks, {KILLS} SIGKILLs, {interrupted} attempts interrupted, 0 lost")
    stuck = observe.value("SELECT count(*) FROM tasks WHERE worker_id IS NOT NULL")
    assert stuck == 0
