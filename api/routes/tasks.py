"""Tasks: submit (idempotently), read, list, follow (events, checkpoints), cancel."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import AwareDatetime, BeforeValidator

from api.deps import PoolDep, RegistryDep, SettingsDep, TasksRead, TasksWrite
from api.pagination import (
    CursorQuery,
    FilterQuery,
    LimitQuery,
    decode_int,
    decode_text,
    decode_time_id,
    include_query,
    included,
    page,
)
from api.problems import ProblemError, field_error
from api.schemas import (
    CancelRequest,
    CheckpointPublic,
    Page,
    TaskCreate,
    TaskEventPublic,
    TaskPublic,
    TaskSummary,
)
from api.targets import resolve
from db import checkpoints, tasks, thread
from db.states import TaskState

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

# ISO 8601 with a zone.
STAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _iso(value: object) -> object:
    """Only ISO 8601 text: pydantic would also read a bare number as a Unix time."""
    if isinstance(value, str) and not re.match(STAMP, value):
        raise ValueError("expected an ISO 8601 date and time with a zone")
    return value


CreatedAfter = Annotated[
    AwareDatetime | None,
    BeforeValidator(_iso),
    Query(description="Tasks created at or after this time (ISO 8601, with a zone)."),
]
CreatedBefore = Annotated[
    AwareDatetime | None,
    BeforeValidator(_iso),
    Query(description="Tasks created before this time (ISO 8601, with a zone)."),
]
TextQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00]+$",
        description="Case-insensitive text in the task's input or error.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        description="Same key and same body: the same task (200, Idempotent-Replayed: true).",
    ),
]


def unknown_graph(name: str, known: list[str]) -> ProblemError:
    message = f"no graph named {name!r}; known graphs: {', '.join(known)}"
    return ProblemError(
        422,
        "unknown-graph",
        "Unknown graph",
        message,
        errors=[field_error("body.graph", "known_graph", message)],
        extra={"known_graphs": known},
    )


@router.post("", status_code=201, summary="Submit a task")
async def submit(
    caller: TasksWrite,
    body: TaskCreate,
    request: Request,
    response: Response,
    pool: PoolDep,
    settings: SettingsDep,
    registry: RegistryDep,
    idempotency_key: IdempotencyKey = None,
) -> TaskPublic:
    """201 with Location for a new task; 200 with `Idempotent-Replayed: true` when the
    Idempotency-Key was already used for this same body; 422 when it was used for another."""
    target = await resolve(body, pool, caller.tenant, registry)
    if body.graph is not None and body.graph not in registry:
        raise unknown_graph(body.graph, registry.names())
    new = body.to_new_task(
        settings.default_max_attempts, graph=target.graph, agent_version=target.agent_version
    )
    if new.thread_id is not None:
        await thread.get(pool, new.thread_id, tenant=caller.tenant)  # 404: not the caller's
    row, created = await tasks.insert(
        pool, new, tenant=caller.tenant, idempotency_key=idempotency_key
    )
    response.headers["Location"] = str(request.url_for("get_task", task_id=row["id"]))
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return TaskPublic.model_validate(row)


HEAVY = ("input", "metadata", "result")
TaskInclude = Annotated[str | None, include_query(*HEAVY)]


@router.get("", summary="List tasks, newest first", response_model_exclude_unset=True)
async def list_tasks(
    caller: TasksRead,
    pool: PoolDep,
    state: TaskState | None = None,
    graph: FilterQuery = None,
    agent: FilterQuery = None,
    created_after: CreatedAfter = None,
    created_before: CreatedBefore = None,
    text: TextQuery = None,
    include: TaskInclude = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[TaskSummary]:
    """Items leave out `input`, `metadata` and `result` unless named in `include`. Filters:
    `state`, `graph`, `agent`, `created_after` / `created_before` (a time range, ISO 8601 with
    a zone), and `text`, a case-insensitive substring of the task's input or error (JSON text;
    narrow it with a time range on a large tenant: it is checked row by row)."""
    before = decode_time_id(cursor, "tasks") if cursor else None
    rows = await tasks.list_(
        pool,
        tenant=caller.tenant,
        limit=limit + 1,
        state=state,
        graph=graph,
        before=before,
        agent=agent,
        created_after=created_after,
        created_before=created_before,
        text=text,
    )
    omit = set(HEAVY) - included(include)
    return page(
        rows,
        limit,
        TaskSummary,
        lambda r: (r["created_at"].isoformat(), r["id"]),
        "tasks",
        omit=omit,
    )


@router.get("/{task_id}", summary="One task")
async def get_task(caller: TasksRead, task_id: uuid.UUID, pool: PoolDep) -> TaskPublic:
    return TaskPublic.model_validate(await tasks.get(pool, task_id, tenant=caller.tenant))


@router.get("/{task_id}/events", summary="A task's history, oldest first")
async def list_events(
    caller: TasksRead,
    task_id: uuid.UUID,
    pool: PoolDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[TaskEventPublic]:
    after = decode_int(cursor, "events") if cursor else 0
    rows = await tasks.events_list(
        pool, task_id, tenant=caller.tenant, after_id=after, limit=limit + 1
    )
    return page(rows, limit, TaskEventPublic, lambda r: (r["id"],), "events")


@router.get("/{task_id}/checkpoints", summary="A task's checkpoints, newest first")
async def list_checkpoints(
    caller: TasksRead,
    task_id: uuid.UUID,
    pool: PoolDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[CheckpointPublic]:
    before = decode_text(cursor, "checkpoints") if cursor else None
    await tasks.get(pool, task_id, tenant=caller.tenant)  # 404, not an empty list
    rows = await checkpoints.list_(
        pool, task_id, tenant=caller.tenant, limit=limit + 1, before_id=before
    )
    return page(rows, limit, CheckpointPublic, lambda r: (r["checkpoint_id"],), "checkpoints")


@router.post("/{task_id}/cancel", summary="Cancel a task")
async def cancel(
    caller: TasksWrite, task_id: uuid.UUID, pool: PoolDep, body: CancelRequest | None = None
) -> TaskPublic:
    """Queued or waiting: cancelled now. Running: `cancel_requested` is set and the worker stops
    at its next node boundary. 409 (with `state`) when finished or already requested."""
    reason = body.reason if body else None
    row = await tasks.cancel(pool, task_id, tenant=caller.tenant, reason=reason)
    return TaskPublic.model_validate(row)
