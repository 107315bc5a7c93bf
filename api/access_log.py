"""The API's access log: one line per request on the `outlast.api.access` logger, as JSON
(outlast.logs) like every other process.

The request's details are fields of the line (method, path, query, status, duration_ms,
client, and `key`: the public id `olk_<id>` of the caller's API key, never its secret), never
part of its message: a path is percent-decoded text the client chose, NULs and
newlines included, and the JSON encoding escapes it inside its field, so a request cannot forge
or split a log line.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("outlast.api.access")


class AccessLog:
    """A pure ASGI middleware; outermost, so it times and sees every answer, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app starts a response: an exception escaped it

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            log.info("request", extra=_fields(scope, status, time.perf_counter() - started))


def _fields(scope: Scope, status: int, elapsed_s: float) -> dict[str, object]:
    client = scope.get("client")
    key_id = (scope.get("state") or {}).get("key_id")  # set by api.deps.authorize
    return {
        "method": scope["method"],
        "path": scope["path"],
        "query": bytes(scope.get("query_string", b"")).decode("latin-1"),
        "status": status,
        "duration_ms": round(elapsed_s * 1000, 3),
        "client": client[0] if client else None,
        "key": f"olk_{key_id}" if key_id else None,
    }
