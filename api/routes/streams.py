"""Live streams of task events as Server-Sent Events, resumable with Last-Event-ID (api/streams.py,
ADR 0015). Each SSE event of the tenant stream is `event: task_event`, `id: <task_events id>`,
`data: <JSON>`.

A task's stream also carries the token deltas of its running model calls (`event: token`, ADR
0022), from a second table with its own ids, so its SSE ids are two offsets, `<E>.<D>`: the last
task event and the last token delta sent. A reconnect with `Last-Event-ID: E.D` resumes both; a
plain `E` resumes the events and sends the tokens still kept (OUTLAST_TOKEN_RETENTION_S)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import PoolDep, TasksRead
from api.pagination import FilterQuery
from api.streams import (
    Read,
    StreamConfig,
    Wakeups,
    follow,
    follow_deltas,
    merge,
    token_key,
)
from db import llm_delta, stream
from db.connect import Row
from db.errors import NotFound
from db.states import TaskState

router = APIRouter(tags=["streams"])

LastEventId = Annotated[
    int | None,
    Header(
        alias="Last-Event-ID",
        ge=0,
        description="Resume after this event id (an EventSource sends it on reconnect).",
    ),
]
TaskLastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        pattern=r"^[0-9]{1,18}(\.[0-9]{1,18})?$",
        description="Resume after this position: `E.D` (the last task event and token delta"
        " ids, as the stream's event ids carry them) or `E`.",
    ),
]
After = Annotated[
    int | None,
    Query(ge=0, description="Resume after this event id (as Last-Event-ID, which wins)."),
]
STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}
}


def _event(row: Row) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(row, default=str), id=str(row["id"]), event="task_event")


async def _start(request: Request, pool: PoolDep, resume: int | None, after: int | None) -> int:
    if resume is not None:
        return resume
    if after is not None:
        return after
    return await stream.head(pool)


def _response(request: Request, pool: PoolDep, tenant: str, start: int, read: Read) -> Any:
    wakeups = cast(Wakeups, request.app.state.wakeups)
    config = cast(StreamConfig, request.app.state.stream_config)

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for row in follow(pool, wakeups, tenant, start, read, config):
            yield _event(row)

    return EventSourceResponse(events(), ping=15)


@router.get("/v1/stream", summary="Follow a tenant's task changes", responses=STREAM_RESPONSE)
async def tenant_stream(
    caller: TasksRead,
    request: Request,
    pool: PoolDep,
    state: TaskState | None = None,
    graph: FilterQuery = None,
    agent: FilterQuery = None,
    after: After = None,
    last_event_id: LastEventId = None,
) -> Any:
    """Every task event of the caller's tenant from now on (or after `Last-Event-ID`), filtered
    by the state an event moved to, the task's graph or its agent."""
    start = await _start(request, pool, last_event_id, after)
    tenant = caller.tenant

    async def read(low: int, high: int) -> list[Row]:
        return await stream.tenant(
            pool,
            tenant=tenant,
            after=low,
            upto=high,
            limit=StreamConfig.batch,
            state=state.value if state else None,
            graph=graph,
            agent=agent,
        )

    return _response(request, pool, tenant, start, read)


@router.get("/v1/tasks/{task_id}/stream", summary="Follow a task", responses=STREAM_RESPONSE)
async def task_stream(
    caller: TasksRead,
    task_id: uuid.UUID,
    request: Request,
    pool: PoolDep,
    after: After = None,
    last_event_id: TaskLastEventId = None,
) -> Any:
    """The task's events: all of them from its first (or after `Last-Event-ID`), then live; and
    the text of its running model calls as it streams (`event: token`)."""
    tenant = caller.tenant
    if not await stream.task_exists(pool, task_id, tenant=tenant):
        raise NotFound("task", task_id)
    events_after, tokens_after = _position(last_event_id, after)
    wakeups = cast(Wakeups, request.app.state.wakeups)
    config = cast(StreamConfig, request.app.state.stream_config)

    async def read(low: int, high: int) -> list[Row]:
        return await stream.task(
            pool, task_id, tenant=tenant, after=low, upto=high, limit=StreamConfig.batch
        )

    async def read_tokens(low: int) -> list[Row]:
        return await llm_delta.task(
            pool, task_id, tenant=tenant, after=low, limit=StreamConfig.batch
        )

    async def sse() -> AsyncIterator[ServerSentEvent]:
        position = [events_after, tokens_after]
        sources = merge(
            task_event=follow(pool, wakeups, tenant, events_after, read, config),
            token=follow_deltas(
                pool, wakeups, token_key(task_id), tokens_after, read_tokens, config
            ),
        )
        async for kind, row in sources:
            position[kind == "token"] = int(row["id"])
            data = json.dumps(row, default=str)
            yield ServerSentEvent(data=data, id=f"{position[0]}.{position[1]}", event=kind)

    return EventSourceResponse(sse(), ping=15)


def _position(last_event_id: str | None, after: int | None) -> tuple[int, int]:
    """(task events offset, token deltas offset) to resume from."""
    if last_event_id is None:
        return after or 0, 0
    events, _, tokens = last_event_id.partition(".")
    return int(events), int(tokens or 0)
