"""Three real workers under the fair claim: agent B's 10 tasks start in the first claim round
while agent A has hundreds queued ahead of them, and agent C's cap of 2 running tasks is never
exceeded, sampled continuously while C's tasks run (not only at the end)."""

from __future__ import annotations

import time

from psycopg.types.json import Jsonb

from tests.support.observe import Observer
from tests.support.processes import Processes
from tests.support.wait import wait_until

WORKERS = 3
CONCURRENCY = 4  # a claim takes at most 2 (half the slots)
CAP = 2


def agent(observe: Observer, name: str, cap: int | None = None) -> None:
    spec = {"provider": "offline", "model": "offline", "max_concurrent_tasks": cap}
    observe.call("agent_create", tenant="default", name=name, spec=Jsonb(spec), created_by="t")


def queue(observe: Observer, name: str, count: int, sleep_s: float) -> None:
    observe.rows(
        "INSERT INTO tasks (tenant, graph, input, max_attempts, agent, agent_version)"
        " SELECT 'default', 'linger', %s, 3, %s, 1 FROM generate_series(1, %s) RETURNING id",
        Jsonb({"sleep_s": sleep_s}),
        name,
        count,
    )


def test_a_small_agent_starts_at_once_and_a_cap_always_holds(
    processes: Processes, observe: Observer
) -> None:
    agent(observe, "a")
    agent(observe, "b")
    agent(observe, "c", cap=CAP)
    queue(observe, "a", 400, 0.05)
    queue(observe, "c", 30, 0.2)
    queue(observe, "b", 10, 0.05)  # queued last, behind all of A's
    for _ in range(WORKERS):
        processes.worker(concurrency=CONCURRENCY)

    peak = 0
    samples = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = observe.value(
            "SELECT count(*) FROM tasks WHERE agent = 'c' AND state = 'running'"
        )
        peak = max(peak, running)
        samples += 1
        if (
            observe.value("SELECT count(*) FROM tasks WHERE agent = 'c' AND state <> 'completed'")
            == 0
        ):
            break
        time.sleep(0.01)
    assert peak == CAP, f"peak {peak} over {samples} samples"

    wait_until(
        lambda: (
            observe.value("SELECT count(*) FROM tasks WHERE agent = 'b' AND state = 'completed'")
            == 10
        ),
        120,
        message="agent B's tasks completed",
    )
    claims = observe.rows(
        "SELECT t.agent FROM task_events AS e JOIN tasks AS t ON t.id = e.task_id"
        " WHERE e.kind = 'claimed' ORDER BY e.id"
    )
    first_b = next(i for i, row in enumerate(claims) if row["agent"] == "b")
    # One claim round: each worker's first claim takes at most CONCURRENCY // 2 tasks.
    assert first_b < WORKERS * (CONCURRENCY // 2), claims[: first_b + 1]
