"""Workers, graphs, health and readiness, OpenAPI, and the app factory under uvicorn."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from db import workers
from db.connect import Pool
from tests.support import database as test_db
from tests.support.api import api_client, free_port, live_server, on_app_loop
from tests.support.keys import AUTH
from tests.support.processes import Processes
from tests.support.queue import GRAPHS
from tests.support.wait import wait_until


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as c:
        yield c


def test_workers_list_filter_and_pages(client: TestClient) -> None:
    ids = [uuid.uuid4() for _ in range(3)]

    async def register(pool: Pool) -> None:
        for n, worker_id in enumerate(ids):
            await workers.register(
                pool, worker_id, hostname=f"h{n}", pid=100 + n, concurrency=4, graphs=GRAPHS
            )
        await workers.set_state(pool, ids[0], "stopped")

    on_app_loop(client, register)
    first = client.get("/v1/workers", params={"limit": 2}).json()
    rest = client.get("/v1/workers", params={"cursor": first["next_cursor"]}).json()
    listed = first["items"] + rest["items"]
    assert [w["id"] for w in listed] == [str(i) for i in reversed(ids)]  # newest first
    assert rest["next_cursor"] is None
    newest = listed[0]
    assert (newest["hostname"], newest["pid"], newest["concurrency"]) == ("h2", 102, 4)
    assert newest["state"] == "running" and newest["last_heartbeat_at"]
    stopped = client.get("/v1/workers", params={"state": "stopped"}).json()["items"]
    assert [w["id"] for w in stopped] == [str(ids[0])] and stopped[0]["stopped_at"]


def test_graphs_lists_builtins(client: TestClient) -> None:
    body = client.get("/v1/graphs").json()
    graphs = {g["name"]: g for g in body["items"]}
    assert {"pipeline", "flaky"} <= set(graphs)
    assert graphs["pipeline"]["import_path"] == "outlast.graphs.pipeline:graph"
    assert "normalize" in graphs["pipeline"]["nodes"]
    assert graphs["flaky"]["description"] and graphs["flaky"]["error"] is None


def test_graph_that_cannot_load_is_listed_with_its_error(db_url: str) -> None:
    with api_client(db_url) as client:
        client.app.state.registry.paths["broken"] = "no_such_module:graph"  # type: ignore[attr-defined]
        graphs = {g["name"]: g for g in client.get("/v1/graphs").json()["items"]}
    assert graphs["broken"]["nodes"] == [] and "cannot be loaded" in graphs["broken"]["error"]
    assert graphs["pipeline"]["error"] is None


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readyz_is_503_on_an_unmigrated_database(pg_server: test_db.DatabaseServer) -> None:
    empty = f"t_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{empty}"')
    url = test_db.with_database(pg_server.admin_url, empty)
    try:
        with api_client(url) as client:
            assert client.get("/healthz").status_code == 200
            response = client.get("/readyz")
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"] == "https://outlast.dev/problems/not-ready"
            assert "migrate" in response.json()["detail"]
    finally:
        pg_server.drop(url)


def test_readyz_is_503_when_the_database_is_gone(
    pg_server: test_db.DatabaseServer, db_url: str
) -> None:
    with api_client(db_url) as client:
        pg_server.drop(db_url)  # terminates the pool's connections, and nothing comes back
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["type"] == "https://outlast.dev/problems/not-ready"
        assert client.get("/healthz").status_code == 200
        listed = client.get("/v1/tasks")
        assert listed.status_code == 503, listed.text
        assert listed.json()["type"] == "https://outlast.dev/problems/database-unavailable"


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in [
        "/v1/tasks",
        "/v1/tasks/{task_id}",
        "/v1/tasks/{task_id}/events",
        "/v1/tasks/{task_id}/checkpoints",
        "/v1/tasks/{task_id}/cancel",
        "/v1/dead-letters",
        "/v1/dead-letters/groups",
        "/v1/dead-letters/{dead_letter_id}",
        "/v1/dead-letters/{dead_letter_id}/redrive",
        "/v1/dead-letters/redrive",
        "/v1/workers",
        "/v1/graphs",
        "/healthz",
        "/readyz",
    ]:
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    assert {"TaskCreate", "TaskPublic", "DeadLetterPublic", "WorkerPublic"} <= set(schemas)
    assert "request_hash" not in schemas["TaskPublic"]["properties"]
    assert client.get("/docs").status_code == 200


def test_factory_serves_over_a_real_socket(db_url: str) -> None:
    with live_server(db_url) as base:
        created = httpx.post(f"{base}/v1/tasks", json={"graph": "pipeline"}, headers=AUTH)
        assert created.status_code == 201
        assert (
            httpx.get(created.headers["location"], headers=AUTH).json()["id"]
            == created.json()["id"]
        )
        assert httpx.get(f"{base}/readyz").status_code == 200


def test_uvicorn_factory_process(processes: Processes) -> None:
    port = free_port()
    proc = processes.start("uvicorn", "api.app:create_app", "--factory", "--port", str(port))
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/readyz").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, 30, message=f"uvicorn to serve; log: {proc.output()}")
    assert (
        httpx.post(f"{base}/v1/tasks", json={"graph": "counted"}, headers=AUTH).status_code == 201
    )
