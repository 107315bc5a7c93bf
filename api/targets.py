"""What a submitted task runs: a graph named by the body, or an agent of the caller's tenant.

A body names exactly one of `graph` and `agent`. An agent is looked up in the caller's tenant
at submit; the task pins the agent's current version and runs the agent's own graph, or the
built-in agent graph (`outlast.agent`) when the agent names none. Unknown and disabled agents
are 422s naming the field (`body.agent`, or `body.tasks.3.agent` in a batch).
"""

from __future__ import annotations

from dataclasses import dataclass

from api.problems import ProblemError, field_error
from api.schemas import TaskCreate
from db import agent as agents
from db.connect import Db
from db.errors import NotFound
from outlast.registry import AGENT_GRAPH, Registry


@dataclass(frozen=True)
class Target:
    graph: str
    agent_version: int | None = None


def _problem(slug: str, title: str, field: str, rule: str, message: str) -> ProblemError:
    return ProblemError(
        422, slug, title, f"{field}: {message}", errors=[field_error(field, rule, message)]
    )


def _one_of(body: TaskCreate, prefix: str) -> ProblemError | None:
    if body.graph is not None and body.agent is not None:
        message = "give graph or agent, not both"
        return _problem(
            "validation-error",
            "Request validation failed",
            f"{prefix}agent",
            "graph_xor_agent",
            message,
        )
    if body.graph is None and body.agent is None:
        message = "give the graph or the agent the task runs"
        return _problem(
            "validation-error",
            "Request validation failed",
            f"{prefix}graph",
            "missing",
            message,
        )
    return None


async def resolve(
    body: TaskCreate, db: Db, tenant: str, registry: Registry, prefix: str = "body."
) -> Target:
    """The graph the task runs and, for an agent, the version it pins; ProblemError (422)
    naming the field otherwise. A named graph is checked by the caller (its own problem)."""
    problem = _one_of(body, prefix)
    if problem is not None:
        raise problem
    if body.agent is None:
        return Target(body.graph or "")
    field = f"{prefix}agent"
    try:
        row = await agents.get(db, tenant, body.agent)
    except NotFound:
        raise _problem(
            "unknown-agent", "Unknown agent", field, "known_agent", f"no agent named {body.agent!r}"
        ) from None
    if row["disabled_at"] is not None:
        raise _problem(
            "disabled-agent",
            "Disabled agent",
            field,
            "enabled_agent",
            f"agent {body.agent!r} is disabled",
        )
    graph = row["spec"].get("graph") or AGENT_GRAPH
    if graph not in registry:
        raise _problem(
            "unknown-graph",
            "Unknown graph",
            field,
            "known_graph",
            f"agent {body.agent!r} names graph {graph!r}, which is not registered",
        )
    return Target(graph, row["version"])
