"""Agents as stored: a tenant's named agent (current version, disabled or not) and the
immutable versions of its spec. What a spec holds is the API's business (api/schemas.py); this
module reads and writes rows, every one an API request runs filtered by tenant (`pinned` is the
worker's, by task id under its lease)."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import Conflict, NotFound


async def create(db: Db, tenant: str, name: str, spec: dict[str, Any], *, created_by: str) -> Row:
    """Version 1 of a new agent. Conflict when the tenant has one of this name already."""
    params = {"tenant": tenant, "name": name, "spec": Jsonb(spec), "created_by": created_by}
    row = await fetch_one(db, "agent_create", params)
    if row is None:
        raise Conflict(f"agent {name} already exists")
    return row


async def get(db: Db, tenant: str, name: str) -> Row:
    """The agent with its current spec; NotFound when this tenant has none of that name."""
    row = await fetch_one(db, "agent_get", {"tenant": tenant, "name": name})
    if row is None:
        raise NotFound("agent", name)
    return row


async def list_(db: Db, tenant: str, *, limit: int, after: str | None = None) -> list[Row]:
    params = {"tenant": tenant, "limit": limit, "after": after}
    return await fetch_all(db, "agent_list", params)


async def update(
    db: Db,
    tenant: str,
    name: str,
    spec: dict[str, Any],
    *,
    from_version: int,
    created_by: str,
) -> Row:
    """The next version, made from `from_version`. Conflict when another update came first."""
    params = {
        "tenant": tenant,
        "name": name,
        "spec": Jsonb(spec),
        "from_version": from_version,
        "created_by": created_by,
    }
    row = await fetch_one(db, "agent_update", params)
    if row is None:
        await get(db, tenant, name)  # NotFound if it is gone
        raise Conflict(f"agent {name} changed since version {from_version}; retry")
    return row


async def set_disabled(db: Db, tenant: str, name: str, *, disabled: bool) -> Row:
    params = {"tenant": tenant, "name": name, "disabled": disabled}
    row = await fetch_one(db, "agent_set_disabled", params)
    if row is None:
        raise NotFound("agent", name)
    return row


async def version_list(
    db: Db, tenant: str, name: str, *, limit: int, before: int | None = None
) -> list[Row]:
    """Versions, newest first; NotFound when the agent does not exist (an empty page never
    stands for an unknown agent)."""
    params = {"tenant": tenant, "name": name, "limit": limit, "before": before}
    rows = await fetch_all(db, "agent_version_list", params)
    if not rows and before is None:
        await get(db, tenant, name)
    return rows


async def version_pair(db: Db, tenant: str, name: str, first: int, second: int) -> list[Row]:
    """Versions `first` and `second` (one row when equal); NotFound when either is missing."""
    params = {"tenant": tenant, "name": name, "from": first, "to": second}
    rows = await fetch_all(db, "agent_version_pair", params)
    found = {row["version"] for row in rows}
    for wanted in (first, second):
        if wanted not in found:
            raise NotFound(f"version of agent {name}", wanted)
    return rows


async def version_get(db: Db, tenant: str, name: str, number: int) -> Row:
    """One version of a tenant's agent; NotFound for a version it does not have."""
    params = {"tenant": tenant, "name": name, "version": number}
    row = await fetch_one(db, "agent_version_get", params)
    if row is None:
        raise NotFound(f"version of agent {name}", number)
    return row


async def pinned(db: Db, task_id: uuid.UUID) -> Row | None:
    """The agent version task `task_id` pinned (name, version, spec), its overrides and replay
    fields; None when the task names no agent (or its version is gone). Worker side, by task."""
    return await fetch_one(db, "agent_pinned", {"task_id": task_id})
