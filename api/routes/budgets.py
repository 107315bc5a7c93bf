"""Budgets: a tenant's daily limit (`admin`), the inbox of tasks paused on a budget and their
resume (`approvals:decide`: resuming answers an inbox item, as an approval does).

An agent's per-task and per-hour budgets are fields of its spec (PATCH /v1/agents/{name},
`budgets`); a raise applies to its tasks at once, paused ones included
(docs/howto/budgets-and-limits.md). Another tenant's task answers 404."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from api.deps import Admin, ApprovalsDecide, PoolDep
from api.pagination import CursorQuery, LimitQuery, decode_time_id, page
from api.schemas import (
    BudgetRequestPublic,
    Page,
    TaskPublic,
    TenantBudgetPublic,
    TenantBudgetUpdate,
)
from db import budget, tasks
from db.connect import Row

router = APIRouter(tags=["budgets"])


@router.get("/v1/budgets", summary="The tenant's daily budget and today's spend")
async def get_budget(caller: Admin, pool: PoolDep) -> TenantBudgetPublic:
    return TenantBudgetPublic.model_validate(await budget.tenant_get(pool, tenant=caller.tenant))


@router.put("/v1/budgets", summary="Set or remove the tenant's daily budget")
async def put_budget(body: TenantBudgetUpdate, caller: Admin, pool: PoolDep) -> TenantBudgetPublic:
    """A UTC day's limit on the cost of every model call of the tenant's tasks; it applies to
    the next call. Tasks paused on it resume by themselves once their call fits."""
    await budget.tenant_set(
        pool,
        tenant=caller.tenant,
        per_day_micro_usd=body.per_day_micro_usd,
        updated_by=caller.key_id,
    )
    return TenantBudgetPublic.model_validate(await budget.tenant_get(pool, tenant=caller.tenant))


def _request(row: Row) -> dict[str, Any]:
    need = row["pause"]["needed_micro_usd"]
    return {**row, "raise_to_micro_usd": row["spent_micro_usd"] + row["reserved_micro_usd"] + need}


@router.get("/v1/approvals/budgets", summary="Tasks paused on a budget, oldest first")
async def budget_inbox(
    caller: ApprovalsDecide, pool: PoolDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[BudgetRequestPublic]:
    """Each item asks to raise a budget to `raise_to_micro_usd` (or wait for the window, for
    an hourly or daily one), with the spend so far."""
    after = decode_time_id(cursor, "budget-requests") if cursor else None
    rows = await budget.list_paused(pool, tenant=caller.tenant, limit=limit + 1, after=after)
    items = [_request(row) for row in rows]
    return page(
        items,
        limit,
        BudgetRequestPublic,
        lambda r: (r["paused_at"].isoformat(), r["task_id"]),
        "budget-requests",
    )


@router.post("/v1/tasks/{task_id}/resume", summary="Resume a task paused on a budget")
async def resume(caller: ApprovalsDecide, task_id: uuid.UUID, pool: PoolDep) -> TaskPublic:
    """Queues the task again if its next model call fits every budget now (raise one first).
    409 while it is still over budget (the detail names the window, its limit and spend), or
    when the task is not paused."""
    await budget.resume(pool, task_id, tenant=caller.tenant, by=caller.label)
    return TaskPublic.model_validate(await tasks.get(pool, task_id, tenant=caller.tenant))
