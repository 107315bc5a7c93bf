"""Submitting to an agent and replaying, as the API checks them: exactly one of graph and agent,
an unknown, disabled or other tenant's agent is a 422 naming the field, a task pins the agent's
current version and runs its graph (or the built-in agent graph); a replay needs a finished
agent task of the caller's tenant and a call it has. (Running them: tests/e2e/test_agent_tasks.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from tests.support.api import api_client, counts

AGENT = {"name": "helper", "provider": "offline", "model": "offline"}


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as c:
        yield c


def tenant_key(client: TestClient, tenant: str) -> dict[str, str]:
    scopes = ["tasks:read", "tasks:write", "agents:admin"]
    made = client.post("/v1/keys", json={"scopes": scopes, "tenant": tenant})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['key']}"}


def fields(response: Any, status: int = 422) -> list[tuple[str, str]]:
    assert response.status_code == status, response.text
    return [(e["field"], e["rule"]) for e in response.json()["errors"]]


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_task_pins_the_agents_current_version_and_graph(client: TestClient) -> None:
    created(client.post("/v1/agents", json=AGENT))
    assert client.patch("/v1/agents/helper", json={"system_prompt": "Hi."}).status_code == 200
    task = created(client.post("/v1/tasks", json={"agent": "helper", "input": {}}))
    assert (task["agent"], task["agent_version"], task["graph"]) == ("helper", 2, "outlast.agent")
    assert client.get(f"/v1/tasks/{task['id']}").json()["agent_version"] == 2

    created(client.post("/v1/agents", json={**AGENT, "name": "piper", "graph": "pipeline"}))
    own = created(client.post("/v1/tasks", json={"agent": "piper"}))
    assert (own["graph"], own["agent_version"]) == ("pipeline", 1)
    graph_task = created(client.post("/v1/tasks", json={"graph": "pipeline"}))
    assert (graph_task["agent"], graph_task["agent_version"]) == (None, None)


def test_graph_xor_agent_and_a_usable_agent(client: TestClient, db_url: str) -> None:
    created(client.post("/v1/agents", json=AGENT))
    before = counts(db_url)
    both = {"graph": "pipeline", "agent": "helper"}
    assert fields(client.post("/v1/tasks", json=both)) == [("body.agent", "graph_xor_agent")]
    assert fields(client.post("/v1/tasks", json={"input": {}})) == [("body.graph", "missing")]
    unknown = client.post("/v1/tasks", json={"agent": "nobody"})
    assert fields(unknown) == [("body.agent", "known_agent")]
    assert unknown.json()["type"].endswith("unknown-agent")
    assert fields(client.post("/v1/tasks", json={"agent": "Not A Slug"}))[0][0] == "body.agent"
    assert client.post("/v1/agents/helper/disable").status_code == 200
    assert fields(client.post("/v1/tasks", json={"agent": "helper"})) == [
        ("body.agent", "enabled_agent")
    ]
    batch = {"tasks": [{"graph": "pipeline"}, {"agent": "helper"}]}
    assert fields(client.post("/v1/tasks:batch", json=batch)) == [
        ("body.tasks.1.agent", "enabled_agent")
    ]
    assert counts(db_url) == before


def test_another_tenants_agent_is_unknown(client: TestClient) -> None:
    created(client.post("/v1/agents", json=AGENT))
    other = tenant_key(client, "acme")
    response = client.post("/v1/tasks", json={"agent": "helper"}, headers=other)
    assert fields(response) == [("body.agent", "known_agent")]
    created(client.post("/v1/agents", json=AGENT, headers=other))
    mine = created(client.post("/v1/tasks", json={"agent": "helper"}, headers=other))
    assert mine["agent_version"] == 1


def test_batch_submits_to_agents(client: TestClient) -> None:
    created(client.post("/v1/agents", json=AGENT))
    body = {"tasks": [{"agent": "helper"}, {"graph": "pipeline"}, {"agent": "helper"}]}
    tasks = created(client.post("/v1/tasks:batch", json=body))["tasks"]
    assert [(t["graph"], t["agent"], t["agent_version"]) for t in tasks] == [
        ("outlast.agent", "helper", 1),
        ("pipeline", None, None),
        ("outlast.agent", "helper", 1),
    ]


def finish_with_calls(db_url: str, task_id: str, calls: int) -> None:
    """The task completed, with `calls` completed model calls in its journal."""
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE tasks SET state = 'completed', finished_at = now(), result = '{}' "
            "WHERE id = %s",
            (task_id,),
        )
        for seq in range(calls):
            conn.execute(
                "INSERT INTO llm_calls (tenant, task_id, step_key, seq, lease_epoch, "
                "request_digest, request, status, response, cost_micro_usd) "
                "VALUES ('default', %s, 'k', %s, 1, 'd', '{}', 'completed', %s, 5)",
                (task_id, seq, Jsonb({"provider": "offline", "model": "offline"})),
            )


def test_replay_needs_a_finished_agent_task_and_a_call_it_has(
    client: TestClient, db_url: str
) -> None:
    created(client.post("/v1/agents", json=AGENT))
    task = created(client.post("/v1/tasks", json={"agent": "helper"}))
    url = f"/v1/tasks/{task['id']}/replay"
    queued = client.post(url, json={"from_call": 1})
    assert queued.status_code == 409, queued.text  # still queued

    finish_with_calls(db_url, task["id"], 2)
    assert fields(client.post(url, json={"from_call": 3})) == [("body.from_call", "existing_call")]
    assert fields(client.post(url, json={"from_call": 0}))[0][0] == "body.from_call"
    assert fields(client.post(url, json={"from_call": 1, "provider": "acme"}))[0] == (
        "body.provider",
        "known_provider",
    )
    assert fields(client.post(url, json={"from_call": 1, "temperature": 3}))[0][0] == (
        "body.temperature"
    )
    other = tenant_key(client, "acme")
    assert client.post(url, json={"from_call": 1}, headers=other).status_code == 404
    assert client.get(f"/v1/tasks/{task['id']}/replays", headers=other).status_code == 404

    made = created(client.post(url, json={"from_call": 2, "model": "other"}))
    assert made["overrides"] == {"model": "other"}
    assert (made["task"]["replay_of"], made["task"]["replay_from_call"]) == (task["id"], 2)
    compared = client.get(f"/v1/tasks/{task['id']}/replays").json()
    assert compared["task"]["calls"] == 2 and compared["task"]["cost_micro_usd"] == 10
    assert [r["id"] for r in compared["replays"]] == [made["task"]["id"]]

    replay = made["task"]["id"]
    finish_with_calls(db_url, replay, 2)
    again = {"from_call": 1, "temperature": 0.5}
    second = created(client.post(f"/v1/tasks/{replay}/replay", json=again))["task"]
    (side,) = client.get(f"/v1/tasks/{replay}/replays").json()["replays"]
    assert side["id"] == second["id"]
    assert side["agent_overrides"] == {"model": "other", "temperature": 0.5}

    plain = created(client.post("/v1/tasks", json={"graph": "pipeline"}))
    finish_with_calls(db_url, plain["id"], 1)
    not_agent = client.post(f"/v1/tasks/{plain['id']}/replay", json={"from_call": 1})
    assert not_agent.status_code == 409, not_agent.text


def test_agent_usage_is_the_tenants(client: TestClient, db_url: str) -> None:
    created(client.post("/v1/agents", json=AGENT))
    task = created(client.post("/v1/tasks", json={"agent": "helper"}))
    finish_with_calls(db_url, task["id"], 3)
    usage = client.get("/v1/agents/helper/usage").json()
    assert (usage["calls"], usage["cost_micro_usd"]) == (3, 15)
    assert client.get("/v1/agents/nobody/usage").status_code == 404
    other = tenant_key(client, "acme")
    assert client.get("/v1/agents/helper/usage", headers=other).status_code == 404
    steps = client.get(f"/v1/tasks/{task['id']}/usage").json()["steps"]
    assert [(s["step_key"], s["calls"], s["cost_micro_usd"]) for s in steps] == [("k", 3, 15)]
