"""The store of the LangGraph Platform API (ADR 0029): a tenant's JSON items under a namespace
path and a key, for memories that outlive a thread. Reads take tasks:read, writes tasks:write;
another tenant's item is not found (a get is 404, a delete deletes nothing). `query` (semantic
search) and `index` are accepted and not acted on: no embeddings are stored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.deps import PoolDep, TasksRead, TasksWrite
from api.problems import invalid
from api.schemas import NUL_FREE, JsonObject
from db import store

router = APIRouter(tags=["langgraph"])
# A label is what the SDK joins with '.' in a GET's query: it cannot hold one.
Label = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^.]+$")]
Namespace = Annotated[list[Label], Field(min_length=1, max_length=20)]
Key = Annotated[str, Field(min_length=1, max_length=1000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")  # `index`, `query`: accepted, not acted on


class StoreItemPut(_Body):
    namespace: Namespace
    key: Key
    value: JsonObject
    ttl: float | None = Field(None, gt=0, le=10_000_000, description="Minutes until it expires.")


class StoreItemDelete(_Body):
    namespace: Namespace
    key: Key


class StoreSearch(_Body):
    namespace_prefix: list[Label] = Field(default_factory=list, max_length=20)
    filter: JsonObject | None = None
    limit: StrictInt = Field(10, ge=1, le=1000)
    offset: StrictInt = Field(0, ge=0, le=1_000_000)
    query: str | None = Field(None, max_length=10_000)
    refresh_ttl: StrictBool | None = None


class StoreNamespaces(_Body):
    prefix: list[Label] = Field(default_factory=list, max_length=20)
    suffix: list[Label] = Field(default_factory=list, max_length=20)
    max_depth: StrictInt | None = Field(None, ge=1, le=20)
    limit: StrictInt = Field(100, ge=1, le=1000)
    offset: StrictInt = Field(0, ge=0, le=1_000_000)


class StoreItemPublic(BaseModel):
    namespace: list[str]
    key: str
    value: JsonObject
    created_at: datetime
    updated_at: datetime


class StoreSearchPublic(BaseModel):
    items: list[StoreItemPublic]


class StoreNamespacesPublic(BaseModel):
    namespaces: list[list[str]]


def _namespace(dotted: str) -> list[str]:
    """The GET's `namespace` query (labels joined by '.'), as a list; 422 if a label is empty."""
    labels = dotted.split(".")
    if not dotted or any(not label for label in labels):
        raise invalid("query.namespace", "dotted_labels", "labels joined by '.', none empty")
    return labels


@router.put("/store/items", status_code=204, summary="Put an item in the store")
async def put_item(body: StoreItemPut, caller: TasksWrite, pool: PoolDep) -> None:
    """Insert or replace; `ttl` (minutes) makes it expire, none keeps it."""
    await store.put(
        pool, body.namespace, body.key, body.value, tenant=caller.tenant, ttl_minutes=body.ttl
    )


@router.get("/store/items", summary="An item of the store")
async def get_item(
    caller: TasksRead,
    pool: PoolDep,
    namespace: Annotated[
        str,
        Query(min_length=1, max_length=4000, pattern=NUL_FREE, description="Labels joined by '.'."),
    ],
    key: Annotated[str, Query(min_length=1, max_length=1000, pattern=NUL_FREE)],
    refresh_ttl: Annotated[bool, Query(description="Restart its ttl.")] = False,
) -> StoreItemPublic:
    row = await store.get(
        pool, _namespace(namespace), key, tenant=caller.tenant, refresh=refresh_ttl
    )
    return StoreItemPublic.model_validate(row)


@router.delete("/store/items", status_code=204, summary="Delete an item of the store")
async def delete_item(body: StoreItemDelete, caller: TasksWrite, pool: PoolDep) -> None:
    """Deleting an item that is not there is not an error."""
    await store.delete(pool, body.namespace, body.key, tenant=caller.tenant)


@router.post("/store/items/search", summary="Items under a namespace prefix")
async def search_items(body: StoreSearch, caller: TasksRead, pool: PoolDep) -> StoreSearchPublic:
    """Filtered by equality on value keys (`filter`), newest change first; `query` is ignored."""
    rows = await store.search(
        pool,
        body.namespace_prefix,
        tenant=caller.tenant,
        value_filter=body.filter,
        limit=body.limit,
        offset=body.offset,
    )
    return StoreSearchPublic(items=[StoreItemPublic.model_validate(r) for r in rows])


@router.post("/store/namespaces", summary="The store's namespaces")
async def list_namespaces(
    body: StoreNamespaces, caller: TasksRead, pool: PoolDep
) -> StoreNamespacesPublic:
    """Distinct namespaces matching `prefix`/`suffix` ('*' matches any label), cut to
    `max_depth`, in order."""
    found: list[Any] = await store.namespaces(
        pool,
        tenant=caller.tenant,
        prefix=body.prefix,
        suffix=body.suffix,
        max_depth=body.max_depth,
        limit=body.limit,
        offset=body.offset,
    )
    return StoreNamespacesPublic(namespaces=found)
