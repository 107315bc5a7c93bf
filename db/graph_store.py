"""The store a graph's nodes see (LangGraph's `BaseStore`, ADR 0029): the tenant's `store_items`
(db/store.py), the same items the API's `/store` routes serve. Given to the compiled graph by the
worker for one claim: it reads in the task's tenant and writes only under the task's lease, so a
stalled worker cannot overwrite what its replacement wrote (LeaseLost ends its attempt).

Semantic search is not served (`query` and `index` are ignored, as on the API); a filter is
equality on value keys (`{"k": v}` or `{"k": {"$eq": v}}`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from db import store
from db.connect import Db, Row
from db.errors import NotFound


class FencedStore(BaseStore):
    """One claim's store: `tenant` is the claimed task's, `epoch` its lease's."""

    supports_ttl = True

    def __init__(self, db: Db, task_id: uuid.UUID, epoch: int, tenant: str) -> None:
        self.db = db
        self.task_id = task_id
        self.epoch = epoch
        self.tenant = tenant
        self.loop = asyncio.get_running_loop()

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return [await self._one(op) for op in ops]

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """For a sync node, which LangGraph runs in a thread beside the worker's event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            future = asyncio.run_coroutine_threadsafe(self.abatch(list(ops)), self.loop)
            return future.result()
        raise RuntimeError("on the event loop, use the store's async methods (aget, aput, ...)")

    async def _one(self, op: Op) -> Result:
        if isinstance(op, GetOp):
            return await self._get(op)
        if isinstance(op, SearchOp):
            return await self._search(op)
        if isinstance(op, ListNamespacesOp):
            return await self._namespaces(op)
        if isinstance(op, PutOp):
            await self._put(op)
            return None
        raise TypeError(f"unknown store operation {type(op).__name__}")

    async def _get(self, op: GetOp) -> Item | None:
        try:
            row = await store.get(
                self.db, op.namespace, op.key, tenant=self.tenant, refresh=op.refresh_ttl
            )
        except NotFound:
            return None
        return Item(**_fields(row))

    async def _search(self, op: SearchOp) -> list[SearchItem]:
        rows = await store.search(
            self.db,
            op.namespace_prefix,
            tenant=self.tenant,
            value_filter=_equalities(op.filter or {}),
            limit=op.limit,
            offset=op.offset,
        )
        return [SearchItem(**_fields(row)) for row in rows]

    async def _namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        conditions = {c.match_type: c.path for c in op.match_conditions or ()}
        found = await store.namespaces(
            self.db,
            tenant=self.tenant,
            prefix=conditions.get("prefix", ()),
            suffix=conditions.get("suffix", ()),
            max_depth=op.max_depth,
            limit=op.limit,
            offset=op.offset,
        )
        return [tuple(ns) for ns in found]

    async def _put(self, op: PutOp) -> None:
        if op.value is None:
            await store.delete_fenced(self.db, self.task_id, self.epoch, op.namespace, op.key)
            return
        await store.put_fenced(
            self.db,
            self.task_id,
            self.epoch,
            op.namespace,
            op.key,
            dict(op.value),
            ttl_minutes=op.ttl,
        )


def _fields(row: Row) -> dict[str, Any]:
    return {
        "namespace": tuple(row["namespace"]),
        "key": row["key"],
        "value": row["value"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _equalities(given: dict[str, Any]) -> dict[str, Any]:
    """A LangGraph filter as JSON containment; ValueError for an operator other than $eq."""
    plain: dict[str, Any] = {}
    for name, wanted in given.items():
        if isinstance(wanted, dict) and any(k.startswith("$") for k in wanted):
            if set(wanted) != {"$eq"}:
                raise ValueError(f"store filter on {name!r}: only equality is served")
            wanted = wanted["$eq"]
        plain[name] = wanted
    return plain
