"""A task's thread over time: the state at any checkpoint, a fork from one (a new task that
resumes there, optionally with a state patch), and follow-ups that continue a finished thread."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from api.deps import PoolDep, RegistryDep, TasksRead, TasksWrite
from api.problems import ProblemError, field_error, invalid
from api.schemas import LABEL_PATTERN, CheckpointState, ForkRequest, MessageRequest, TaskPublic
from db import checkpoints, tasks
from db.errors import NotFound
from db.saver import TranscriptSaver
from outlast.jsonsafe import to_json

router = APIRouter(prefix="/v1/tasks", tags=["history"])
# Checked like every text that reaches SQL: a NUL here was a 500 from Postgres.
CheckpointIdPath = Annotated[
    str, Path(min_length=1, max_length=255, pattern=LABEL_PATTERN, description="A checkpoint id.")
]


@router.get("/{task_id}/checkpoints/{checkpoint_id}", summary="The state at one checkpoint")
async def checkpoint_state(
    caller: TasksRead,
    task_id: uuid.UUID,
    checkpoint_id: CheckpointIdPath,
    pool: PoolDep,
    registry: RegistryDep,
) -> CheckpointState:
    """LangGraph's own view of the thread at that checkpoint: values, next nodes, interrupts."""
    task = await tasks.get(pool, task_id, tenant=caller.tenant)
    if not await checkpoints.exists(pool, task_id, checkpoint_id, tenant=caller.tenant):
        raise NotFound("checkpoint", checkpoint_id)
    graph = registry.compiled(task["graph"], TranscriptSaver(pool))  # reads only
    config = {"configurable": {"thread_id": str(task_id), "checkpoint_id": checkpoint_id}}
    snapshot = await graph.aget_state(config)
    metadata: dict[str, Any] = to_json(dict(snapshot.metadata or {}))
    parent = (snapshot.parent_config or {}).get("configurable", {}).get("checkpoint_id")
    return CheckpointState(
        checkpoint_id=checkpoint_id,
        parent_checkpoint_id=parent,
        ts=snapshot.created_at,
        source=metadata.get("source"),
        step=metadata.get("step"),
        metadata=metadata,
        values=to_json(snapshot.values),
        next=list(snapshot.next),
        interrupts=[{"id": i.id, "value": to_json(i.value)} for i in snapshot.interrupts],
    )


@router.post("/{task_id}/fork", status_code=201, summary="A new task resuming from a checkpoint")
async def fork(
    caller: TasksWrite,
    task_id: uuid.UUID,
    body: ForkRequest,
    request: Request,
    response: Response,
    pool: PoolDep,
) -> TaskPublic:
    """The new task's thread starts as a copy of `checkpoint_id` (422 when that is not one of
    this task's checkpoints); `state_patch` is applied before it resumes."""
    await tasks.get(pool, task_id, tenant=caller.tenant)
    if not await checkpoints.exists(pool, task_id, body.checkpoint_id, tenant=caller.tenant):
        raise invalid(
            "body.checkpoint_id",
            "checkpoint_of_task",
            f"{body.checkpoint_id!r} is not a checkpoint of task {task_id}",
        )
    row = await tasks.fork(
        pool, task_id, body.checkpoint_id, body.state_patch, tenant=caller.tenant
    )
    response.headers["Location"] = str(request.url_for("get_task", task_id=row["id"]))
    return TaskPublic.model_validate(row)


@router.post("/{task_id}/messages", summary="Continue a completed task with a follow-up")
async def follow_up(
    caller: TasksWrite,
    task_id: uuid.UUID,
    body: MessageRequest,
    pool: PoolDep,
    registry: RegistryDep,
) -> TaskPublic:
    """`message` appends a user message (`{"messages": [{"role": "user", ...}]}`, for chat
    graphs); `input` is given to the graph as is. Exactly one of the two. 409 unless completed,
    and for a function task (it has no thread to continue)."""
    if (body.message is None) == (body.input is None):
        message = "give exactly one of message and input"
        raise ProblemError(
            422,
            "validation-error",
            "Request validation failed",
            message,
            errors=[field_error("body", "one_of", message)],
        )
    task = await tasks.get(pool, task_id, tenant=caller.tenant)
    if task["graph"] in registry and registry.function(task["graph"]) is not None:
        raise ProblemError(
            409,
            "function-task",
            "A function task has no thread",
            f"task {task_id} ran the function {task['graph']!r}: there is no thread to continue; "
            "submit a new task instead",
        )
    graph_input = body.input or {"messages": [{"role": "user", "content": body.message}]}
    row = await tasks.follow_up(pool, task_id, graph_input, tenant=caller.tenant)
    return TaskPublic.model_validate(row)
