"""The budget routes: a tenant's daily budget (admin), the inbox of tasks paused on a budget,
and resume, which refuses (409) while the task's call still does not fit and queues it once a
budget is raised. Bad amounts are 422 naming the field; another tenant's task is 404."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from db import budget
from db.connect import Pool
from db.errors import BudgetPaused
from tests.support.api import api_client, on_app_loop
from tests.support.queue import claim_one, new_worker, submit

NEEDED = 500


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as c:
        yield c


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return dict(response.json())


def paused_task(client: TestClient) -> uuid.UUID:
    """A task of agent `capped` (per-task budget 100) whose next call needs 500: paused."""
    made = client.post(
        "/v1/agents",
        json={
            "name": "capped",
            "provider": "openai",
            "model": "gpt-test",
            "budgets": {"per_task_micro_usd": 100},
        },
    )
    assert made.status_code == 201, made.text

    async def pause(pool: Pool) -> uuid.UUID:
        task_id = await submit(pool)
        async with pool.connection() as conn:
            await conn.execute(
                "UPDATE tasks SET agent = 'capped', agent_version = 1 WHERE id = %s", (task_id,)
            )
        claim = await claim_one(pool, await new_worker(pool))
        with pytest.raises(BudgetPaused):
            await budget.reserve(pool, claim.task_id, claim.epoch, NEEDED)
        return task_id

    return on_app_loop(client, pause)


def test_a_paused_task_is_in_the_inbox_and_resumes_once_raised(client: TestClient) -> None:
    task_id = paused_task(client)
    (item,) = client.get("/v1/approvals/budgets").json()["items"]
    assert item["task_id"] == str(task_id) and item["agent"] == "capped"
    assert item["pause"]["scope"] == "task" and item["pause"]["needed_micro_usd"] == NEEDED
    assert (item["limit_micro_usd"], item["spent_micro_usd"]) == (100, 0)
    assert item["raise_to_micro_usd"] == NEEDED

    refused = problem(client.post(f"/v1/tasks/{task_id}/resume"), 409)
    assert "still over budget" in refused["detail"] and refused["state"] == "paused"
    raised = client.patch("/v1/agents/capped", json={"budgets": {"per_task_micro_usd": NEEDED}})
    assert raised.status_code == 200, raised.text
    resumed = client.post(f"/v1/tasks/{task_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["state"] == "queued"
    assert client.get("/v1/approvals/budgets").json()["items"] == []
    problem(client.post(f"/v1/tasks/{task_id}/resume"), 409)  # not paused any more


def test_another_tenants_task_is_not_found(client: TestClient) -> None:
    task_id = paused_task(client)
    made = client.post("/v1/keys", json={"scopes": ["approvals:decide"], "tenant": "other"})
    other = {"Authorization": f"Bearer {made.json()['key']}"}
    problem(client.post(f"/v1/tasks/{task_id}/resume", headers=other), 404)
    assert client.get("/v1/approvals/budgets", headers=other).json()["items"] == []
    problem(client.post(f"/v1/tasks/{uuid.uuid4()}/resume"), 404)


def test_the_tenant_daily_budget_is_set_read_and_cleared(client: TestClient) -> None:
    empty = client.get("/v1/budgets").json()
    assert empty["per_day_micro_usd"] is None and empty["spent_today_micro_usd"] == 0
    put = client.put("/v1/budgets", json={"per_day_micro_usd": 5_000_000})
    assert put.status_code == 200, put.text
    assert put.json()["per_day_micro_usd"] == 5_000_000 and put.json()["updated_by"]
    cleared = client.put("/v1/budgets", json={"per_day_micro_usd": None})
    assert cleared.json()["per_day_micro_usd"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"per_day_micro_usd": -1}, "body.per_day_micro_usd"),
        ({"per_day_micro_usd": 10**16}, "body.per_day_micro_usd"),
        ({"per_day_micro_usd": 1.5}, "body.per_day_micro_usd"),
        ({"per_day_micro_usd": "1"}, "body.per_day_micro_usd"),
        ({}, "body.per_day_micro_usd"),
        ({"per_day_micro_usd": 1, "per_month": 2}, "body.per_month"),
    ],
)
def test_bad_budgets_are_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    refused = problem(client.put("/v1/budgets", json=body), 422)
    assert field in {e["field"] for e in refused["errors"]}, refused
