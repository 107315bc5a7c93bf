"""Runs of the LangGraph Platform API (ADR 0018): a run is a task, on a thread (`/threads/{id}/
runs...`) or on a thread of its own (`/runs...`, stateless). Create, wait, stream, join, get,
list and cancel; the headers the SDK reads (Content-Location, Location) on every created run."""

from __future__ import annotations

import contextlib
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from api.access import Principal, forbidden
from api.deps import PoolDep, RegistryDep, SettingsDep, TasksRead, TasksWrite
from api.platform import (
    RunCreate,
    RunPublic,
    conflict,
    final_values,
    run_paths,
    run_public,
    settled,
)
from api.problems import invalid
from api.routes.streams import STREAM_RESPONSE
from api.routes.tasks import unknown_graph
from api.runstream import SERVED_MODES, RunLastEventId, frames, modes_of
from api.schemas import TaskCreate
from api.targets import resolve
from db import agent as agents
from db import run, tasks, thread, waits
from db.connect import Pool, Row
from db.errors import Conflict, NotFound
from db.tasks import NewTask
from db.waits import Decision, Kind
from outlast.jsonsafe import to_json
from outlast.registry import Registry
from outlast.settings import Settings

router = APIRouter(tags=["langgraph"])
WAITING_STATES = ("waiting_for_approval", "waiting_for_input")
OPEN_STATES = ("queued", "running", "paused", *WAITING_STATES)


async def _target(body: RunCreate, request: Request, pool: Pool, tenant: str) -> TaskCreate:
    """The assistant as a submit: the tenant's agent of that name, else the registered graph."""
    try:
        await agents.get(pool, tenant, body.assistant_id)
        return TaskCreate(agent=body.assistant_id)
    except NotFound:
        registry = request.app.state.registry
        if body.assistant_id not in registry:
            raise unknown_graph(body.assistant_id, registry.names()) from None
        return TaskCreate(graph=body.assistant_id)


async def _thread_for(pool: Any, thread_id: uuid.UUID, body: RunCreate, tenant: str) -> Row:
    """The thread the run goes on (created with `if_not_exists=create`), checked against the
    run's multitask strategy while it has unfinished runs."""
    try:
        row = await thread.get(pool, thread_id, tenant=tenant)
    except NotFound:
        if body.if_not_exists != "create":
            raise
        await thread.insert(pool, tenant=tenant, thread_id=thread_id, metadata={})
        row = await thread.get(pool, thread_id, tenant=tenant)
    if row["open_states"] and body.multitask_strategy == "reject":
        raise conflict(f"thread {thread_id} is busy and the run's multitask_strategy is reject")
    return row


async def start(
    request: Request,
    caller: Principal,
    pool: Pool,
    settings: Settings,
    thread_id: uuid.UUID | None,
    body: RunCreate,
) -> Row:
    """Submit the run as a task (on `thread_id`, or on a thread of its own)."""
    if body.command is not None:
        return await _resume(caller, pool, thread_id, body.command)
    for mode in modes_of(body.stream_mode):
        if mode not in SERVED_MODES:
            raise invalid("body.stream_mode", "served_mode", f"stream mode {mode!r} is not served")
    if thread_id is not None:
        on = await _thread_for(pool, thread_id, body, caller.tenant)
        if on["open_states"] and body.multitask_strategy in ("interrupt", "rollback"):
            await _supersede(
                pool,
                thread_id,
                rollback=body.multitask_strategy == "rollback",
                tenant=caller.tenant,
            )
    submit = await _target(body, request, pool, caller.tenant)
    target = await resolve(submit, pool, caller.tenant, request.app.state.registry)
    new = NewTask(
        graph=target.graph,
        agent=submit.agent,
        agent_version=target.agent_version,
        input=body.input or {},
        metadata=body.metadata or {},
        max_attempts=settings.default_max_attempts,
        thread_id=thread_id,
    )
    row, _ = await tasks.insert(pool, new, tenant=caller.tenant)
    return row


async def _supersede(pool: Pool, thread_id: uuid.UUID, *, rollback: bool, tenant: str) -> None:
    """multitask_strategy interrupt or rollback: cancel the thread's unfinished runs (queued
    ones at once, a running one at its next node boundary, as POST /v1/tasks/{id}/cancel).
    Interrupt: the new run waits for them to stop and starts from where they got to. Rollback:
    they leave the thread too, so the new run starts from the state before them, at once."""
    stale = await run.list_(
        pool, thread_id, tenant=tenant, limit=1000, offset=0, states=list(OPEN_STATES)
    )
    reason = (
        f"superseded by a new run on thread {thread_id} ({'rollback' if rollback else 'interrupt'})"
    )
    for task in stale:
        with contextlib.suppress(Conflict):  # already stopping, or finished meanwhile
            await tasks.cancel(pool, task["id"], tenant=tenant, reason=reason)
    if rollback:
        await thread.detach(pool, thread_id, [t["id"] for t in stale], tenant=tenant)


async def _resume(
    caller: Principal, pool: Pool, thread_id: uuid.UUID | None, command: dict[str, Any]
) -> Row:
    """`command={"resume": value}`: the decision of the wait the thread's interrupted run waits
    on, through the same statement as /v1 approve, reject and input (db/waits.py `decide`), so
    of an SDK resume and a /v1 decision one wins and the other gets 409. The run is the task
    that waited: it is queued again and resumes with the value."""
    if set(command) != {"resume"}:
        raise invalid("body.command", "resume_only", "only command={'resume': ...} is served")
    if thread_id is None:
        raise invalid("body.command", "needs_thread", "a resume names the thread it resumes")
    if not caller.holds("approvals:decide"):
        raise forbidden("approvals:decide")
    waiting = await run.list_(
        pool, thread_id, tenant=caller.tenant, limit=1, offset=0, states=list(WAITING_STATES)
    )
    if not waiting:
        await thread.get(pool, thread_id, tenant=caller.tenant)  # 404 for another tenant's
        raise conflict(f"thread {thread_id} has no interrupted run to resume")
    task = waiting[0]
    value = command["resume"]
    kind: Kind
    decision: Decision
    if task["state"] == "waiting_for_input":
        kind, decision = "input", "answered"
    else:
        approved = isinstance(value, dict) and bool(value.get("approved"))
        kind, decision = "approval", ("approved" if approved else "rejected")
        if isinstance(value, dict):
            value = {**value, "decided_by": caller.label}
    _, row = await waits.decide(
        pool,
        task["id"],
        tenant=caller.tenant,
        kind=kind,
        decision=decision,
        value=value,
        decided_by=caller.label,
    )
    return row


def _headers(row: Row) -> dict[str, str]:
    return run_paths(row["thread_id"] or row["id"], row["id"])


async def _create(
    request: Request,
    caller: Principal,
    pool: Pool,
    settings: Settings,
    thread_id: uuid.UUID | None,
    body: RunCreate,
) -> JSONResponse:
    row = await start(request, caller, pool, settings, thread_id, body)
    return JSONResponse(run_public(row).model_dump(mode="json"), headers=_headers(row))


@router.post(
    "/threads/{thread_id}/runs", summary="Create a run on a thread", response_model=RunPublic
)
async def create_run(
    caller: TasksWrite,
    thread_id: uuid.UUID,
    body: RunCreate,
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
) -> Any:
    return await _create(request, caller, pool, settings, thread_id, body)


@router.post("/runs", summary="Create a stateless run", response_model=RunPublic)
async def create_stateless_run(
    caller: TasksWrite, body: RunCreate, request: Request, pool: PoolDep, settings: SettingsDep
) -> Any:
    return await _create(request, caller, pool, settings, None, body)


async def _wait(
    request: Request,
    caller: Principal,
    pool: Pool,
    settings: Settings,
    registry: Registry,
    thread_id: uuid.UUID | None,
    body: RunCreate,
) -> JSONResponse:
    row = await start(request, caller, pool, settings, thread_id, body)
    done = await settled(request, pool, row["id"], tenant=caller.tenant)
    return JSONResponse(to_json(await final_values(pool, registry, done)), headers=_headers(row))


@router.post("/threads/{thread_id}/runs/wait", summary="Create a run and wait for its values")
async def wait_run(
    caller: TasksWrite,
    thread_id: uuid.UUID,
    body: RunCreate,
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    registry: RegistryDep,
) -> Any:
    return await _wait(request, caller, pool, settings, registry, thread_id, body)


@router.post("/runs/wait", summary="Create a stateless run and wait for its values")
async def wait_stateless_run(
    caller: TasksWrite,
    body: RunCreate,
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    registry: RegistryDep,
) -> Any:
    return await _wait(request, caller, pool, settings, registry, None, body)


def _stream(
    request: Request,
    pool: Pool,
    registry: Registry,
    row: Row,
    modes: list[str],
    tenant: str,
    after: str | None = None,
    subgraphs: bool = False,
) -> EventSourceResponse:
    thread_id = row["thread_id"] or row["id"]
    headers = {
        "Content-Location": f"/threads/{thread_id}/runs/{row['id']}",
        "Location": f"/threads/{thread_id}/runs/{row['id']}/stream",
    }
    events = frames(
        request, pool, registry, row, modes, tenant=tenant, after=after, subgraphs=subgraphs
    )
    return EventSourceResponse(events, ping=None, headers=headers)


@router.post(
    "/threads/{thread_id}/runs/stream",
    summary="Create a run and stream it",
    responses=STREAM_RESPONSE,
)
async def stream_run(
    caller: TasksWrite,
    thread_id: uuid.UUID,
    body: RunCreate,
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    registry: RegistryDep,
) -> Any:
    row = await start(request, caller, pool, settings, thread_id, body)
    modes = modes_of(body.stream_mode)
    return _stream(
        request, pool, registry, row, modes, caller.tenant, None, bool(body.stream_subgraphs)
    )


@router.post(
    "/runs/stream", summary="Create a stateless run and stream it", responses=STREAM_RESPONSE
)
async def stream_stateless_run(
    caller: TasksWrite,
    body: RunCreate,
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    registry: RegistryDep,
) -> Any:
    row = await start(request, caller, pool, settings, None, body)
    modes = modes_of(body.stream_mode)
    return _stream(
        request, pool, registry, row, modes, caller.tenant, None, bool(body.stream_subgraphs)
    )


@router.get("/threads/{thread_id}/runs", summary="A thread's runs, newest first")
async def list_runs(
    caller: TasksRead,
    thread_id: uuid.UUID,
    pool: PoolDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[RunPublic]:
    rows = await run.list_(pool, thread_id, tenant=caller.tenant, limit=limit, offset=offset)
    if not rows:  # no run: a thread of the tenant's with none (or past the page), else 404
        await thread.get(pool, thread_id, tenant=caller.tenant)
    return [run_public(r) for r in rows]


@router.get("/threads/{thread_id}/runs/{run_id}", summary="One run")
async def get_run(
    caller: TasksRead, thread_id: uuid.UUID, run_id: uuid.UUID, pool: PoolDep
) -> RunPublic:
    return run_public(await run.get(pool, run_id, thread_id=thread_id, tenant=caller.tenant))


@router.get("/threads/{thread_id}/runs/{run_id}/join", summary="Wait for a run's values")
async def join_run(
    caller: TasksRead,
    thread_id: uuid.UUID,
    run_id: uuid.UUID,
    request: Request,
    pool: PoolDep,
    registry: RegistryDep,
) -> Any:
    await run.get(pool, run_id, thread_id=thread_id, tenant=caller.tenant)
    done = await settled(request, pool, run_id, tenant=caller.tenant)
    return to_json(await final_values(pool, registry, done))


@router.get(
    "/threads/{thread_id}/runs/{run_id}/stream",
    summary="Join a run's stream (resumable with Last-Event-ID)",
    responses=STREAM_RESPONSE,
)
async def join_stream(
    caller: TasksRead,
    thread_id: uuid.UUID,
    run_id: uuid.UUID,
    request: Request,
    pool: PoolDep,
    registry: RegistryDep,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    last_event_id: RunLastEventId = None,
) -> Any:
    row = await run.get(pool, run_id, thread_id=thread_id, tenant=caller.tenant)
    modes = [m for m in (stream_mode or ["values"]) if m in SERVED_MODES] or ["values"]
    return _stream(request, pool, registry, row, modes, caller.tenant, last_event_id)


@router.post(
    "/threads/{thread_id}/runs/{run_id}/cancel",
    status_code=204,
    response_class=Response,
    summary="Cancel a run",
)
async def cancel_run(
    caller: TasksWrite,
    thread_id: uuid.UUID,
    run_id: uuid.UUID,
    request: Request,
    pool: PoolDep,
    wait: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    """A queued run is cancelled at once; a running one stops at its next node boundary
    (`wait=1` answers once it has). A finished run: 409."""
    await run.get(pool, run_id, thread_id=thread_id, tenant=caller.tenant)
    await tasks.cancel(
        pool, run_id, tenant=caller.tenant, reason="cancelled through the LangGraph API"
    )
    if wait:
        await settled(request, pool, run_id, tenant=caller.tenant)
    return Response(status_code=204)
