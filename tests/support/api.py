"""Helpers shared by the API tests (this module holds no tests).

The app runs under Starlette's TestClient, which runs its lifespan (pool open/close) on a
portal thread; `on_app_loop` runs a db/ coroutine on that same loop with the app's own pool, so
tests drive the queue (claim, fail) exactly as a worker would, without a worker process.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
import uvicorn
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from api.app import create_app
from db import lease, outcome, workers
from db.connect import Pool
from outlast.settings import Settings
from tests.support.keys import AUTH
from tests.support.queue import GRAPHS
from tests.support.wait import wait_until

T = TypeVar("T")


# Tests poll the API as fast as they like; the rate limit has its own test (test_api_access.py).
UNLIMITED = {"rate_limit_per_s": 1e9, "rate_limit_burst": 1_000_000_000}


def settings_for(db_url: str, **overrides: Any) -> Settings:
    return Settings(**{"database_url": db_url, "graphs": "", **UNLIMITED, **overrides})


@contextmanager
def api_client(db_url: str, **overrides: Any) -> Iterator[TestClient]:
    app = create_app(settings_for(db_url, **overrides))
    with TestClient(app, raise_server_exceptions=False, headers=AUTH) as client:
        yield client


def on_app_loop(client: TestClient, fn: Callable[[Pool], Awaitable[T]]) -> T:
    """Run `fn(pool)` on the app's event loop with the app's pool."""
    assert client.portal is not None
    pool: Pool = client.app.state.pool  # type: ignore[attr-defined]

    async def call() -> T:
        return await fn(pool)

    return client.portal.call(call)


def counts(db_url: str) -> dict[str, int]:
    """Rows per table: a bad request must leave every number unchanged."""
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM task_events),"
            " (SELECT count(*) FROM dead_letters)"
        ).fetchone()
    assert row is not None
    return {"tasks": row[0], "task_events": row[1], "dead_letters": row[2]}


def submit(client: TestClient, graph: str = "flaky", **body: Any) -> dict[str, Any]:
    response = client.post("/v1/tasks", json={"graph": graph, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def dead_letter(
    client: TestClient, *, error_type: str = "FlakyError", graph: str = "flaky", **body: Any
) -> dict[str, Any]:
    """Submit a task, claim it as a registered worker, fail it for good: its dead letter."""
    task = submit(client, graph, **body)

    async def fail(pool: Pool) -> None:
        worker_id = uuid.uuid4()
        await workers.register(
            pool, worker_id, hostname="test", pid=1, concurrency=1, graphs=GRAPHS
        )
        claims = await lease.claim_many(pool, worker_id, limit=1, ttl_s=30, graphs=GRAPHS)
        assert [c.task_id for c in claims] == [uuid.UUID(task["id"])], "other tasks were queued"
        failure = outcome.Failure(error_type, "boom", "Traceback: boom", retryable=False)
        await outcome.fail(
            pool,
            worker_id,
            claims[0].task_id,
            claims[0].epoch,
            failure,
            outcome.RetryPolicy(base_s=1, max_s=1),
        )

    on_app_loop(client, fail)
    letters = client.get("/v1/dead-letters", params={"task_id": task["id"]}).json()["items"]
    assert len(letters) == 1
    return dict(letters[0])


def add_checkpoints(db_url: str, task_id: str, ids: list[str]) -> None:
    """A chain of checkpoints on the task's thread, as LangGraph's saver lays them out."""
    with psycopg.connect(db_url) as conn:
        parent = None
        for step, checkpoint_id in enumerate(ids):
            conn.execute(
                "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id,"
                " parent_checkpoint_id, type, checkpoint, metadata)"
                " VALUES (%s, '', %s, %s, NULL, %s, %s)",
                (
                    task_id,
                    checkpoint_id,
                    parent,
                    Jsonb({"ts": f"2026-01-01T00:00:0{step}"}),
                    Jsonb({"source": "loop", "step": step}),
                ),
            )
            parent = checkpoint_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(db_url: str, **overrides: Any) -> Iterator[str]:
    """The API on a real socket (uvicorn in a thread); yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings_for(db_url, **overrides)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 30, message="uvicorn to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
