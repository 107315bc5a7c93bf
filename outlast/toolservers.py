"""Tools on MCP servers, reached with the `mcp` package's streamable-HTTP client.

A server registered as `docs` with a tool `search` offers the model `docs.search`. Discovery
lists the server's tools with their schemas (capped: how many, how large); a call sends the
arguments with the ledger's idempotency key in the request's `_meta` and turns the answer into
JSON for the model, or a ToolError (an `isError` result, a timeout, a broken server). The
bearer token goes in the Authorization header of this client only; it is never put in a
result, an error message or a log line.

A server's URL is checked by the SSRF guard (outlast.netguard) when it is registered and before
every call; the MCP client then resolves the name again itself (a window the guard's own fetch
does not have: register servers by address, or keep OUTLAST_NET_ALLOW empty, where it matters).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from outlast.errors import ToolError, UrlRefused
from outlast.netguard import GuardConfig, check
from outlast.tool import ServerInfo, Tool, ToolContext

if TYPE_CHECKING:
    from mcp.client import Client
    from mcp.types import RequestParamsMeta

SEPARATOR = "."
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TOOLS = 200
MAX_SCHEMA_CHARS = 64_000
MAX_DESCRIPTION_CHARS = 4_000
IDEMPOTENCY_META = "dev.outlast/idempotency-key"


def _meta(key: str) -> RequestParamsMeta:
    meta: RequestParamsMeta = {}
    meta[IDEMPOTENCY_META] = key  # type: ignore[literal-required]  # an open map (extra_items)
    return meta


async def _import_client() -> None:
    """Load the MCP client's modules in a thread, once. The package is large: a worker that
    calls no tool server need not load it, and importing it on the event loop would stall the
    heartbeat (long enough, on a busy machine, to lose a short lease)."""
    for module in ("httpx2", "mcp.client", "mcp.client.streamable_http"):
        if module not in sys.modules:
            await asyncio.to_thread(importlib.import_module, module)


def _client(url: str, token: str | None, timeout_s: float) -> Client:
    import httpx2
    from mcp.client import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(timeout_s), trust_env=False)
    return Client(
        streamable_http_client(url, http_client=http),
        read_timeout_seconds=timeout_s,
        cache=None,
        raise_exceptions=True,
    )


async def discover(
    url: str, token: str | None, *, timeout_s: float, guard: GuardConfig
) -> list[dict[str, Any]]:
    """The server's tools as `{name, description, input_schema, idempotent}`. Raises
    UrlRefused (the guard), ToolError (unreachable, too slow, too many tools, a schema too
    large, a bad tool name): its message never holds the token."""
    try:
        async with asyncio.timeout(timeout_s):
            await check(url, guard)
            await _import_client()
            async with _client(url, token, timeout_s) as client:
                listed = await client.list_tools()
    except UrlRefused:
        raise
    except TimeoutError as exc:
        raise ToolError(f"the tool server did not answer within {timeout_s:g}s") from exc
    except Exception as exc:  # the MCP client's and the transport's errors are many
        raise ToolError(f"the tool server could not be reached: {_describe(exc, token)}") from exc
    if len(listed.tools) > MAX_TOOLS:
        raise ToolError(f"the tool server offers {len(listed.tools)} tools, more than {MAX_TOOLS}")
    return [_tool_row(tool) for tool in listed.tools]


def _tool_row(tool: Any) -> dict[str, Any]:
    if not TOOL_NAME.match(tool.name):
        raise ToolError(f"tool name {tool.name[:80]!r} is not 1-64 of A-Z a-z 0-9 _ -")
    schema_chars = len(json.dumps(tool.input_schema))
    if schema_chars > MAX_SCHEMA_CHARS:
        raise ToolError(
            f"tool {tool.name}'s input schema is {schema_chars} characters,"
            f" more than {MAX_SCHEMA_CHARS}"
        )
    hints = tool.annotations
    idempotent = bool(hints and (hints.idempotent_hint or hints.read_only_hint))
    return {
        "name": tool.name,
        "description": (tool.description or "")[:MAX_DESCRIPTION_CHARS],
        "input_schema": tool.input_schema,
        "idempotent": idempotent,
    }


def _describe(exc: BaseException, token: str | None) -> str:
    """A failure in one line, with the token cut out should a library have put it there."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = f"{type(exc).__name__}: {exc}"[:300]
    return text.replace(token, "***") if token else text


def server_tool(server: ServerInfo, name: str, guard: GuardConfig) -> Tool | None:
    """The Tool that calls `name` on `server`, or None when discovery did not find it."""
    for row in server.tools:
        if row.get("name") == name:
            break
    else:
        return None

    async def run(arguments: dict[str, Any], context: ToolContext) -> Any:
        return await call(server, name, arguments, context.idempotency_key, guard, context)

    return Tool(
        f"{server.name}{SEPARATOR}{name}",
        str(row.get("description") or ""),
        row.get("input_schema") or {"type": "object"},
        run,
        idempotent=bool(row.get("idempotent")),
    )


async def call(
    server: ServerInfo,
    name: str,
    arguments: dict[str, Any],
    key: str,
    guard: GuardConfig,
    context: ToolContext,
) -> Any:
    """Call tool `name` on the server; its structured content, or its text. ToolError when the
    server says the call failed or cannot be reached (call_tool's timeout bounds it)."""
    try:
        await check(server.url, guard)
    except UrlRefused as exc:
        raise ToolError(f"tool server {server.name}: {exc}") from exc
    timeout_s = context.limits.timeout_s
    await _import_client()
    try:
        async with _client(server.url, server.token, timeout_s) as client:
            result = await client.call_tool(name, arguments, meta=_meta(key))
    except Exception as exc:
        raise ToolError(f"tool server {server.name}: {_describe(exc, server.token)}") from exc
    text = "\n".join(getattr(block, "text", f"[{block.type} omitted]") for block in result.content)
    if result.is_error:
        raise ToolError(text or f"{server.name}{SEPARATOR}{name} failed")
    if result.structured_content is not None:
        return result.structured_content
    return text
