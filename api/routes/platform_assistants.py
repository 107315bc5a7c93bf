"""Assistants of the LangGraph Platform API (ADR 0018): the graphs this deployment registers
(assistant id = graph id = its name) and the tenant's agents (assistant id = the agent's name,
graph id = its graph). Read only: assistants are made with OUTLAST_GRAPHS and /v1/agents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import PoolDep, RegistryDep, TasksRead
from api.platform import AssistantPublic, AssistantSearch
from db import agent as agents
from db.connect import Pool
from db.errors import NotFound
from outlast.registry import Registry

router = APIRouter(tags=["langgraph"])
AssistantPath = Annotated[
    str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$", description="An id.")
]
# Registered graphs have no creation time of their own: the epoch, the same on every replica.
SINCE = datetime(1970, 1, 1, tzinfo=UTC)
AGENT_PAGE = 1000


def _graph(name: str) -> AssistantPublic:
    return AssistantPublic(
        assistant_id=name, graph_id=name, name=name, created_at=SINCE, updated_at=SINCE
    )


async def _all(pool: Pool, registry: Registry, tenant: str) -> list[AssistantPublic]:
    found = [_graph(name) for name in registry.names()]
    for row in await agents.list_(pool, tenant, limit=AGENT_PAGE):
        graph = row["spec"].get("graph") or "agent"
        found.append(
            AssistantPublic(
                assistant_id=row["name"],
                graph_id=graph,
                name=row["name"],
                description=row["spec"].get("description"),
                metadata={"outlast_agent": True},
                version=row["version"],
                created_at=row["created_at"],
                updated_at=row.get("updated_at") or row["created_at"],
            )
        )
    return found


@router.post("/assistants/search", summary="Search assistants (graphs and agents)")
async def search_assistants(
    caller: TasksRead, body: AssistantSearch, pool: PoolDep, registry: RegistryDep
) -> list[AssistantPublic]:
    found = await _all(pool, registry, caller.tenant)
    if body.graph_id is not None:
        found = [a for a in found if a.graph_id == body.graph_id]
    if body.name is not None:
        found = [a for a in found if a.name == body.name]
    if body.metadata:
        found = [a for a in found if body.metadata.items() <= a.metadata.items()]
    return found[body.offset : body.offset + body.limit]


@router.get("/assistants/{assistant_id}", summary="One assistant")
async def get_assistant(
    caller: TasksRead, assistant_id: AssistantPath, pool: PoolDep, registry: RegistryDep
) -> AssistantPublic:
    for found in await _all(pool, registry, caller.tenant):
        if found.assistant_id == assistant_id:
            return found
    raise NotFound("assistant", assistant_id)
