"""`AsyncClient`: `outlast.client.Client`'s methods over httpx.AsyncClient, awaited.

    async with AsyncClient("http://127.0.0.1:8000") as api:
        task = await api.submit("pipeline", {"text": "Hello."})
        async for event in api.stream(task["id"]):
            ...

Every call is written once (outlast.endpoints); the answers and errors are the sync client's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Unpack

import httpx

from outlast import eventstream as es
from outlast.endpoints import DEFAULT_URL, Call, Endpoints, Json, Options, parse

__all__ = ["AsyncClient"]


class AsyncClient(Endpoints[Awaitable[Json], AsyncIterator[Json]]):
    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Unpack[Options],
    ) -> None:
        """`api_key` and `timeout` as `Client` takes them."""
        self._http = httpx.AsyncClient(transport=transport, **self._session(base_url, options))

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, call: Call) -> Json:
        return parse(await self._http.request(call.method, call.path, **call.send_args()))

    async def _items(
        self, page: Callable[..., Awaitable[Json]], filters: Json
    ) -> AsyncIterator[Json]:
        more = True
        while more:
            body = await page(**filters)
            for item in body["items"]:
                yield item
            more = es.next_cursor(body, filters)

    async def stream(
        self, task_id: str, last_event_id: int | str | None = None, *, retries: int = 5
    ) -> AsyncGenerator[Json, None]:
        """As `Client.stream`: the task's events, live and for ever, resumed with
        Last-Event-ID when the connection drops."""
        reader, budget = es.Reader(last_event_id), es.Retries(retries)
        while True:
            request = self._http.build_request(
                "GET", es.stream_path(task_id), headers=reader.headers(), timeout=es.STREAM_TIMEOUT
            )
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                await asyncio.sleep(budget.backoff(exc))
                continue
            try:
                await _raise_for_problem(response)
                async for line in response.aiter_lines():
                    event = reader.feed(line)
                    if event is not None:
                        budget.reset()
                        yield event
            except httpx.TransportError as exc:
                await asyncio.sleep(budget.backoff(exc))
            else:
                await asyncio.sleep(budget.ended())
            finally:
                await response.aclose()

    # ASYNC109: the same call as Client.wait; the deadline also bounds each stream read.
    async def wait(
        self,
        task_id: str,
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        poll_s: float = 2.0,
    ) -> Json:
        """As `Client.wait`: the task once it ends or waits on a person; TimeoutError after
        `timeout` seconds."""
        watch = es.Watch(es.Deadline(timeout), poll_s)
        task = await self.get(task_id)
        while not es.settled(task):
            if watch.streaming:
                await self._watch(task_id, watch)
            await asyncio.sleep(watch.pause())
            task = await self.get(task_id)
        return task

    async def _watch(self, task_id: str, watch: es.Watch) -> None:
        request = self._http.build_request(
            "GET", es.stream_path(task_id), headers=watch.reader.headers(), timeout=watch.timeout()
        )
        try:
            response = await self._http.send(request, stream=True)
            try:
                if watch.refused(response):
                    return
                async for line in response.aiter_lines():
                    if watch.moved(line):
                        return
            finally:
                await response.aclose()
        except httpx.TransportError:
            pass
        watch.dropped = True


async def _raise_for_problem(response: httpx.Response) -> None:
    if response.is_error:
        await response.aread()
        parse(response)  # raises ApiError
