"""A task's model calls, as the LLM-call journal recorded them, and their tokens and cost."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import PoolDep, TasksRead
from api.pagination import CursorQuery, LimitQuery, decode_int, page
from api.schemas import ModelCallPublic, ModelUsage, Page
from db import llm_call
from db.errors import NotFound

router = APIRouter(prefix="/v1/tasks", tags=["model calls"])


@router.get("/{task_id}/model-calls", summary="A task's model calls, oldest first")
async def list_model_calls(
    caller: TasksRead,
    task_id: uuid.UUID,
    pool: PoolDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ModelCallPublic]:
    await usage(caller, task_id, pool)  # 404 for an unknown task, not an empty list
    after = decode_int(cursor, "model-calls") if cursor else 0
    rows = await llm_call.list_(
        pool, task_id, tenant=caller.tenant, after_id=after, limit=limit + 1
    )
    return page(rows, limit, ModelCallPublic, lambda r: (r["id"],), "model-calls")


@router.get("/{task_id}/usage", summary="A task's tokens and cost, summed over its model calls")
async def usage(caller: TasksRead, task_id: uuid.UUID, pool: PoolDep) -> ModelUsage:
    figures = await llm_call.figures(pool, task_id, tenant=caller.tenant)
    if figures is None:
        raise NotFound("task", task_id)
    steps = await llm_call.steps(pool, task_id, tenant=caller.tenant)
    return ModelUsage.model_validate({**figures, "steps": steps})
