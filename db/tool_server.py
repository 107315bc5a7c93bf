"""A tenant's MCP tool servers (db/queries/tool_server.sql). The API's reads return a hint of
the token (its last four characters), never the token; only `lookup` (the worker) reads it."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import Conflict, NotFound


async def insert(
    db: Db,
    name: str,
    url: str,
    token: str | None,
    *,
    tenant: str,
    tools: list[dict[str, Any]],
    health: str,
    health_error: str | None,
    created_by: str,
) -> Row:
    """Register a server; Conflict when the tenant has one of that name."""
    params = {
        "tenant": tenant,
        "name": name,
        "url": url,
        "token": token,
        "tools": Jsonb(tools),
        "health": health,
        "health_error": health_error,
        "created_by": created_by,
    }
    row = await fetch_one(db, "tool_server_insert", params)
    if row is None:
        raise Conflict(f"tool server {name} already exists")
    return row


async def list_(db: Db, *, tenant: str) -> list[Row]:
    return await fetch_all(db, "tool_server_list", {"tenant": tenant})


async def delete(db: Db, name: str, *, tenant: str) -> None:
    if await fetch_one(db, "tool_server_delete", {"tenant": tenant, "name": name}) is None:
        raise NotFound("tool server", name)


async def lookup(db: Db, task_id: uuid.UUID, name: str) -> Row | None:
    """The task's tenant's server `name` with its token, or None."""
    return await fetch_one(db, "tool_server_lookup", {"task_id": task_id, "name": name})


async def refresh(
    db: Db,
    name: str,
    *,
    tenant: str,
    tools: list[dict[str, Any]] | None,
    health: str,
    health_error: str | None,
) -> Row:
    """Record a check's outcome (`tools` None keeps the last list); NotFound if none."""
    params = {
        "tenant": tenant,
        "name": name,
        "tools": None if tools is None else Jsonb(tools),
        "health": health,
        "health_error": health_error,
    }
    row = await fetch_one(db, "tool_server_refresh", params)
    if row is None:
        raise NotFound("tool server", name)
    return row


async def get(db: Db, name: str, *, tenant: str) -> Row:
    """URL and token of the tenant's server (for a check; never for a response)."""
    row = await fetch_one(db, "tool_server_get", {"tenant": tenant, "name": name})
    if row is None:
        raise NotFound("tool server", name)
    return row
