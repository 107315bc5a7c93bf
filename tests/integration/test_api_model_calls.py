"""GET /v1/tasks/{id}/model-calls and /usage: the journal's rows and sums, as the API shows them;
404 for an unknown task; paginated by cursor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from db import lease, llm_call
from db.connect import Pool
from tests.support.api import api_client, on_app_loop, submit
from tests.support.queue import GRAPHS, new_worker

USAGE = {"input_tokens": 100, "output_tokens": 20, "cache_read_tokens": 5, "cache_write_tokens": 0}


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as c:
        yield c


def task_with_calls(client: TestClient, calls: int) -> str:
    """A running task whose node made `calls` journaled calls; the last one still in flight."""
    task = submit(client, "pipeline")

    async def run(pool: Pool) -> None:
        worker_id = await new_worker(pool)
        (claim,) = await lease.claim_many(pool, worker_id, limit=1, ttl_s=30, graphs=GRAPHS)
        for seq in range(calls):
            key = llm_call.Key("1:agent:0e1f", seq)
            begun = await llm_call.begin(pool, claim.task_id, claim.epoch, key, f"d{seq}", {})
            if seq < calls - 1:
                end = llm_call.Finished(
                    "completed", {"content": f"answer {seq}"}, usage=USAGE, cost_micro_usd=420
                )
                await llm_call.finish(pool, claim.task_id, claim.epoch, begun.call_id, end)

    on_app_loop(client, run)
    return str(task["id"])


def test_the_calls_and_their_sums(client: TestClient) -> None:
    task_id = task_with_calls(client, 3)
    first = client.get(f"/v1/tasks/{task_id}/model-calls", params={"limit": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert [(c["seq"], c["status"]) for c in body["items"]] == [(0, "completed"), (1, "completed")]
    assert body["items"][0]["cost_micro_usd"] == 420
    assert body["items"][0]["response"] == {"content": "answer 0"}
    rest = client.get(
        f"/v1/tasks/{task_id}/model-calls", params={"cursor": body["next_cursor"]}
    ).json()
    assert [(c["seq"], c["status"]) for c in rest["items"]] == [(2, "started")]
    assert rest["next_cursor"] is None
    usage = client.get(f"/v1/tasks/{task_id}/usage").json()
    assert (usage["calls"], usage["completed"], usage["cost_micro_usd"]) == (3, 2, 840)
    assert (usage["input_tokens"], usage["output_tokens"]) == (200, 40)


def test_a_task_without_calls_has_zero_usage(client: TestClient) -> None:
    task_id = str(submit(client, "pipeline")["id"])
    assert client.get(f"/v1/tasks/{task_id}/model-calls").json()["items"] == []
    assert client.get(f"/v1/tasks/{task_id}/usage").json()["cost_micro_usd"] == 0


@pytest.mark.parametrize("path", ["model-calls", "usage"])
def test_an_unknown_task_is_404(client: TestClient, path: str) -> None:
    answer = client.get(f"/v1/tasks/{uuid.uuid4()}/{path}")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
