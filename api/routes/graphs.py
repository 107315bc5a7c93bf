"""The graphs: those registered with this API (built-in examples plus OUTLAST_GRAPHS), those
running workers announce, and those queued tasks name, each with its live workers and queue."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import PoolDep, RegistryDep, TasksRead
from api.schemas import GraphPublic, Page
from db import workers
from outlast.registry import Registry, RegistryError

router = APIRouter(prefix="/v1/graphs", tags=["graphs"])


def _describe(registry: Registry, name: str) -> GraphPublic:
    try:
        return GraphPublic.model_validate(registry.describe(name))
    except RegistryError as exc:
        # One broken OUTLAST_GRAPHS entry must not hide the others: list it with its error.
        return GraphPublic(
            name=name, import_path=registry.paths[name], nodes=[], description=None, error=str(exc)
        )


def _describe_all(registry: Registry) -> dict[str, GraphPublic]:
    return {name: _describe(registry, name) for name in registry.names()}


@router.get("", summary="List graphs, with the live workers that run each")
async def list_graphs(caller: TasksRead, registry: RegistryDep, pool: PoolDep) -> Page[GraphPublic]:
    # The first describe imports and compiles the graph: in the thread pool, so the event loop is
    # not held. The registry is small, and so is the set of graph names: a single page.
    graphs = await run_in_threadpool(_describe_all, registry)
    coverage = await workers.graph_coverage(pool, tenant=caller.tenant)
    for name in coverage.keys() - graphs.keys():
        graphs[name] = GraphPublic(
            name=name, import_path=None, nodes=[], description=None, registered=False
        )
    for name, row in coverage.items():
        graphs[name].workers, graphs[name].queued = row["workers"], row["queued"]
    return Page[GraphPublic](items=[graphs[name] for name in sorted(graphs)])
