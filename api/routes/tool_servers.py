"""A tenant's MCP tool servers: register (the server's tools are discovered at once), list
with health, refresh, remove. Scope agents:admin. The bearer token is stored apart from every
task and never returned (`token_hint` shows its last four characters).

Refused with 422 naming the field: a URL that is not http(s) or that the SSRF guard refuses
(private, loopback, ... unless OUTLAST_NET_ALLOW allows it), a server that cannot be reached
or does not speak MCP, too many tools or an oversize schema; a taken name is 409."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import AgentsAdmin, PoolDep, SettingsDep
from api.problems import ProblemError, invalid
from api.schemas import TOOL_SERVER_NAME_PATTERN, ToolServerCreate, ToolServerPublic
from db import tool_server
from db.errors import ToolError, UrlRefused
from outlast.settings import Settings
from outlast.tool import ToolLimits
from outlast.toolservers import discover

router = APIRouter(prefix="/v1/tool-servers", tags=["tool servers"])
ServerName = Annotated[str, Path(pattern=TOOL_SERVER_NAME_PATTERN, description="Its name.")]


async def _discover(settings: Settings, url: str, token: str | None) -> list[dict[str, object]]:
    limits = ToolLimits.from_settings(settings)
    try:
        return await discover(url, token, timeout_s=limits.timeout_s, guard=limits.fetch)
    except UrlRefused as exc:
        raise invalid("body.url", "url_refused", str(exc)) from exc
    except ToolError as exc:
        raise invalid("body.url", "tool_server", str(exc)) from exc


@router.post("", status_code=201, summary="Register an MCP server and discover its tools")
async def create(
    body: ToolServerCreate, caller: AgentsAdmin, pool: PoolDep, settings: SettingsDep
) -> ToolServerPublic:
    tools = await _discover(settings, body.url, body.token)
    row = await tool_server.insert(
        pool,
        body.name,
        body.url,
        body.token,
        tenant=caller.tenant,
        tools=tools,
        health="ok",
        health_error=None,
        created_by=caller.key_id,
    )
    return ToolServerPublic.model_validate(row)


@router.get("", summary="The tenant's tool servers, their tools and health")
async def list_servers(caller: AgentsAdmin, pool: PoolDep) -> list[ToolServerPublic]:
    rows = await tool_server.list_(pool, tenant=caller.tenant)
    return [ToolServerPublic.model_validate(row) for row in rows]


@router.post("/{name}/refresh", summary="Discover a server's tools again; record its health")
async def refresh(
    name: ServerName, caller: AgentsAdmin, pool: PoolDep, settings: SettingsDep
) -> ToolServerPublic:
    """The tool list changes when the server's did; a server that cannot be reached keeps its
    last list and shows `health: error` with the reason."""
    server = await tool_server.get(pool, name, tenant=caller.tenant)
    tools: list[dict[str, object]] | None = None
    try:
        tools, health, error = await _discover(settings, server["url"], server["token"]), "ok", None
    except ProblemError as exc:  # the server's failure is its health, shown
        health, error = "error", exc.detail[:500]
    row = await tool_server.refresh(
        pool, name, tenant=caller.tenant, tools=tools, health=health, health_error=error
    )
    return ToolServerPublic.model_validate(row)


@router.delete("/{name}", status_code=204, summary="Remove a tool server")
async def delete(name: ServerName, caller: AgentsAdmin, pool: PoolDep) -> None:
    await tool_server.delete(pool, name, tenant=caller.tenant)
