"""The LangGraph store's items (db/queries/store.sql, ADR 0029): a tenant's JSON values under a
namespace path and a key, read and written by the API's `/store` routes. Every function takes
the tenant; another tenant's item is no row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import NotFound


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
