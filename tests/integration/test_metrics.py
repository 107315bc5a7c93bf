"""GET /metrics reports the queue as Postgres has it, in Prometheus text format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from db import outcome, waits
from tests.support.api import api_client, on_app_loop
from tests.support.queue import claim_one, new_worker, submit


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_states_ready_work_dead_letters_and_waits(db_url: str) -> None:
    with api_client(db_url) as client:

        async def arrange(pool):  # type: ignore[no-untyped-def]
            worker_id = await new_worker(pool)
            for _ in range(3):
                await submit(pool)  # three ready tasks, one of which is claimed next
            failing = await claim_one(pool, worker_id)
            await outcome.fail(
                pool,
                worker_id,
                failing.task_id,
                failing.epoch,
                outcome.Failure("Boom", "boom", None, retryable=False),
                outcome.RetryPolicy(1, 1),
            )
            parked = await claim_one(pool, worker_id)
            wait = waits.NewWait("i-1", "approval", {"outlast": "approval"})
            await waits.park(
                pool, worker_id, parked.task_id, parked.epoch, [wait], default_timeout_s=60
            )

        on_app_loop(client, arrange)
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("outlast_tasks", (("state", "queued"),))] == 1
    assert got[("outlast_tasks", (("state", "failed"),))] == 1
    assert got[("outlast_tasks", (("state", "waiting_for_approval"),))] == 1
    assert got[("outlast_tasks", (("state", "completed"),))] == 0
    assert got[("outlast_ready_tasks", ())] == 1
    assert got[("outlast_dead_letters_open", ())] == 1
    assert got[("outlast_waits_open", (("kind", "approval"),))] == 1
    assert got[("outlast_workers", (("state", "running"),))] == 1
    assert got[("outlast_oldest_ready_task_age_seconds", ())] >= 0
