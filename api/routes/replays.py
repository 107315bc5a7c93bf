"""Replays: run a finished agent task again from its N-th model call, and compare.

A task's model calls are numbered 1, 2, ... in the order they completed (llm_calls by id,
status `completed`; failed and interrupted attempts have no number). A replay is a new task of
the same agent version and input, run from scratch with the overrides given: each of its model
calls numbered below N takes the original's recorded answer (no request to a provider, cost 0),
and from the N-th on the model is called. docs/howto/agents-and-models.md, "Replay".
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from api.deps import PoolDep, TasksRead, TasksWrite
from api.problems import invalid
from api.schemas import (
    ReplayComparison,
    ReplayCreated,
    ReplayRequest,
    TaskOutcome,
    TaskPublic,
)
from db import llm_call, tasks
from db.errors import Conflict, NotFound
from db.states import TERMINAL

router = APIRouter(prefix="/v1/tasks", tags=["replays"])


@router.post("/{task_id}/replay", status_code=201, summary="Replay an agent task from a call")
async def replay(
    caller: TasksWrite,
    task_id: uuid.UUID,
    body: ReplayRequest,
    request: Request,
    response: Response,
    pool: PoolDep,
) -> ReplayCreated:
    """201 with the new task. 404: no such task; 409: not an agent task, or not finished;
    422: `from_call` beyond the task's completed model calls."""
    source = await tasks.get(pool, task_id, tenant=caller.tenant)
    if source["agent"] is None:
        raise Conflict("only a task submitted to an agent can be replayed", state=source["state"])
    if source["state"] not in TERMINAL:
        message = f"only a finished task can be replayed; this one is {source['state']}"
        raise Conflict(message, state=source["state"])
    figures = await llm_call.figures(pool, task_id, tenant=caller.tenant)
    completed = figures["completed"] if figures else 0
    if body.from_call > completed:
        message = f"the task has {completed} completed model call(s); from_call is 1 to {completed}"
        raise invalid("body.from_call", "existing_call", message)
    overrides = body.overrides()
    row = await tasks.replay(
        pool, task_id, tenant=caller.tenant, from_call=body.from_call, overrides=overrides
    )
    response.headers["Location"] = str(request.url_for("get_task", task_id=row["id"]))
    return ReplayCreated(
        task=TaskPublic.model_validate(row),
        replay_of=task_id,
        from_call=body.from_call,
        overrides=overrides,
    )


@router.get("/{task_id}/replays", summary="A task and its replays: outcome and cost side by side")
async def replays(caller: TasksRead, task_id: uuid.UUID, pool: PoolDep) -> ReplayComparison:
    rows = await llm_call.compare(pool, task_id, tenant=caller.tenant)
    if not rows or rows[0]["id"] != task_id:
        raise NotFound("task", task_id)
    outcomes = [TaskOutcome.model_validate(row) for row in rows]
    return ReplayComparison(task=outcomes[0], replays=outcomes[1:])
