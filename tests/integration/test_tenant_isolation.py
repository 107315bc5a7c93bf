"""Tenants never see each other: every route in the OpenAPI document (read from app.openapi(),
never from a hand-written list) is called by an admin key of tenant `acme` on the objects of
tenant `default`. A route that names an object answers 404, exactly as for an id that does not
exist; a list shows none of them; and nothing of `default`'s changes, row for row.

An admin key holds every scope, so a 404 here is the tenant's doing, not a missing scope. Each
GET that names an object is also called with `default`'s own key, which must find it: the ids
are real, so the 404 is not an accident of a bad id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.support.api import api_client, dead_letter, submit
from tests.support.keys import AUTH
from tests.support.mcp_server import RunningServer, mcp_server

OPEN = {"/healthz", "/readyz"}
MCP_TOKEN = "tenant-test-token-0123456789"  # noqa: S105 - the local test server's token
OTHER = "acme"

# A valid body per request schema (the route must get past validation to reach the tenant).
# A route with a request body whose schema is missing here fails the test: add it.
BODIES: dict[str, Any] = {
    "TaskCreate": {"graph": "pipeline", "input": {}},
    "TaskBatchCreate": {"tasks": [{"graph": "pipeline", "input": {}}]},
    "CancelRequest": {"reason": "cross-tenant"},
    "ApproveRequest": {},
    "RejectRequest": {"reason": "cross-tenant"},
    "InputRequest": {"value": "x"},
    "ForkRequest": {"checkpoint_id": "{checkpoint_id}"},
    "MessageRequest": {"message": "again"},
    "RedriveRequest": {},
    "ResolveRequest": {"note": "cross-tenant"},
    "RedriveByFilterRequest": {"limit": 100},
    "KeyCreate": {"scopes": ["tasks:read"]},
    # Its own agent, named unlike the other tenant's: `/v1/agents/{name}` must still be a 404.
    "AgentCreate": {"name": "intruder", "provider": "offline", "model": "echo"},
    "AgentUpdate": {"system_prompt": "taken over"},
    "ReplayRequest": {"from_call": 1},
    "TenantBudgetUpdate": {"per_day_micro_usd": 1_000_000},
    "RateLimitUpdate": {
        "provider": "openai",
        "model": "gpt-test",
        "tokens_per_minute": 1000,
        "requests_per_minute": 10,
    },
    "ToolServerCreate": {"name": "intruder", "url": "{mcp_url}", "token": MCP_TOKEN},
    "ScheduleCreate": {"name": "intruder", "cron": "* * * * *", "graph": "pipeline"},
    "WebhookCreate": {"name": "intruder", "url": "{mcp_url}", "events": ["task.completed"]},
    "WebhookUpdate": {"url": "{mcp_url}", "events": ["task.failed"]},
    # The LangGraph Platform API (ADR 0018).
    "AssistantSearch": {},
    "ThreadCreate": {},
    "ThreadSearch": {},
    "ThreadUpdate": {"metadata": {"owner": "acme"}},
    "ThreadCount": {},
    "HistoryQuery": {},
    "StateAt": {"checkpoint": {"checkpoint_id": "{checkpoint_id}"}},
    "StateUpdate": {"values": {}},
    "RunCreate": {"assistant_id": "pipeline", "input": {}},
    # Crons and the store (ADR 0029). The store's item is named in the body or the query.
    "CronCreate": {"assistant_id": "pipeline", "schedule": "0 3 * * *"},
    "CronUpdate": {"schedule": "0 4 * * *", "enabled": False},
    "CronSearch": {},
    "CronCount": {},
    "StoreItemPut": {"namespace": ["scout"], "key": "intruder", "value": {"v": 1}},
    "StoreItemDelete": {"namespace": ["scout"], "key": "memo"},
    "StoreSearch": {},
    "StoreNamespaces": {},
    # By status: the other tenant's own pending runs (none), never default's.
    "RunsCancel": {"status": "all"},
}
QUERIES: dict[str, dict[str, Any]] = {
    "/v1/agents/{name}/diff": {"from": 1, "to": 1},
    "/store/items": {"namespace": "scout", "key": "memo"},
}
# Routes that name their object in the query, not the path: a 404 like a path's.
NAMED_BY_QUERY = {("GET", "/store/items")}

# Rows of tenant `default`, as text: what a cross-tenant call must leave exactly as it was.
FINGERPRINT = """
SELECT 'tasks', md5(coalesce(string_agg(t::text, '|' ORDER BY id), ''))
FROM tasks AS t WHERE tenant = 'default'
UNION ALL SELECT 'events', md5(coalesce(string_agg(e::text, '|' ORDER BY id), ''))
FROM task_events AS e WHERE tenant = 'default'
UNION ALL SELECT 'waits', md5(coalesce(string_agg(w::text, '|' ORDER BY id), ''))
FROM task_waits AS w WHERE tenant = 'default'
UNION ALL SELECT 'dead_letters', md5(coalesce(string_agg(d::text, '|' ORDER BY id), ''))
FROM dead_letters AS d WHERE tenant = 'default'
UNION ALL SELECT 'checkpoints', md5(coalesce(string_agg(c::text, '|' ORDER BY checkpoint_id), ''))
FROM checkpoints AS c WHERE thread_id IN (SELECT id::text FROM tasks WHERE tenant = 'default')
UNION ALL SELECT 'agents', md5(coalesce(string_agg(a::text, '|' ORDER BY name), ''))
FROM agents AS a WHERE tenant = 'default'
UNION ALL SELECT 'agent_versions',
       md5(coalesce(string_agg(v::text, '|' ORDER BY name, version), ''))
FROM agent_versions AS v WHERE tenant = 'default'
UNION ALL SELECT 'tool_servers', md5(coalesce(string_agg(s::text, '|' ORDER BY name), ''))
FROM tool_servers AS s WHERE tenant = 'default'
UNION ALL SELECT 'schedules', md5(coalesce(string_agg(s::text, '|' ORDER BY name), ''))
FROM schedules AS s WHERE tenant = 'default'
UNION ALL SELECT 'webhooks', md5(coalesce(string_agg(w::text, '|' ORDER BY name), ''))
FROM webhooks AS w WHERE tenant = 'default'
UNION ALL SELECT 'artifacts', md5(coalesce(string_agg(a::text, '|' ORDER BY a::text), ''))
FROM artifacts AS a WHERE tenant = 'default'
UNION ALL SELECT 'tenant_budgets', md5(coalesce(string_agg(b::text, '|'), ''))
FROM tenant_budgets AS b WHERE tenant = 'default'
UNION ALL SELECT 'keys', md5(coalesce(string_agg(k.id || coalesce(k.revoked_at::text, ''), '|'
                                                 ORDER BY k.id), ''))
FROM api_keys AS k WHERE tenant = 'default'
UNION ALL SELECT 'threads', md5(coalesce(string_agg(t::text, '|' ORDER BY id), ''))
FROM threads AS t WHERE tenant = 'default'
UNION ALL SELECT 'store_items', md5(coalesce(string_agg(i::text, '|' ORDER BY namespace, key), ''))
FROM store_items AS i WHERE tenant = 'default'
"""


def fingerprint(db_url: str) -> dict[str, str]:
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute(FINGERPRINT).fetchall())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def mcp() -> Iterator[RunningServer]:
    with mcp_server(MCP_TOKEN) as server:
        yield server


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url, net_allow="127.0.0.0/8", tool_timeout_s=5) as c:
        yield c


def real_checkpoint(db_url: str, *thread_ids: str) -> str:
    """An empty checkpoint on each of the (LangGraph) threads, one id, written by LangGraph's
    own saver."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.postgres import PostgresSaver

    checkpoint = empty_checkpoint()
    with PostgresSaver.from_conn_string(db_url) as saver:
        for thread_id in thread_ids:
            config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
            saver.put(config, checkpoint, {"source": "input", "step": -1}, {})  # type: ignore[arg-type]
    return str(checkpoint["id"])


def objects(client: TestClient, db_url: str, mcp: RunningServer) -> dict[str, str]:
    """Tenant `default`'s objects, one of each kind a path can name."""
    from tests.integration.test_cli_approvals import park

    letter = dead_letter(client)
    failed = letter["task_id"]
    waiting = park(db_url, "expense", "approval", {"outlast": "approval", "action": "pay"})
    agent = client.post(
        "/v1/agents", json={"name": "scout", "provider": "offline", "model": "echo"}
    )
    assert agent.status_code == 201, agent.text
    with psycopg.connect(db_url) as conn:  # as create_text_artifact leaves one
        conn.execute(
            "INSERT INTO artifacts (task_id, name, tenant, content_type, content, size_bytes,"
            " idempotency_key) VALUES (%s, 'scout', 'default', 'text/plain', 'notes', 5, 'k')",
            (failed,),
        )
    # A tool server named like the agent, so that `{name}` names an object on both paths.
    server = client.post(
        "/v1/tool-servers", json={"name": "scout", "url": mcp.url, "token": MCP_TOKEN}
    )
    assert server.status_code == 201, server.text
    made = client.post(
        "/v1/schedules", json={"name": "scout", "cron": "0 3 * * *", "graph": "pipeline"}
    )
    assert made.status_code == 201, made.text
    hook = client.post(
        "/v1/webhooks", json={"name": "scout", "url": mcp.url, "events": ["task.completed"]}
    )
    assert hook.status_code == 201, hook.text
    key = client.post("/v1/keys", json={"scopes": ["tasks:read"], "name": "default's reader"})
    assert key.status_code == 201, key.text
    # A thread with a run, cancelled so that joining it (the owner's GET below) answers at once.
    thread = client.post("/threads", json={"metadata": {"owner": "default"}}).json()
    run = client.post(f"/threads/{thread['thread_id']}/runs", json={"assistant_id": "pipeline"})
    assert run.status_code == 200, run.text
    cancelled = client.post(f"/threads/{thread['thread_id']}/runs/{run.json()['run_id']}/cancel")
    assert cancelled.status_code == 204, cancelled.text
    cron = client.post(
        f"/threads/{thread['thread_id']}/runs/crons",
        json={"assistant_id": "pipeline", "schedule": "0 3 * * *"},
    )
    assert cron.status_code == 200, cron.text
    item = client.put("/store/items", json={"namespace": ["scout"], "key": "memo", "value": {}})
    assert item.status_code == 204, item.text
    # One checkpoint id on the failed task's thread and the run's (`/threads/{id}/state/{...}`).
    checkpoint_id = real_checkpoint(db_url, failed, run.json()["run_id"])
    return {
        "cron_id": cron.json()["cron_id"],
        "thread_id": thread["thread_id"],
        "run_id": run.json()["run_id"],
        # An agent: graphs are the deployment's, every tenant's assistants; agents are a tenant's.
        "assistant_id": "scout",
        "task_id": failed,
        "waiting_task_id": str(waiting),
        "dead_letter_id": letter["id"],
        "checkpoint_id": checkpoint_id,
        "name": "scout",
        "version": "1",
        "key_id": key.json()["id"],
        "mcp_url": mcp.url,
    }


def streams(operation: dict[str, Any]) -> bool:
    """A Server-Sent Events route: it answers 200 and never ends."""
    return "text/event-stream" in operation["responses"].get("200", {}).get("content", {})


def operations(client: TestClient) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every keyed operation; of the event streams only those naming an object (their 404 ends
    at once). A tenant's own stream is checked in tests/browser/test_console.py, where acme's
    page never receives the other tenant's task, and in tests/e2e/test_event_streams.py."""
    for path, item in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        if path in OPEN:
            continue
        for method, operation in item.items():
            if streams(operation) and "{" not in path:
                continue
            # A stateless run's wait lasts until a worker runs it (none here): it is checked in
            # tests/e2e/test_langgraph_sdk.py; the thread's own wait route is here (a 404).
            if path == "/runs/wait":
                continue
            yield method.upper(), path, operation


def fill(path: str, ids: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        # Decisions are asked of the task that waits; everything else of the failed one.
        if name == "task_id" and re.search(r"/(approve|reject|input|waits)$", path):
            return ids["waiting_task_id"]
        return ids[name]

    return re.sub(r"\{([^}]+)\}", one, path)


def body_for(operation: dict[str, Any], ids: dict[str, str]) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return None
    schema = content["application/json"]["schema"]
    ref = schema.get("$ref") or next(
        (s["$ref"] for s in schema.get("anyOf", []) if "$ref" in s), None
    )
    assert ref is not None, f"no schema name for {operation['operationId']}: {schema}"
    name = ref.rsplit("/", 1)[1]
    assert name in BODIES, f"add a valid {name} body to BODIES (for {operation['operationId']})"
    return filled(BODIES[name], ids)


def filled(value: Any, ids: dict[str, str]) -> Any:
    """A body with its `{name}` strings filled in, at any depth."""
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    return fill(value, ids) if isinstance(value, str) else value


def test_another_tenants_objects_are_404_on_every_route_and_stay_untouched(
    client: TestClient, db_url: str, mcp: RunningServer
) -> None:
    ids = objects(client, db_url, mcp)
    made = client.post("/v1/keys", json={"scopes": ["admin"], "tenant": OTHER})
    assert made.status_code == 201, made.text
    other = {"Authorization": f"Bearer {made.json()['key']}"}
    before = fingerprint(db_url)
    named, listed = [], []
    for method, path, operation in operations(client):
        url = fill(path, ids)
        response = client.request(
            method,
            url,
            json=body_for(operation, ids),
            params=QUERIES.get(path),
            headers=other,
        )
        if "{" in path or (method, path) in NAMED_BY_QUERY:
            named.append(path)
            assert response.status_code == 404, (method, url, response.text)
            assert response.json()["type"].endswith("/not-found"), response.text
        else:
            listed.append(path)
            assert response.status_code < 400, (method, url, response.text)
            for name, value in ids.items():
                # ids, not "1" or a short name; the URL is the other tenant's own body's too
                if len(value) > 8 and name != "mcp_url":
                    assert value not in response.text, (method, path, value)
    assert fingerprint(db_url) == before, "a cross-tenant call wrote to another tenant's rows"
    assert len(named) > 15 and len(listed) > 8, (named, listed)  # the document was read

    # The ids are real: the owner finds every object the other tenant was refused.
    for method, path, operation in operations(client):
        if method == "GET" and not streams(operation) and ("{" in path or path == "/store/items"):
            own = client.get(fill(path, ids), params=QUERIES.get(path), headers=AUTH)
            assert own.status_code == 200, (path, own.text)


def test_lists_filters_and_figures_are_per_tenant(
    client: TestClient, db_url: str, mcp: RunningServer
) -> None:
    ids = objects(client, db_url, mcp)
    made = client.post("/v1/keys", json={"scopes": ["admin"], "tenant": OTHER})
    other = {"Authorization": f"Bearer {made.json()['key']}"}
    mine = submit(client, "pipeline")  # default's queued task
    theirs = client.post("/v1/tasks", json={"graph": "pipeline", "input": {}}, headers=other)
    assert theirs.status_code == 201, theirs.text

    def task_ids(headers: dict[str, str], **params: Any) -> set[str]:
        response = client.get("/v1/tasks", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return {t["id"] for t in response.json()["items"]}

    assert task_ids(other) == {theirs.json()["id"]}
    assert task_ids(other, state="failed") == set()
    assert {mine["id"], ids["task_id"], ids["waiting_task_id"]} <= task_ids(AUTH)
    assert theirs.json()["id"] not in task_ids(AUTH)
    assert client.get("/v1/approvals", headers=other).json()["items"] == []
    assert client.get("/v1/dead-letters", headers=other).json()["items"] == []
    assert client.get("/v1/dead-letters/groups", headers=other).json()["items"] == []
    dry = client.post(
        "/v1/dead-letters/redrive", json={"dry_run": True, "limit": 100}, headers=other
    )
    assert dry.json()["count"] == 0, dry.text
    graphs = {g["name"]: g for g in client.get("/v1/graphs", headers=other).json()["items"]}
    assert graphs["pipeline"]["queued"] == 1  # its own task, not default's too

    # /metrics: a tenant's key counts its own tasks; the operator's (tenant default) all.
    def gauge(headers: dict[str, str], state: str) -> float:
        text = client.get("/metrics", headers=headers).text
        match = re.search(rf'^outlast_tasks{{state="{state}"}} (\S+)$', text, re.M)
        assert match, text
        return float(match.group(1))

    assert gauge(other, "queued") == 1 and gauge(other, "failed") == 0
    assert gauge(AUTH, "queued") == 2 and gauge(AUTH, "failed") == 1

    # Model usage likewise: one journaled call each; the operator's scrape shows both tenants'.
    with psycopg.connect(db_url) as conn:
        for tenant, task_id in ((OTHER, theirs.json()["id"]), ("default", mine["id"])):
            conn.execute(
                "INSERT INTO llm_calls (tenant, task_id, step_key, seq, lease_epoch, "
                "request_digest, request, status, provider, model) "
                "VALUES (%s, %s, 'k', 0, 1, 'd', '{}', 'completed', 'offline', 'echo')",
                (tenant, task_id),
            )

    def usage_tenants(headers: dict[str, str]) -> set[str]:
        text = client.get("/metrics", headers=headers).text
        return set(re.findall(r'^outlast_model_calls_total{.*tenant="([^"]+)"', text, re.M))

    assert usage_tenants(other) == {OTHER}
    assert usage_tenants(AUTH) == {OTHER, "default"}


def test_idempotency_keys_are_per_tenant(client: TestClient) -> None:
    made = client.post("/v1/keys", json={"scopes": ["admin"], "tenant": OTHER})
    other = {"Authorization": f"Bearer {made.json()['key']}"}
    body = {"graph": "pipeline", "input": {"n": 1}}
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    mine = client.post("/v1/tasks", json=body, headers={**AUTH, **key})
    theirs = client.post("/v1/tasks", json=body, headers={**other, **key})
    assert mine.status_code == 201 and theirs.status_code == 201, (mine.text, theirs.text)
    assert mine.json()["id"] != theirs.json()["id"]
    again = client.post("/v1/tasks", json=body, headers={**other, **key})
    assert again.status_code == 200 and again.json()["id"] == theirs.json()["id"]


def test_a_cursor_never_crosses_tenants(client: TestClient) -> None:
    """A cursor holds sort keys, not a tenant: replayed by another tenant it pages that
    tenant's own rows."""
    for _ in range(3):
        submit(client, "pipeline")
    first = client.get("/v1/tasks", params={"limit": 1}).json()
    assert first["next_cursor"]
    made = client.post("/v1/keys", json={"scopes": ["admin"], "tenant": OTHER})
    other = {"Authorization": f"Bearer {made.json()['key']}"}
    page = client.get(
        "/v1/tasks", params={"limit": 50, "cursor": first["next_cursor"]}, headers=other
    )
    assert page.status_code == 200 and page.json()["items"] == []
