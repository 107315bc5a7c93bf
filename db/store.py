"""The LangGraph store's items (db/queries/store.sql, ADR 0029): a tenant's JSON values under a
namespace path and a key, read and written by the API's `/store` routes and by graphs
(db/graph_store.py). The API's functions take the tenant; another tenant's item is no row. A
graph's writes (`*_fenced`) take its task and epoch instead: the tenant is the task's, and they
write only under the task's lease."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import LeaseLost, NotFound


async def put(
    db: Db,
    namespace: Sequence[str],
    key: str,
    value: dict[str, Any],
    *,
    tenant: str,
    ttl_minutes: float | None = None,
) -> None:
    """Insert or replace the item (its expiry from now + `ttl_minutes`, or none)."""
    params = {
        "tenant": tenant,
        "namespace": list(namespace),
        "key": key,
        "value": Jsonb(value),
        "ttl_minutes": ttl_minutes,
    }
    await fetch_one(db, "store_put", params)


async def get(
    db: Db, namespace: Sequence[str], key: str, *, tenant: str, refresh: bool = False
) -> Row:
    """The item; NotFound if there is none or it expired. `refresh` restarts its ttl."""
    params = {"tenant": tenant, "namespace": list(namespace), "key": key, "refresh": refresh}
    row = await fetch_one(db, "store_get", params)
    if row is None:
        raise NotFound("item", f"{'.'.join(namespace)}/{key}")
    return row


async def delete(db: Db, namespace: Sequence[str], key: str, *, tenant: str) -> bool:
    """Remove the item; whether there was one."""
    params = {"tenant": tenant, "namespace": list(namespace), "key": key}
    return await fetch_one(db, "store_delete", params) is not None


async def search(
    db: Db,
    prefix: Sequence[str],
    *,
    tenant: str,
    value_filter: dict[str, Any] | None = None,
    limit: int,
    offset: int,
) -> list[Row]:
    """Items under `prefix` whose value contains `value_filter`, newest change first."""
    params = {
        "tenant": tenant,
        "prefix": list(prefix),
        "filter": Jsonb(value_filter or {}),
        "limit": limit,
        "offset": offset,
    }
    return await fetch_all(db, "store_search", params)


async def namespaces(
    db: Db,
    *,
    tenant: str,
    prefix: Sequence[str] = (),
    suffix: Sequence[str] = (),
    max_depth: int | None = None,
    limit: int,
    offset: int,
) -> list[list[str]]:
    """The distinct namespaces matching `prefix` and `suffix` ('*' a wildcard label), each cut
    to `max_depth` labels, in order."""
    params = {
        "tenant": tenant,
        "prefix": list(prefix),
        "suffix": list(suffix),
        "max_depth": max_depth,
        "limit": limit,
        "offset": offset,
    }
    return [list(row["namespace"]) for row in await fetch_all(db, "store_namespaces", params)]


async def put_fenced(
    db: Db,
    task_id: uuid.UUID,
    epoch: int,
    namespace: Sequence[str],
    key: str,
    value: dict[str, Any],
    *,
    ttl_minutes: float | None = None,
) -> None:
    """A graph's put, in its task's tenant; LeaseLost (nothing written) if the lease is gone."""
    params = {
        "task_id": task_id,
        "epoch": epoch,
        "namespace": list(namespace),
        "key": key,
        "value": Jsonb(value),
        "ttl_minutes": ttl_minutes,
    }
    if await fetch_one(db, "store_put_fenced", params) is None:
        raise LeaseLost(task_id, epoch)


async def delete_fenced(
    db: Db, task_id: uuid.UUID, epoch: int, namespace: Sequence[str], key: str
) -> None:
    """A graph's delete, in its task's tenant; LeaseLost if the lease is gone."""
    params = {"task_id": task_id, "epoch": epoch, "namespace": list(namespace), "key": key}
    if await fetch_one(db, "store_delete_fenced", params) is None:
        raise LeaseLost(task_id, epoch)
