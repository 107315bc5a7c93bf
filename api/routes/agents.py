"""Agents: versioned specs of a tenant (provider and model, prompt, limits, tools, budgets).

Every route takes `agents:admin` (docs/howto/agents-and-models.md, "Agents"). An update makes
the next version; versions never change, so a task can name the exact spec it ran with. Another
tenant's agent answers 404, as an unknown one does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.access import Principal
from api.deps import AgentsAdmin, PoolDep, RegistryDep
from api.pagination import CursorQuery, LimitQuery, decode_int, decode_text, page
from api.problems import invalid
from api.schemas import (
    AGENT_NAME_PATTERN,
    AgentChange,
    AgentCreate,
    AgentDiff,
    AgentPublic,
    AgentSpec,
    AgentUpdate,
    AgentUsage,
    AgentUsageRow,
    AgentVersionPublic,
    Page,
)
from db import agent as agents
from db import llm_call
from db.connect import Row
from outlast.registry import Registry

router = APIRouter(prefix="/v1/agents", tags=["agents"])
NamePath = Annotated[str, Path(pattern=AGENT_NAME_PATTERN, description="The agent's name.")]
Version = Annotated[int, Path(ge=1, le=2_147_483_647, description="A version number.")]
VersionQuery = Annotated[int, Query(ge=1, le=2_147_483_647)]


def _flat(row: Row) -> dict[str, Any]:
    """A row with its spec's fields beside its own."""
    return {**{k: v for k, v in row.items() if k != "spec"}, **row["spec"]}


def _check_graph(spec: AgentSpec, registry: Registry) -> None:
    if spec.graph is not None and spec.graph not in registry.names():
        known = ", ".join(registry.names())
        raise invalid("body.graph", "known_graph", f"no graph named {spec.graph!r}; known: {known}")


@router.post("", status_code=201, summary="Create an agent (its version 1)")
async def create(
    body: AgentCreate, caller: AgentsAdmin, pool: PoolDep, registry: RegistryDep
) -> AgentPublic:
    _check_graph(body, registry)
    spec = body.model_dump(mode="json", exclude={"name"})
    row = await agents.create(pool, caller.tenant, body.name, spec, created_by=caller.key_id)
    return AgentPublic.model_validate(_flat(row))


@router.get("", summary="List agents by name (disabled ones too)")
async def list_agents(
    caller: AgentsAdmin, pool: PoolDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[AgentPublic]:
    after = decode_text(cursor, "agents") if cursor else None
    rows = await agents.list_(pool, caller.tenant, limit=limit + 1, after=after)
    flat = [_flat(row) for row in rows]
    return page(flat, limit, AgentPublic, lambda r: (r["name"],), "agents")


@router.get("/{name}", summary="An agent at its current version")
async def get(name: NamePath, caller: AgentsAdmin, pool: PoolDep) -> AgentPublic:
    return AgentPublic.model_validate(_flat(await agents.get(pool, caller.tenant, name)))


@router.patch("/{name}", summary="Change an agent's fields: makes its next version")
async def update(
    name: NamePath, body: AgentUpdate, caller: AgentsAdmin, pool: PoolDep, registry: RegistryDep
) -> AgentPublic:
    current = await agents.get(pool, caller.tenant, name)
    changes = body.model_dump(mode="json", exclude_unset=True)
    # Every field was checked on its own above; together they make a valid spec.
    spec = AgentSpec.model_validate({**current["spec"], **changes})
    _check_graph(spec, registry)
    merged = spec.model_dump(mode="json")
    if merged == current["spec"]:
        return AgentPublic.model_validate(_flat(current))  # nothing changed: no new version
    row = await agents.update(
        pool,
        caller.tenant,
        name,
        merged,
        from_version=current["version"],
        created_by=caller.key_id,
    )
    return AgentPublic.model_validate(_flat(row))


async def _set_disabled(pool: PoolDep, caller: Principal, name: str, disabled: bool) -> AgentPublic:
    row = await agents.set_disabled(pool, caller.tenant, name, disabled=disabled)
    return AgentPublic.model_validate(_flat(row))


@router.post("/{name}/disable", summary="Disable an agent (idempotent; keeps its versions)")
async def disable(name: NamePath, caller: AgentsAdmin, pool: PoolDep) -> AgentPublic:
    return await _set_disabled(pool, caller, name, True)


@router.post("/{name}/enable", summary="Enable a disabled agent (idempotent)")
async def enable(name: NamePath, caller: AgentsAdmin, pool: PoolDep) -> AgentPublic:
    return await _set_disabled(pool, caller, name, False)


@router.get("/{name}/versions", summary="An agent's versions, newest first")
async def versions(
    name: NamePath,
    caller: AgentsAdmin,
    pool: PoolDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AgentVersionPublic]:
    before = decode_int(cursor, "agent-versions") if cursor else None
    rows = await agents.version_list(pool, caller.tenant, name, limit=limit + 1, before=before)
    flat = [_flat(row) for row in rows]
    return page(flat, limit, AgentVersionPublic, lambda r: (r["version"],), "agent-versions")


@router.get("/{name}/versions/{version}", summary="One version of an agent")
async def version(
    name: NamePath, version: Version, caller: AgentsAdmin, pool: PoolDep
) -> AgentVersionPublic:
    row = await agents.version_get(pool, caller.tenant, name, version)
    return AgentVersionPublic.model_validate(_flat(row))


@router.get("/{name}/diff", summary="The fields that differ between two versions")
async def diff(
    name: NamePath,
    caller: AgentsAdmin,
    pool: PoolDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=2_147_483_647)],
    to: VersionQuery,
) -> AgentDiff:
    rows = await agents.version_pair(pool, caller.tenant, name, from_, to)
    specs = {row["version"]: row["spec"] for row in rows}
    old, new = specs[from_], specs[to]
    fields = [f for f in AgentSpec.model_fields if old.get(f) != new.get(f)]
    changes = [AgentChange(field=f, old=old.get(f), new=new.get(f)) for f in fields]
    return AgentDiff(name=name, from_version=from_, to_version=to, changes=changes)


@router.get("/{name}/usage", summary="An agent's tokens and cost over every task submitted to it")
async def usage(name: NamePath, caller: AgentsAdmin, pool: PoolDep) -> AgentUsage:
    await agents.get(pool, caller.tenant, name)  # 404 for an unknown agent, not zeros
    rows = await llm_call.agent_usage(pool, name, tenant=caller.tenant)
    totals = {
        column: sum(row[column] for row in rows)
        for column in (
            "calls",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "cost_micro_usd",
        )
    }
    by_model = [AgentUsageRow.model_validate(row) for row in rows]
    return AgentUsage(name=name, **totals, by_model=by_model)
