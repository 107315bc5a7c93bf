"""The registered graphs (built-in examples plus OUTLAST_GRAPHS)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RegistryDep
from api.schemas import GraphPublic, Page
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


@router.get("", summary="List registered graphs")
def list_graphs(registry: RegistryDep) -> Page[GraphPublic]:
    # Sync on purpose: the first describe imports and compiles the graph; FastAPI runs this in
    # its thread pool so the event loop is not held. The registry is small: a single page.
    return Page[GraphPublic](items=[_describe(registry, name) for name in registry.names()])
