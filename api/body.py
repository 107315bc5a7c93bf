"""The request-body guard: a pure ASGI middleware in front of every route.

It refuses a body over `max_bytes` with 413, first by its Content-Length (without reading it),
then by counting the bytes as they stream in (a chunked body has no Content-Length, and a
client may lie), stopping the moment the count passes the cap. A body within the cap is held,
checked by api.json_guard (400, 415 or 422 on failure), and replayed to the app unchanged.
Holding it costs at most `max_bytes` per request, which is what the cap is for.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import json_guard
from api.problems import ProblemError, field_error

_DIGITS = re.compile(r"[0-9]{1,20}")


class _Disconnected(Exception):
    """The client went away while its body was being read."""


class BodyGuard:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, max_depth: int, exempt: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.exempt = exempt  # path prefixes whose bodies are not JSON (the console's forms)
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large().response()(scope, receive, send)
            return
        try:
            body = await self._read(receive)
        except _Disconnected:
            return  # nobody is left to answer
        if body is None:
            await self._too_large().response()(scope, receive, send)
            return
        if body:
            violation = json_guard.inspect(body, _header(scope, b"content-type"), self.max_depth)
            if violation is not None:
                await _problem(violation).response()(scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the cap (or the client went away)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> ProblemError:
        message = f"the body is larger than {self.max_bytes} bytes"
        return ProblemError(
            413,
            "payload-too-large",
            "Payload too large",
            message,
            errors=[field_error("body", "max_bytes", message)],
            extra={"max_bytes": self.max_bytes},
        )


def _problem(violation: json_guard.Violation) -> ProblemError:
    return ProblemError(
        violation.status,
        violation.slug,
        violation.title,
        f"{violation.field}: {violation.message}",
        errors=[field_error(violation.field, violation.rule, violation.message, violation.pointer)],
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    # A malformed Content-Length is the server's to refuse; here it only means "count instead".
    # ASCII digits only: '²' (byte 0xb2) passes str.isdigit(), then int() raises.
    if value is None or not _DIGITS.fullmatch(value.strip(" \t")):
        return None
    return int(value)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the held body over once, then defers to the real one (so the app
    still sees http.disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
