"""Dead letters: list, group, inspect, redrive one, redrive by filter (with a dry run), resolve."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from starlette.exceptions import HTTPException

from api.deps import DeadLettersOperate, PoolDep
from api.pagination import (
    CursorQuery,
    FilterQuery,
    LimitQuery,
    decode_time_id,
    include_query,
    included,
    page,
)
from api.problems import invalid
from api.schemas import (
    DeadLetterGroup,
    DeadLetterPublic,
    DeadLetterSummary,
    Page,
    RedriveByFilterRequest,
    RedriveByFilterResult,
    RedriveRequest,
    ResolveRequest,
    TaskPublic,
)
from db import checkpoints, dead_letters, tasks
from db.errors import Conflict

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])


HEAVY = ("traceback", "attempt_history")
DeadLetterInclude = Annotated[str | None, include_query(*HEAVY)]


@router.get("", summary="List dead letters, oldest first", response_model_exclude_unset=True)
async def list_dead_letters(
    caller: DeadLettersOperate,
    pool: PoolDep,
    graph: FilterQuery = None,
    error_type: FilterQuery = None,
    task_id: uuid.UUID | None = None,
    include_redriven: bool = False,
    include: DeadLetterInclude = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[DeadLetterSummary]:
    """Items leave out `traceback` and `attempt_history` unless named in `include`."""
    after = decode_time_id(cursor, "dead-letters") if cursor else None
    where = dead_letters.Filter(caller.tenant, graph, error_type, task_id, include_redriven)
    rows = await dead_letters.list_(pool, where, limit=limit + 1, after=after)
    return page(
        rows,
        limit,
        DeadLetterSummary,
        lambda r: (r["created_at"].isoformat(), r["id"]),
        "dead-letters",
        omit=set(HEAVY) - included(include),
    )


@router.get("/groups", summary="Open dead letters grouped by graph and error type")
async def list_groups(caller: DeadLettersOperate, pool: PoolDep) -> Page[DeadLetterGroup]:
    # One row per (graph, error type): small by nature, so always a single page.
    rows = await dead_letters.groups(pool, tenant=caller.tenant)
    return Page[DeadLetterGroup](items=[DeadLetterGroup.model_validate(r) for r in rows])


@router.api_route("/redrive", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def redrive_other_methods() -> None:
    """405 (Allow: POST): without this route, GET /redrive would be GET /{dead_letter_id}
    with the malformed id "redrive" (422)."""
    raise HTTPException(405, headers={"Allow": "POST"})


@router.get("/{dead_letter_id}", summary="One dead letter")
async def get_dead_letter(
    caller: DeadLettersOperate, dead_letter_id: uuid.UUID, pool: PoolDep
) -> DeadLetterPublic:
    row = await dead_letters.get(pool, dead_letter_id, tenant=caller.tenant)
    return DeadLetterPublic.model_validate(row)


@router.post("/{dead_letter_id}/redrive", summary="Queue a dead letter's task again")
async def redrive(
    caller: DeadLettersOperate,
    dead_letter_id: uuid.UUID,
    pool: PoolDep,
    body: RedriveRequest | None = None,
) -> TaskPublic:
    """200 with the requeued task; 409 when it was already redriven (of two concurrent
    redrives exactly one wins); 422 when `checkpoint_id` is not on this task's thread."""
    body = body or RedriveRequest()
    letter = await dead_letters.get(pool, dead_letter_id, tenant=caller.tenant)
    checkpoint_id = body.checkpoint_id
    if checkpoint_id is not None and not await checkpoints.exists(
        pool, letter["task_id"], checkpoint_id, tenant=caller.tenant
    ):
        raise invalid(
            "body.checkpoint_id",
            "task_checkpoint",
            f"{checkpoint_id!r} is not a checkpoint of task {letter['task_id']}",
        )
    try:
        row = await dead_letters.redrive_one(
            pool,
            dead_letter_id,
            tenant=caller.tenant,
            mode=body.mode,
            checkpoint_id=checkpoint_id,
            max_attempts=body.max_attempts,
        )
    except Conflict as exc:
        # 409 names the task's state now
        task = await tasks.get(pool, letter["task_id"], tenant=caller.tenant)
        raise Conflict(str(exc), state=task["state"]) from exc
    return TaskPublic.model_validate(row)


@router.post("/{dead_letter_id}/resolve", summary="Close a dead letter without a redrive")
async def resolve(
    caller: DeadLettersOperate,
    dead_letter_id: uuid.UUID,
    pool: PoolDep,
    body: ResolveRequest | None = None,
) -> DeadLetterPublic:
    """200 with the resolved dead letter; its task stays failed, and both then go by the
    retention settings (an open dead letter is kept until redriven or resolved). 409 when it was
    already redriven or resolved."""
    note = body.note if body else None
    try:
        row = await dead_letters.resolve(pool, dead_letter_id, tenant=caller.tenant, note=note)
    except Conflict as exc:
        letter = await dead_letters.get(pool, dead_letter_id, tenant=caller.tenant)
        task = await tasks.get(pool, letter["task_id"], tenant=caller.tenant)
        raise Conflict(str(exc), state=task["state"]) from exc
    return DeadLetterPublic.model_validate(row)


@router.post("/redrive", summary="Redrive open dead letters by filter")
async def redrive_by_filter(
    caller: DeadLettersOperate, body: RedriveByFilterRequest, pool: PoolDep
) -> RedriveByFilterResult:
    """Up to `limit` open dead letters matching `graph` and `error_type`, oldest first. With
    `dry_run`, lists them (`dead_letters`) and writes nothing; else requeues them (`tasks`)."""
    where = dead_letters.Filter(tenant=caller.tenant, graph=body.graph, error_type=body.error_type)
    if body.dry_run:
        rows = await dead_letters.list_(pool, where, limit=body.limit)
        letters = [DeadLetterPublic.model_validate(r) for r in rows]
        return RedriveByFilterResult(
            dry_run=True, count=len(letters), tasks=None, dead_letters=letters
        )
    rows = await dead_letters.redrive_many(
        pool, where, limit=body.limit, mode=body.mode, max_attempts=body.max_attempts
    )
    moved = [TaskPublic.model_validate(r) for r in rows]
    return RedriveByFilterResult(dry_run=False, count=len(moved), tasks=moved, dead_letters=None)
