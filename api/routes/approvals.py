"""What waits on people: the approvals inbox, a task's waits, and the three decisions
(approve, reject, input). Each wait gets exactly one decision; a second gets 409.

Who decided is the caller's API key, recorded as `name (olk_<id>)` (api.access.Principal.label)
in the wait's `decided_by` and in the resume value the graph receives; a body that names a
decider is refused (422 on body.decided_by)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import jsonschema
from fastapi import APIRouter

from api.access import Principal
from api.deps import ApprovalsDecide, PoolDep, TasksRead
from api.pagination import CursorQuery, FilterQuery, LimitQuery, decode_time_id, page
from api.problems import ProblemError, field_error
from api.schemas import (
    ApprovalPublic,
    ApproveRequest,
    DecisionResult,
    InputRequest,
    Page,
    RejectRequest,
    TaskPublic,
    WaitPublic,
)
from db import tasks, waits
from db.connect import Row
from db.errors import Conflict
from outlast.human import wait_schema

router = APIRouter(tags=["humans in the loop"])


@router.get("/v1/approvals", summary="Everything waiting on a person, oldest first")
async def inbox(
    caller: ApprovalsDecide,
    pool: PoolDep,
    graph: FilterQuery = None,
    kind: Literal["approval", "input"] | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ApprovalPublic]:
    after = decode_time_id(cursor, "approvals") if cursor else None
    rows = await waits.list_open(
        pool, tenant=caller.tenant, limit=limit + 1, graph=graph, kind=kind, after=after
    )
    return page(
        rows, limit, ApprovalPublic, lambda r: (r["created_at"].isoformat(), r["id"]), "approvals"
    )


@router.get("/v1/tasks/{task_id}/waits", summary="A task's waits and their decisions")
async def task_waits(caller: TasksRead, task_id: uuid.UUID, pool: PoolDep) -> list[WaitPublic]:
    await tasks.get(pool, task_id, tenant=caller.tenant)
    rows = await waits.list_for_task(pool, task_id, tenant=caller.tenant)
    return [WaitPublic.model_validate(w) for w in rows]


@router.post("/v1/tasks/{task_id}/approve", summary="Approve the action a task waits on")
async def approve(
    caller: ApprovalsDecide, task_id: uuid.UUID, body: ApproveRequest, pool: PoolDep
) -> DecisionResult:
    """Optionally with `edited_args`: the graph acts with those instead of the proposed ones.
    409 when the task is not waiting for an approval or the wait was already decided."""

    def resume_value(wait: Row) -> dict[str, Any]:
        args = body.edited_args if body.edited_args is not None else wait["payload"].get("args")
        return {
            "approved": True,
            "args": args,
            "comment": body.comment,
            "decided_by": caller.label,
        }

    return await _decide(
        pool, caller, task_id, "approval", "approved", resume_value, body.wait_id, body.comment
    )


@router.post("/v1/tasks/{task_id}/reject", summary="Reject the action a task waits on")
async def reject(
    caller: ApprovalsDecide, task_id: uuid.UUID, body: RejectRequest, pool: PoolDep
) -> DecisionResult:
    def resume_value(wait: Row) -> dict[str, Any]:
        return {
            "approved": False,
            "args": wait["payload"].get("args"),
            "reason": body.reason,
            "decided_by": caller.label,
        }

    return await _decide(
        pool, caller, task_id, "approval", "rejected", resume_value, body.wait_id, body.reason
    )


@router.post("/v1/tasks/{task_id}/input", summary="Answer the question a task waits on")
async def answer(
    caller: ApprovalsDecide, task_id: uuid.UUID, body: InputRequest, pool: PoolDep
) -> DecisionResult:
    """422 naming `body.value` and the rule when the answer breaks the question's JSON Schema;
    the task keeps waiting and nothing is written."""

    def resume_value(wait: Row) -> Any:
        schema = wait_schema(wait["payload"])
        if schema is not None:
            _check(body.value, schema)
        return body.value

    return await _decide(
        pool, caller, task_id, "input", "answered", resume_value, body.wait_id, None
    )


async def _decide(
    pool: PoolDep,
    caller: Principal,
    task_id: uuid.UUID,
    kind: Literal["approval", "input"],
    decision: Literal["approved", "rejected", "answered"],
    resume_value: Any,
    wait_id: uuid.UUID | None,
    comment: str | None,
) -> DecisionResult:
    """The decision is the caller's: recorded with the deciding key's label, never a name from
    the request body, on one of the caller's tenant's tasks (another's is a 404)."""
    wait, task = await waits.decide(
        pool,
        task_id,
        tenant=caller.tenant,
        kind=kind,
        decision=decision,
        value=resume_value,
        wait_id=wait_id,
        decided_by=caller.label,
        comment=comment,
    )
    return DecisionResult(
        task=TaskPublic.model_validate(task), wait=WaitPublic.model_validate(wait)
    )


def _check(value: Any, schema: dict[str, Any]) -> None:
    """The answer against the question's schema: every violation named, as 422."""
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise Conflict(f"the question's schema is not valid JSON Schema: {exc.message}") from exc
    problems = sorted(validator_class(schema).iter_errors(value), key=lambda e: list(e.path))
    if problems:
        errors = [
            field_error(".".join(["body.value", *map(str, e.path)]), str(e.validator), e.message)
            for e in problems
        ]
        raise ProblemError(
            422,
            "validation-error",
            "The answer does not fit the question",
            "; ".join(e.message for e in problems),
            errors=errors,
        )
