"""A real MCP server (the `mcp` package's MCPServer over streamable HTTP) on 127.0.0.1, in a
thread of the test process, for the tool-server tests. It wants `Authorization: Bearer
<token>` (401 otherwise) and records every tool call with the `_meta` it carried.

Tools: `add(a, b)` (read-only, so idempotent), `send(to)` (a side effect, not idempotent),
`fail()` (answers an error result)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass
class Recorded:
    calls: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)


def build(recorded: Recorded, token: str) -> MCPServer:
    server = MCPServer("test-tools")

    def note(name: str, ctx: Context, **arguments: Any) -> None:
        meta = dict(ctx.request_context.meta or {})
        recorded.calls.append({"tool": name, "arguments": arguments, "meta": meta})

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def add(a: int, b: int, ctx: Context) -> int:
        """Add two integers."""
        note("add", ctx, a=a, b=b)
        return a + b

    @server.tool()
    def send(to: str, ctx: Context) -> str:
        """Send a message (a side effect)."""
        note("send", ctx, to=to)
        return f"sent to {to}"

    @server.tool()
    def fail(ctx: Context) -> str:
        """Always fails."""
        note("fail", ctx)
        raise ValueError("the server's tool failed")

    return server


class BearerOnly:
    """401 unless the request carries the expected bearer token."""

    def __init__(self, app: ASGIApp, token: str, recorded: Recorded) -> None:
        self.app, self.token, self.recorded = app, token, recorded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            given = headers.get(b"authorization", b"").decode()
            self.recorded.authorizations.append(given)
            if given != f"Bearer {self.token}":
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"no"})
                return
        await self.app(scope, receive, send)


@dataclass
class RunningServer:
    url: str
    recorded: Recorded


@contextmanager
def mcp_server(token: str) -> Iterator[RunningServer]:
    recorded = Recorded()
    app = build(recorded, token).streamable_http_app(stateless_http=True, json_response=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        BearerOnly(app, token, recorded), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the MCP test server did not start")
        time.sleep(0.02)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}/mcp", recorded)
    finally:
        server.should_exit = True
        thread.join(10)
