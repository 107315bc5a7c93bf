"""Agents as versioned records of a tenant: create, list, get, update (a new version; the old
ones unchanged), versions, diff, disable and enable; a bad field is a 422 naming it; a duplicate
name is a 409; another tenant's agent is a 404 and never listed; the scope is agents:admin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from db import agent
from db.connect import Pool
from db.errors import Conflict
from tests.support.api import api_client, on_app_loop
from tests.support.keys import create

SPEC = {"name": "support", "provider": "anthropic", "model": "claude-sonnet-4-5"}


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as c:
        yield c


def tenant_key(client: TestClient, tenant: str, *scopes: str) -> dict[str, str]:
    made = client.post("/v1/keys", json={"scopes": list(scopes), "tenant": tenant})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['key']}"}


def make(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/agents", json={**SPEC, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return dict(response.json())


def test_create_get_update_versions_and_diff(client: TestClient) -> None:
    made = make(client, fallbacks=["openai:gpt-4o"], temperature=0.2, allowed_tools=["calculator"])
    assert made["version"] == 1 and made["disabled_at"] is None
    assert made["fallbacks"] == ["openai:gpt-4o"] and made["system_prompt"] == ""
    assert made["updated_by"] == "olk_0000000000a1"
    assert client.get("/v1/agents/support").json() == made

    patch = {"temperature": 1.5, "system_prompt": "Be brief.", "budgets": {"per_task_micro_usd": 5}}
    updated = client.patch("/v1/agents/support", json=patch)
    assert updated.status_code == 200, updated.text
    v2 = updated.json()
    assert v2["version"] == 2 and v2["temperature"] == 1.5 and v2["model"] == made["model"]
    assert v2["budgets"] == {"per_task_micro_usd": 5, "per_hour_micro_usd": None}

    v1 = client.get("/v1/agents/support/versions/1").json()
    assert v1["version"] == 1 and v1["temperature"] == 0.2 and v1["system_prompt"] == ""
    listed = client.get("/v1/agents/support/versions").json()["items"]
    assert [v["version"] for v in listed] == [2, 1]

    diff = client.get("/v1/agents/support/diff", params={"from": 1, "to": 2}).json()
    assert diff["from_version"] == 1 and diff["to_version"] == 2
    assert diff["changes"] == [
        {"field": "system_prompt", "old": "", "new": "Be brief."},
        {"field": "temperature", "old": 0.2, "new": 1.5},
        {
            "field": "budgets",
            "old": None,
            "new": {"per_task_micro_usd": 5, "per_hour_micro_usd": None},
        },
    ]
    same = client.get("/v1/agents/support/diff", params={"from": 2, "to": 2}).json()
    assert same["changes"] == []
    problem(client.get("/v1/agents/support/diff", params={"from": 1, "to": 3}), 404)
    problem(client.get("/v1/agents/support/versions/3"), 404)


def test_a_share_is_stored_and_shown(client: TestClient) -> None:
    assert make(client)["share"] is None  # 1 in the claim
    updated = client.patch("/v1/agents/support", json={"share": 4})
    assert updated.status_code == 200 and updated.json()["share"] == 4


def test_a_patch_that_changes_nothing_makes_no_version(client: TestClient) -> None:
    make(client, temperature=0.5)
    again = client.patch("/v1/agents/support", json={"temperature": 0.5})
    assert again.status_code == 200 and again.json()["version"] == 1


def test_null_clears_an_optional_field_but_not_a_required_one(client: TestClient) -> None:
    make(client, description="first")
    cleared = client.patch("/v1/agents/support", json={"description": None})
    assert cleared.json()["description"] is None and cleared.json()["version"] == 2
    body = problem(client.patch("/v1/agents/support", json={"model": None}), 422)
    assert body["errors"][0]["field"] == "body.model"


def test_disable_and_enable(client: TestClient) -> None:
    make(client)
    disabled = client.post("/v1/agents/support/disable").json()
    assert disabled["disabled_at"] is not None and disabled["version"] == 1
    again = client.post("/v1/agents/support/disable").json()
    assert again["disabled_at"] == disabled["disabled_at"]  # the first time is kept
    assert client.get("/v1/agents").json()["items"][0]["disabled_at"] is not None
    assert client.post("/v1/agents/support/enable").json()["disabled_at"] is None
    problem(client.post("/v1/agents/nobody/disable"), 404)


def test_list_is_by_name_and_paginated(client: TestClient) -> None:
    for name in ("c", "a", "b"):
        make(client, name=name)
    first = client.get("/v1/agents", params={"limit": 2}).json()
    assert [a["name"] for a in first["items"]] == ["a", "b"]
    rest = client.get("/v1/agents", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [a["name"] for a in rest["items"]] == ["c"] and rest["next_cursor"] is None


def test_versions_are_paginated(client: TestClient) -> None:
    make(client)
    for t in (0.1, 0.2, 0.3):
        assert client.patch("/v1/agents/support", json={"temperature": t}).status_code == 200
    first = client.get("/v1/agents/support/versions", params={"limit": 3}).json()
    assert [v["version"] for v in first["items"]] == [4, 3, 2]
    cursor = first["next_cursor"]
    rest = client.get("/v1/agents/support/versions", params={"cursor": cursor}).json()
    assert [v["version"] for v in rest["items"]] == [1]


def test_a_duplicate_name_is_409(client: TestClient) -> None:
    make(client)
    problem(client.post("/v1/agents", json=SPEC), 409)


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"name": "Has-Caps"}, "body.name", "string_pattern_mismatch"),
        ({"name": "x" * 64}, "body.name", "string_pattern_mismatch"),
        ({"name": "-lead"}, "body.name", "string_pattern_mismatch"),
        ({"provider": "cohere"}, "body.provider", "known_provider"),
        ({"model": ""}, "body.model", "string_too_short"),
        ({"fallbacks": ["gpt-4o"]}, "body.fallbacks.0", "string_pattern_mismatch"),
        ({"fallbacks": ["cohere:x"]}, "body.fallbacks.0", "string_pattern_mismatch"),
        ({"system_prompt": "x" * 32_001}, "body.system_prompt", "string_too_long"),
        ({"temperature": 2.5}, "body.temperature", "less_than_equal"),
        ({"temperature": -0.1}, "body.temperature", "greater_than_equal"),
        ({"temperature": "1"}, "body.temperature", "float_type"),
        ({"max_tokens": 0}, "body.max_tokens", "greater_than_equal"),
        ({"max_tokens": 200_001}, "body.max_tokens", "less_than_equal"),
        ({"allowed_tools": ["shell"]}, "body.allowed_tools.0", "known_tool"),
        ({"graph": "nope"}, "body.graph", "known_graph"),
        ({"max_concurrent_tasks": 0}, "body.max_concurrent_tasks", "greater_than_equal"),
        ({"share": 0}, "body.share", "greater_than_equal"),
        ({"share": 1001}, "body.share", "less_than_equal"),
        ({"share": 1.5}, "body.share", None),
        ({"budgets": {"per_task_micro_usd": -1}}, "body.budgets.per_task_micro_usd", None),
        ({"budgets": {"per_day": 1}}, "body.budgets.per_day", "extra_forbidden"),
        ({"colour": "red"}, "body.colour", "extra_forbidden"),
    ],
)
def test_a_bad_field_is_422_naming_it(
    client: TestClient, fields: dict[str, Any], field: str, rule: str | None
) -> None:
    body = problem(client.post("/v1/agents", json={**SPEC, **fields}), 422)
    assert body["errors"][0]["field"] == field, body
    assert rule is None or body["errors"][0]["rule"] == rule, body
    if "name" not in fields and "graph" not in fields:  # a PATCH takes the same rules
        patched = problem(client.patch("/v1/agents/support", json=fields), 422)
        assert patched["errors"][0]["field"] == field, patched
    assert client.get("/v1/agents").json()["items"] == []


def test_a_bad_patch_is_422_and_makes_no_version(client: TestClient) -> None:
    make(client)
    body = problem(client.patch("/v1/agents/support", json={"allowed_tools": ["shell"]}), 422)
    assert body["errors"][0]["field"] == "body.allowed_tools.0"
    problem(client.patch("/v1/agents/support", json={"graph": "nope"}), 422)
    assert client.get("/v1/agents/support").json()["version"] == 1


def test_an_unknown_agent_is_404(client: TestClient) -> None:
    for path in ("/v1/agents/ghost", "/v1/agents/ghost/versions", "/v1/agents/ghost/versions/1"):
        problem(client.get(path), 404)
    problem(client.patch("/v1/agents/ghost", json={"temperature": 1}), 404)


def test_another_tenants_agent_is_404_and_unlisted(client: TestClient) -> None:
    make(client)  # tenant default
    acme = tenant_key(client, "acme", "agents:admin")
    for path in (
        "/v1/agents/support",
        "/v1/agents/support/versions",
        "/v1/agents/support/versions/1",
        "/v1/agents/support/diff?from=1&to=1",
    ):
        problem(client.get(path, headers=acme), 404)
    problem(client.patch("/v1/agents/support", json={"temperature": 1}, headers=acme), 404)
    problem(client.post("/v1/agents/support/disable", headers=acme), 404)
    assert client.get("/v1/agents", headers=acme).json()["items"] == []
    # The same name is free in another tenant, and stays apart.
    own = client.post("/v1/agents", json={**SPEC, "model": "other"}, headers=acme)
    assert own.status_code == 201 and own.json()["version"] == 1
    assert client.get("/v1/agents/support").json()["model"] == SPEC["model"]


def test_a_key_without_agents_admin_is_403(client: TestClient) -> None:
    reader = create(client, "tasks:read", "tasks:write")["headers"]
    body = problem(client.post("/v1/agents", json=SPEC, headers=reader), 403)
    assert body["scope"] == "agents:admin"
    problem(client.get("/v1/agents", headers=reader), 403)
    agents_admin = create(client, "agents:admin")["headers"]
    assert client.post("/v1/agents", json=SPEC, headers=agents_admin).status_code == 201


def test_an_update_made_from_a_stale_version_is_refused(client: TestClient) -> None:
    """Two PATCHes at once: both read version 1; the first makes version 2, and the second's
    guard (made from version 1) no longer matches, so it writes nothing instead of overwriting
    the first one's change."""
    make(client)
    assert client.patch("/v1/agents/support", json={"temperature": 1}).json()["version"] == 2

    async def stale(pool: Pool) -> None:
        spec = {**SPEC, "model": "lost"}
        await agent.update(pool, "default", "support", spec, from_version=1, created_by="x")

    with pytest.raises(Conflict):
        on_app_loop(client, stale)
    current = client.get("/v1/agents/support").json()
    assert current["version"] == 2 and current["model"] == SPEC["model"]
