"""POST/GET/DELETE /v1/tool-servers against a real MCP server on 127.0.0.1: discovery at
registration, health, refresh; the token never in a response; bad input is a 4xx naming the
field (not http(s), private without the allow-list, unreachable, wrong token, duplicate name);
another tenant sees none of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import api_client
from tests.support.mcp_server import RunningServer, mcp_server

TOKEN = "mcp-secret-token-0123456789"  # noqa: S105 - a test token for the local server


@pytest.fixture(scope="module")
def mcp() -> Iterator[RunningServer]:
    with mcp_server(TOKEN) as server:
        yield server


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url, net_allow="127.0.0.0/8", tool_timeout_s=5) as client:
        yield client


def problem(response: Any, status: int, field: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    if field is not None:
        assert [e["field"] for e in body["errors"]] == [field]
    return str(body["detail"])


def test_register_list_refresh_delete(api: TestClient, mcp: RunningServer) -> None:
    made = api.post("/v1/tool-servers", json={"name": "srv", "url": mcp.url, "token": TOKEN})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["health"] == "ok" and body["has_token"] and body["token_hint"] == TOKEN[-4:]
    assert [t["name"] for t in body["tools"]] == ["add", "send", "fail"]
    assert body["tools"][0]["input_schema"]["required"] == ["a", "b"]

    listed = api.get("/v1/tool-servers")
    assert [s["name"] for s in listed.json()] == ["srv"]
    assert TOKEN not in made.text + listed.text

    refreshed = api.post("/v1/tool-servers/srv/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["health"] == "ok"
    assert TOKEN not in refreshed.text

    again = {"name": "srv", "url": mcp.url, "token": TOKEN}
    problem(api.post("/v1/tool-servers", json=again), 409)
    assert api.delete("/v1/tool-servers/srv").status_code == 204
    assert api.delete("/v1/tool-servers/srv").status_code == 404
    assert api.post("/v1/tool-servers/srv/refresh").status_code == 404


def test_bad_servers_are_422_naming_the_url(api: TestClient, mcp: RunningServer) -> None:
    def post(**body: Any) -> Any:
        return api.post("/v1/tool-servers", json={"name": "bad", **body})

    assert "only http and https" in problem(post(url="ftp://127.0.0.1/mcp"), 422, "body.url")
    assert "private" in problem(post(url="http://10.1.2.3/mcp"), 422, "body.url")
    assert "metadata" in problem(post(url="http://169.254.169.254/"), 422, "body.url")
    assert "reached" in problem(post(url="http://127.0.0.1:1/mcp"), 422, "body.url")
    wrong = problem(post(url=mcp.url, token="wrong-token"), 422, "body.url")  # noqa: S106
    assert "reached" in wrong and "wrong-token" not in wrong
    problem(post(url=mcp.url, token="has space"), 422, "body.token")  # noqa: S106
    problem(api.post("/v1/tool-servers", json={"name": "Bad.Name", "url": mcp.url}), 422)
    assert api.get("/v1/tool-servers").json() == []


def test_loopback_is_refused_unless_allowed(db_url: str, mcp: RunningServer) -> None:
    with api_client(db_url) as strict:
        response = strict.post("/v1/tool-servers", json={"name": "srv", "url": mcp.url})
        assert "loopback" in problem(response, 422, "body.url")


def test_another_tenant_sees_nothing(api: TestClient, mcp: RunningServer) -> None:
    made = api.post("/v1/tool-servers", json={"name": "srv", "url": mcp.url, "token": TOKEN})
    assert made.status_code == 201
    key = api.post("/v1/keys", json={"scopes": ["agents:admin"], "tenant": "acme"}).json()["key"]
    acme = {"Authorization": f"Bearer {key}"}
    assert api.get("/v1/tool-servers", headers=acme).json() == []
    assert api.delete("/v1/tool-servers/srv", headers=acme).status_code == 404
    assert api.post("/v1/tool-servers/srv/refresh", headers=acme).status_code == 404
    assert api.get("/v1/tool-servers").json()[0]["name"] == "srv"
