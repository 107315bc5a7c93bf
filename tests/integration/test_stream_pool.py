"""Many open streams do not starve the API's pool (ADR 0015, ADR 0022): an idle stream holds no
pooled connection (one LISTEN connection per process wakes them all, and a stream takes a pooled
connection only for each short read); when the pool really is exhausted, a new request answers
503 with Retry-After (problem+json), never 500, and an open stream waits and reads on afterwards
without losing or repeating an event."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from db.connect import Pool
from tests.support.api import free_port, settings_for
from tests.support.keys import AUTH
from tests.support.sse import Event, events
from tests.support.wait import wait_until

POOL = 2
CLIENTS = 3 * POOL
EVENTS = 10


class Live:
    """The API on a real socket, with a handle on its app and event loop."""

    def __init__(self, db_url: str, **overrides: Any) -> None:
        self.app: FastAPI = create_app(settings_for(db_url, **overrides))
        self.port = free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.base = f"http://127.0.0.1:{self.port}"

    @contextlib.contextmanager
    def running(self) -> Iterator[Live]:
        thread = threading.Thread(target=self.server.run, daemon=True)
        thread.start()
        try:
            wait_until(lambda: self.server.started, 30, message="uvicorn to start")
            self.loop = self.server.servers[0].get_loop()
            yield self
        finally:
            self.server.should_exit = True
            thread.join(10)

    @property
    def pool(self) -> Pool:
        pool: Pool = self.app.state.pool
        return pool

    def in_use(self) -> int:
        stats = self.pool.get_stats()
        return int(stats.get("pool_size", 0)) - int(stats.get("pool_available", 0))

    def hold_every_connection(self) -> tuple[Future[None], asyncio.Event]:
        """Take every pooled connection until the returned event is set."""
        release = asyncio.Event()

        async def hold() -> None:
            async with contextlib.AsyncExitStack() as stack:
                for _ in range(POOL):
                    await stack.enter_async_context(self.pool.connection())
                await release.wait()

        return asyncio.run_coroutine_threadsafe(hold(), self.loop), release

    def let_go(self, release: asyncio.Event) -> None:
        self.loop.call_soon_threadsafe(release.set)


def head(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM task_events").fetchone()
    assert row is not None
    return int(row[0])


def insert_events(db_url: str, n: int) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        for _ in range(n):
            conn.execute(
                "INSERT INTO task_events (tenant, task_id, kind, to_state)"
                " VALUES ('default', %s, 'probe', 'queued')",
                (uuid.uuid4(),),
            )


def follow(base: str, after: int, got: list[Event], statuses: list[int]) -> None:
    headers = {**AUTH, "Last-Event-ID": str(after)}
    with (
        contextlib.suppress(httpx.HTTPError),
        httpx.stream(
            "GET", f"{base}/v1/stream", headers=headers, timeout=httpx.Timeout(60)
        ) as response,
    ):
        statuses.append(response.status_code)
        for event in events(response):
            got.append(event)


def open_streams(base: str, after: int) -> tuple[list[list[Event]], list[int]]:
    received: list[list[Event]] = [[] for _ in range(CLIENTS)]
    statuses: list[int] = []
    for got in received:
        threading.Thread(target=follow, args=(base, after, got, statuses), daemon=True).start()
    wait_until(lambda: len(statuses) == CLIENTS, 60, message="every stream to open")
    assert statuses == [200] * CLIENTS
    return received, statuses


def test_idle_streams_hold_no_pooled_connection(db_url: str) -> None:
    with Live(db_url, api_pool_size=POOL, stream_poll_s=0.2).running() as live:
        received, _ = open_streams(live.base, head(db_url))
        insert_events(db_url, EVENTS)
        wait_until(lambda: all(len(got) >= EVENTS for got in received), 60, message="events")
        # Three pools' worth of open streams, and between reads not one connection is taken.
        wait_until(lambda: live.in_use() == 0, 30, message="the streams to give back the pool")
        answers = [httpx.get(f"{live.base}/v1/tasks", headers=AUTH, timeout=30) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        for got in received:
            assert [e.id for e in got] == sorted({e.id for e in got})
            assert len(got) == EVENTS


def test_an_exhausted_pool_answers_503_and_streams_read_on_after(db_url: str) -> None:
    settings = {"api_pool_size": POOL, "api_pool_wait_s": 0.3, "stream_poll_s": 0.2}
    with Live(db_url, **settings).running() as live:
        received, _ = open_streams(live.base, head(db_url))
        held, release = live.hold_every_connection()
        wait_until(lambda: live.in_use() == POOL, 30, message="the pool to be taken")
        try:
            for path in ("/v1/stream", "/v1/tasks"):
                answer = httpx.get(f"{live.base}{path}", headers=AUTH, timeout=30)
                assert answer.status_code == 503, answer.text
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert answer.headers["retry-after"] == "1"
                assert answer.json()["type"].endswith("database-unavailable")
            # Events while the streams cannot read: they wait, they do not end.
            insert_events(db_url, EVENTS)
            with contextlib.suppress(AssertionError):
                wait_until(lambda: False, 1.5)
        finally:
            live.let_go(release)
            held.result(10)
        wait_until(lambda: all(len(got) >= EVENTS for got in received), 60, message="every event")
        for got in received:
            assert len(got) == len({e.id for e in got}) == EVENTS
