"""The console's one way in: the API itself, called in process over ASGI with the signed-in
key, so every page and every action passes the same routes, scopes and tenant filters as any
client (the console holds no SQL and imports no process package).

`call` answers JSON (httpx over ASGITransport, which buffers: fine for a page's reads and a
form's write). `stream` forwards a streaming response (the SSE routes) chunk by chunk, which
ASGITransport cannot: it runs the API app with an ASGI `send` that feeds a queue, and tells the
app the client left (`http.disconnect`) when the browser goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.types import ASGIApp, Message


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def detail(self) -> str:
        """What went wrong, as the API's problem+json says it."""
        if isinstance(self.body, dict):
            return str(self.body.get("detail") or self.body.get("title") or self.status)
        return f"HTTP {self.status}"


class Upstream:
    def __init__(self, api: ASGIApp) -> None:
        self.api = api

    async def call(
        self,
        key: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Answer:
        transport = httpx.ASGITransport(app=self.api)
        headers = {"Authorization": f"Bearer {key}"}
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            kwargs: dict[str, Any] = {"params": clean, "headers": headers}
            if json is not None:
                kwargs["json"] = json
            response = await client.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Answer(response.status_code, body)

    async def stream(
        self, key: str, path: str, params: dict[str, str], last_event_id: str | None
    ) -> tuple[int, AsyncIterator[bytes]]:
        """The status of a streaming GET, and its body as it comes."""
        headers = [(b"authorization", f"Bearer {key}".encode())]
        if last_event_id:
            headers.append((b"last-event-id", last_event_id.encode("latin-1")))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": urlencode(params).encode(),
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": ("console", 80),
        }
        queue: asyncio.Queue[Message] = asyncio.Queue()
        gone = asyncio.Event()
        sent_request = False

        async def receive() -> Message:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            await queue.put(message)

        async def run() -> None:
            await self.api(scope, receive, send)

        running = asyncio.create_task(run())
        start = await asyncio.wait_for(queue.get(), 30)
        status = int(start.get("status", 500))

        async def body() -> AsyncIterator[bytes]:
            try:
                while True:
                    message = await queue.get()
                    if message["type"] != "http.response.body":
                        continue
                    if message.get("body"):
                        yield message["body"]
                    if not message.get("more_body", False):
                        return
            finally:
                gone.set()
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await running

        return status, body()
