"""Runs of the LangGraph Platform API (ADR 0018): a run is a task, on a thread (`/threads/{id}/
runs...`) or on a thread of its own (`/runs...`, stateless). Create, wait, stream, join, get,
list and cancel; the headers the SDK reads (Content-Location, Location) on every created run."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from api.access import Principal, forbidden
from api.deps import PoolDep, RegistryDep, SettingsDep, TasksRead, TasksWrite
from api.platform import (
    RunCreate,
    RunPublic,
    RunsCancel,
    conflict,
    final_values,
    inbox_resume,
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
    if thread_id is not None:
        # As LangGraph's server does: the thread names what runs on it. Agent Chat UI lists a
        # graph's threads by `graph_id` (an agent's by `assistant_id`).
        stamp = {"assistant_id": body.assistant_id}
        if submit.agent is None:
            stamp["graph_id"] = target.graph
        await thread.update(pool, thread_id, tenant=caller.tenant, metadata=stamp)
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
        value = inbox_resume(value)  # Agent Inbox answers with a HumanResponse
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


@dataclass(frozen=True)
class Started:
    """A run just submitted by one of the create routes, and what its answer needs."""

    request: Request
    pool: Pool
    registry: Registry
    tenant: str
    row: Row
    body: RunCreate


Answer = Callable[[Started], Awaitable[Response]]


async def _created(run: Started) -> Response:
    return JSONResponse(run_public(run.row).model_dump(mode="json"), headers=_headers(run.row))


async def _waited(run: Started) -> Response:
    done = await settled(run.request, run.pool, run.row["id"], tenant=run.tenant)
    values = to_json(await final_values(run.pool, run.registry, done))
    return JSONResponse(values, headers=_headers(run.row))


async def _streamed(run: Started) -> Response:
    modes = modes_of(run.body.stream_mode)
    subgraphs = bool(run.body.stream_subgraphs)
    return _stream(run.request, run.pool, run.registry, run.row, modes, run.tenant, None, subgraphs)


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


def _on_thread(thread_id: uuid.UUID) -> uuid.UUID | None:
    """The path's thread (`/threads/{thread_id}/runs...`)."""
    return thread_id


def _stateless() -> uuid.UUID | None:
    """No thread (`/runs...`): the run is on a thread of its own."""
    return None


def _endpoint(answer: Answer, thread: Callable[..., uuid.UUID | None]) -> Callable[..., Any]:
    """One route body for a run's thread and stateless twins: `thread` gives the thread id
    (the path's, or None); the run is submitted, then `answer` answers."""
    thread_of = Depends(thread)

    async def endpoint(
        caller: TasksWrite,
        body: RunCreate,
        request: Request,
        pool: PoolDep,
        settings: SettingsDep,
        registry: RegistryDep,
        thread_id: uuid.UUID | None = thread_of,
    ) -> Any:
        row = await start(request, caller, pool, settings, thread_id, body)
        return await answer(Started(request, pool, registry, caller.tenant, row, body))

    return endpoint


STREAM_EXTRAS: dict[str, Any] = {"responses": STREAM_RESPONSE}
# The twins, each a route on a thread and a stateless one: (path suffix, route name, summary,
# how it answers, its OpenAPI extras).
TWINS: list[tuple[str, str, str, Answer, dict[str, Any]]] = [
    ("", "create_run", "Create a run", _created, {"response_model": RunPublic}),
    ("/wait", "wait_run", "Create a run and wait for its values", _waited, {}),
    ("/stream", "stream_run", "Create a run and stream it", _streamed, STREAM_EXTRAS),
]
for suffix, name, summary, answer, extras in TWINS:
    router.add_api_route(
        f"/threads/{{thread_id}}/runs{suffix}",
        _endpoint(answer, _on_thread),
        methods=["POST"],
        name=name,
        summary=f"{summary} on a thread",
        **extras,
    )
    router.add_api_route(
        f"/runs{suffix}",
        _endpoint(answer, _stateless),
        methods=["POST"],
        name=f"{name}_stateless",
        summary=f"{summary} (stateless: on a thread of its own)",
        **extras,
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


# `{run_id:uuid}` where a GET or DELETE would also match `/threads/{id}/runs/crons` (a POST):
# that path is then a 405, as it should be, not a 422 on a run id "crons".
@router.get("/threads/{thread_id}/runs/{run_id:uuid}", summary="One run")
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
    await tasks.cancel(pool, run_id, tenant=caller.tenant, reason=CANCELLED_BY_API)
    if wait:
        await settled(request, pool, run_id, tenant=caller.tenant)
    return Response(status_code=204)


# POST /runs/cancel's `status`, as task states (ADR 0018's mapping).
CANCEL_STATES = {
    "pending": ["queued", "paused"],
    "running": ["running"],
    "all": ["queued", "paused", "running"],
}
CANCELLED_BY_API = "cancelled through the LangGraph API"


@router.post("/runs/cancel", status_code=204, response_class=Response, summary="Cancel runs")
async def cancel_runs(
    caller: TasksWrite,
    body: RunsCancel,
    pool: PoolDep,
    action: Annotated[Literal["interrupt", "rollback"], Query()] = "interrupt",
) -> Response:
    """The runs `run_ids` (each the tenant's, on `thread_id` when named, else 404), or up to
    1000 of `status` (`pending`, `running`, `all`; on `thread_id` when named). Each stops as
    POST /threads/{id}/runs/{run_id}/cancel; a finished one is left as it is. `action=rollback`
    also takes the cancelled runs off their threads, as multitask_strategy rollback does."""
    if body.run_ids:
        runs = [await _run_of(pool, r, body.thread_id, caller.tenant) for r in body.run_ids]
    elif body.status is not None:
        states = CANCEL_STATES[body.status]
        runs = await run.select(
            pool, tenant=caller.tenant, states=states, thread_id=body.thread_id, limit=1000
        )
    else:
        raise invalid("body.run_ids", "required", "name run_ids, or a status to cancel by")
    stopped = []
    for row in runs:
        with contextlib.suppress(Conflict):  # finished, or already stopping
            await tasks.cancel(pool, row["id"], tenant=caller.tenant, reason=CANCELLED_BY_API)
            stopped.append(row)
    if action == "rollback":
        for thread_id in {r["thread_id"] for r in stopped if r["thread_id"] is not None}:
            ids = [r["id"] for r in stopped if r["thread_id"] == thread_id]
            await thread.detach(pool, thread_id, ids, tenant=caller.tenant)
    return Response(status_code=204)


async def _run_of(pool: Pool, run_id: uuid.UUID, thread_id: uuid.UUID | None, tenant: str) -> Row:
    if thread_id is None:
        return await tasks.get(pool, run_id, tenant=tenant)
    return await run.get(pool, run_id, thread_id=thread_id, tenant=tenant)


@router.delete(
    "/threads/{thread_id}/runs/{run_id:uuid}",
    status_code=204,
    response_class=Response,
    summary="Delete a finished run from its thread",
)
async def delete_run(
    caller: TasksWrite, thread_id: uuid.UUID, run_id: uuid.UUID, pool: PoolDep
) -> Response:
    """409 while the run is unfinished. The run leaves the thread (the thread's state and next
    runs continue from the runs left) and stays in /v1 as a task of its own."""
    await run.delete(pool, run_id, thread_id=thread_id, tenant=caller.tenant)
    return Response(status_code=204)
