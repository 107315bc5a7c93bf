"""Worker processes, as they registered and last heartbeated."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from api.deps import AgentsAdmin, PoolDep
from api.pagination import CursorQuery, LimitQuery, decode_time_id, page
from api.schemas import Page, WorkerPublic
from db import workers

router = APIRouter(prefix="/v1/workers", tags=["workers"])


@router.get("", summary="List workers, newest first")
async def list_workers(
    caller: AgentsAdmin,
    pool: PoolDep,
    state: Literal["running", "stopping", "stopped", "lost"] | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[WorkerPublic]:
    before = decode_time_id(cursor, "workers") if cursor else None
    rows = await workers.list_(
        pool, tenant=caller.tenant, limit=limit + 1, state=state, before=before
    )
    return page(
        rows, limit, WorkerPublic, lambda r: (r["started_at"].isoformat(), r["id"]), "workers"
    )
