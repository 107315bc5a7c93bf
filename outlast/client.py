"""Typed clients for Outlast's REST API: `Client` (httpx.Client) and `AsyncClient` (the same
methods, awaited; outlast.async_client).

    from outlast.client import Client
    with Client("http://127.0.0.1:8000") as api:  # key: $OUTLAST_API_KEY or .data/admin.key
        task = api.submit("pipeline", {"text": "Hello."}, idempotency_key="doc-1")
        print(api.wait(task["id"], timeout=60)["state"])

Responses are the API's JSON as dicts (docs/api.md describes each); the calls themselves are
written once, in outlast.endpoints. Beyond one call per operation: `iter_tasks`,
`iter_dead_letters` and `iter_events` follow the pages' cursors, `stream` follows a task's
events live, and `wait` returns a task once it ends or waits on a person. Errors:

    ApiError            the API answered 4xx/5xx; `.status` and `.problem` (problem+json)
    httpx.TransportError  the API could not be reached (connection refused, timeout, ...)
    TimeoutError        `wait` ran out of time
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import Unpack

import httpx

from outlast.async_client import AsyncClient
from outlast.endpoints import DEFAULT_URL as DEFAULT_URL
from outlast.endpoints import Call, Endpoints, Json, Options, parse
from outlast.errors import ApiError
from outlast.eventstream import (
    STREAM_TIMEOUT,
    Deadline,
    Reader,
    Retries,
    Watch,
    next_cursor,
    settled,
    stream_path,
)

__all__ = ["ApiError", "AsyncClient", "Client"]


class Client(Endpoints[Json, Iterator[Json]]):
    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Unpack[Options],
    ) -> None:
        """`api_key`: else $OUTLAST_API_KEY, else the key `make start` saved (outlast.apikey);
        with none, requests go without one (an API with OUTLAST_AUTH=off takes them).
        `timeout`: seconds for each request (30)."""
        self._http = httpx.Client(transport=transport, **self._session(base_url, options))

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, call: Call) -> Json:
        return parse(self._http.request(call.method, call.path, **call.send_args()))

    def _items(self, page: Callable[..., Json], filters: Json) -> Iterator[Json]:
        while True:
            body = page(**filters)
            yield from body["items"]
            if not next_cursor(body, filters):
                return

    def stream(
        self, task_id: str, last_event_id: int | str | None = None, *, retries: int = 5
    ) -> Generator[Json, None, None]:
        """The task's events as they happen, from its first (or after `last_event_id`), for
        ever: stop iterating when done. A dropped connection is resumed with Last-Event-ID, so
        no event is missed or repeated; after `retries` failed reconnects in a row the last
        httpx.TransportError is raised. ApiError when the API refuses (404: no such task)."""
        reader, budget = Reader(last_event_id), Retries(retries)
        while True:
            try:
                with self._http.stream(
                    "GET", stream_path(task_id), headers=reader.headers(), timeout=STREAM_TIMEOUT
                ) as response:
                    if response.is_error:
                        response.read()
                        parse(response)  # raises ApiError
                    for event in reader.events(response.iter_lines()):
                        budget.reset()
                        yield event
            except httpx.TransportError as exc:
                time.sleep(budget.backoff(exc))
            else:
                time.sleep(budget.ended())

    def wait(self, task_id: str, timeout: float | None = None, *, poll_s: float = 2.0) -> Json:
        """The task once it is completed, failed or cancelled, or waits on a person (an
        approval, an answer, a budget). Follows the task's stream; polls every `poll_s` when
        the stream is refused or drops. TimeoutError after `timeout` seconds (None: no limit)."""
        watch = Watch(Deadline(timeout), poll_s)
        task = self.get(task_id)
        while not settled(task):
            if watch.streaming:
                self._watch(task_id, watch)
            time.sleep(watch.pause())
            task = self.get(task_id)
        return task

    def _watch(self, task_id: str, watch: Watch) -> None:
        """Reads the stream until an event settles the task; else marks the look dropped."""
        path, headers = stream_path(task_id), watch.reader.headers()
        try:
            with self._http.stream("GET", path, headers=headers, timeout=watch.timeout()) as got:
                if watch.refused(got) or any(watch.moved(line) for line in got.iter_lines()):
                    return
        except httpx.TransportError:
            pass
        watch.dropped = True
