"""Batch submit: up to 1,000 tasks in one request, written in one transaction (all or none).

Every item is checked before anything is written: a bad item answers 422 naming it by index
(`body.tasks.3.priority`, the API's dotted field paths), and no task of the batch exists. There
is no Idempotency-Key on a batch (a header is refused, not ignored): submit singly to get one.
`?dry_run=true` runs every check and writes nothing (200, no tasks).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import PoolDep, RegistryDep, SettingsDep, TasksWrite
from api.problems import ProblemError, field_error
from api.schemas import TaskCreate, TaskPublic
from api.targets import Target, resolve
from db import tasks

router = APIRouter(prefix="/v1", tags=["tasks"])

MAX_BATCH = 1000


class TaskBatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tasks: list[TaskCreate] = Field(
        min_length=1, max_length=MAX_BATCH, description="The tasks, each as POST /v1/tasks takes."
    )


class TaskBatchPublic(BaseModel):
    tasks: list[TaskPublic] = Field(description="The created tasks, in the request's order.")


def _unknown_graphs(body: TaskBatchCreate, known: list[str]) -> ProblemError | None:
    errors = [
        field_error(f"body.tasks.{i}.graph", "known_graph", f"no graph named {item.graph!r}")
        for i, item in enumerate(body.tasks)
        if item.graph is not None and item.graph not in known
    ]
    if not errors:
        return None
    detail = f"{len(errors)} task(s) name no registered graph; known graphs: {', '.join(known)}"
    return ProblemError(
        422, "unknown-graph", "Unknown graph", detail, errors=errors, extra={"known_graphs": known}
    )


@router.post(
    "/tasks:batch",
    status_code=201,
    summary="Submit up to 1,000 tasks at once",
    responses={
        200: {"model": TaskBatchPublic, "description": "dry_run: every task checked, none written"}
    },
)
async def submit_batch(
    caller: TasksWrite,
    body: TaskBatchCreate,
    pool: PoolDep,
    settings: SettingsDep,
    registry: RegistryDep,
    response: Response,
    dry_run: Annotated[
        bool, Query(description="Check every task and write none: 200 with `tasks: []`.")
    ] = False,
    idempotency_key: Annotated[
        # Out of the document: a batch takes no Idempotency-Key, and one sent is refused.
        str | None, Header(alias="Idempotency-Key", include_in_schema=False)
    ] = None,
) -> TaskBatchPublic:
    """201 with every task, in order, written in one transaction. 422 naming each bad item
    (`body.tasks.{i}.{field}`), with nothing written. With `dry_run`, the same checks and
    nothing written: 200 with no tasks (a client checks a large file before any of it is
    submitted in chunks)."""
    if idempotency_key is not None:
        message = "a batch cannot be replayed; submit tasks singly to use Idempotency-Key"
        raise ProblemError(
            422,
            "validation-error",
            "Request validation failed",
            message,
            errors=[field_error("header.idempotency-key", "not_supported", message)],
        )
    on_threads = [i for i, item in enumerate(body.tasks) if item.thread_id is not None]
    if on_threads:
        message = "a batch cannot name a thread; submit tasks on a thread singly"
        raise ProblemError(
            422,
            "validation-error",
            "Request validation failed",
            message,
            errors=[
                field_error(f"body.tasks.{i}.thread_id", "not_supported", message)
                for i in on_threads
            ],
        )
    targets: list[Target] = []
    seen: dict[tuple[str | None, str | None], Target] = {}  # one agent lookup per agent
    for i, item in enumerate(body.tasks):
        key = (item.graph, item.agent)
        if key not in seen:
            seen[key] = await resolve(item, pool, caller.tenant, registry, f"body.tasks.{i}.")
        targets.append(seen[key])
    problem = _unknown_graphs(body, registry.names())
    if problem is not None:
        raise problem
    batch = [
        item.to_new_task(
            settings.default_max_attempts, graph=target.graph, agent_version=target.agent_version
        )
        for item, target in zip(body.tasks, targets, strict=True)
    ]
    if dry_run:
        response.status_code = 200
        return TaskBatchPublic(tasks=[])
    rows = await tasks.insert_many(pool, batch, tenant=caller.tenant)
    return TaskBatchPublic(tasks=[TaskPublic.model_validate(row) for row in rows])
