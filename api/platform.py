"""The LangGraph Platform API's shapes over Outlast's rows (ADR 0018): a run is a task, a thread
is a `threads` row (or a task's own thread), an assistant is a registered graph or an agent.

Status mapping (ADR 0018):

    task state                               run status     thread status (its open tasks)
    queued, paused                           pending        busy
    running                                  running        busy
    waiting_for_approval, waiting_for_input  interrupted    interrupted
    completed                                success        idle
    failed (TaskTimeout)                     error (timeout) error (when it is the last run)
    cancelled                                interrupted    idle
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal, cast

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.problems import ProblemError
from api.schemas import JsonObject
from api.streams import Wakeups
from db import run, tasks
from db.connect import Pool, Row
from db.errors import NotFound
from db.saver import TranscriptSaver
from db.states import TERMINAL, WAITING, TaskState
from outlast.human import wait_kind
from outlast.jsonsafe import to_json
from outlast.registry import Registry

RUN_STATUS = {
    TaskState.QUEUED: "pending",
    TaskState.PAUSED: "pending",
    TaskState.RUNNING: "running",
    TaskState.WAITING_FOR_APPROVAL: "interrupted",
    TaskState.WAITING_FOR_INPUT: "interrupted",
    TaskState.COMPLETED: "success",
    TaskState.FAILED: "error",
    TaskState.CANCELLED: "interrupted",
}
# Where a task has stopped for now: a run waits (runs.wait, join) until one of these.
SETTLED = TERMINAL | {TaskState.WAITING_FOR_APPROVAL, TaskState.WAITING_FOR_INPUT}
# A waiting request reads the run again this often when no event of its tenant woke it.
POLL_S = 0.5

MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]


class _Body(BaseModel):
    # The SDK sends fields Outlast does not serve (webhook, checkpoint_during, ...): accepted and
    # ignored, each listed in docs/howto/langgraph-sdk.md.
    model_config = ConfigDict(extra="allow")


class RunCreate(_Body):
    assistant_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")
    input: JsonObject | None = None
    command: JsonObject | None = None
    metadata: JsonObject | None = None
    config: JsonObject | None = None
    stream_mode: str | list[str] | None = None
    stream_subgraphs: StrictBool | None = None
    multitask_strategy: MultitaskStrategy | None = None
    if_not_exists: Literal["create", "reject"] | None = None


class RunsCancel(_Body):
    """POST /runs/cancel: the runs `run_ids` (on `thread_id` when named), or every run of
    `status` (on `thread_id` when named)."""

    thread_id: uuid.UUID | None = None
    run_ids: list[uuid.UUID] | None = Field(None, min_length=1, max_length=1000)
    status: Literal["pending", "running", "all"] | None = None


class ThreadCreate(_Body):
    thread_id: uuid.UUID | None = None
    metadata: JsonObject | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None


class ThreadSearch(_Body):
    metadata: JsonObject | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: StrictInt = Field(10, ge=1, le=1000)
    offset: StrictInt = Field(0, ge=0, le=1_000_000)


class ThreadUpdate(_Body):
    metadata: JsonObject


class ThreadCount(_Body):
    metadata: JsonObject | None = None
    values: JsonObject | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None


class StateUpdate(_Body):
    values: JsonObject | None = None  # None: Agent Inbox's ignore, with as_node="__end__"
    as_node: str | None = Field(None, max_length=200)


class HistoryQuery(_Body):
    limit: StrictInt = Field(10, ge=1, le=1000)
    # A checkpoint id, or a checkpoint ({"checkpoint_id": ...}, as the SDK's `before` may be).
    before: str | JsonObject | None = None
    metadata: JsonObject | None = None

    def before_id(self) -> str | None:
        if isinstance(self.before, dict):
            found = self.before.get("checkpoint_id")
            found = found or (self.before.get("configurable") or {}).get("checkpoint_id")
            return str(found) if found else None
        return self.before


class StateAt(_Body):
    """POST /threads/{id}/state/checkpoint: the state at `checkpoint` (its `checkpoint_id`)."""

    checkpoint: JsonObject
    subgraphs: StrictBool | None = None


class AssistantSearch(_Body):
    graph_id: str | None = Field(None, max_length=200)
    name: str | None = Field(None, max_length=200)
    metadata: JsonObject | None = None
    limit: StrictInt = Field(10, ge=1, le=1000)
    offset: StrictInt = Field(0, ge=0, le=1_000_000)


class RunPublic(BaseModel):
    run_id: uuid.UUID
    thread_id: uuid.UUID
    assistant_id: str
    created_at: datetime
    updated_at: datetime
    status: str
    metadata: JsonObject
    multitask_strategy: str = "enqueue"


class ThreadPublic(BaseModel):
    thread_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    metadata: JsonObject
    status: str
    values: Any = None
    interrupts: JsonObject = Field(default_factory=dict)


class AssistantPublic(BaseModel):
    assistant_id: str
    graph_id: str
    name: str
    description: str | None = None
    config: JsonObject = Field(default_factory=dict)
    context: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)
    version: int = 1
    created_at: datetime
    updated_at: datetime


def run_status(row: Row) -> str:
    state = TaskState(row["state"])
    if state == TaskState.FAILED and (row["error"] or {}).get("type") == "TaskTimeout":
        return "timeout"
    return RUN_STATUS[state]


def run_public(row: Row) -> RunPublic:
    return RunPublic(
        run_id=row["id"],
        thread_id=row["thread_id"] or row["id"],
        assistant_id=row["agent"] or row["graph"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        status=run_status(row),
        metadata=row["metadata"],
    )


def thread_status(row: Row) -> str:
    open_states = set(row["open_states"] or [])
    if open_states & WAITING - {TaskState.PAUSED}:
        return "interrupted"
    if open_states:
        return "busy"
    if row["last_state"] == TaskState.FAILED:
        return "error"
    return "idle"


def thread_public(row: Row, state: dict[str, Any] | None = None) -> ThreadPublic:
    state = state or {}
    return ThreadPublic(
        thread_id=row["id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        metadata=row["metadata"],
        status=thread_status(row),
        values=state.get("values", {}),
        interrupts=state.get("interrupts_by_task", {}),
    )


def run_paths(thread_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, str]:
    """The headers the SDK reads: where the run is, and where to rejoin it."""
    base = f"/threads/{thread_id}/runs/{run_id}"
    return {"Content-Location": base, "Location": f"{base}/join"}


def conflict(message: str) -> ProblemError:
    return ProblemError(409, "conflict", "Conflict", message)


async def snapshot(pool: Pool, registry: Registry, task_id: uuid.UUID, graph: str) -> Any:
    """LangGraph's StateSnapshot of the task's own LangGraph thread (read only)."""
    compiled = registry.compiled(graph, TranscriptSaver(pool))
    return await compiled.aget_state({"configurable": {"thread_id": str(task_id)}})


# What Agent Inbox reads of an interrupt (its HumanInterrupt) and may answer with.
INBOX_ANSWERS = {
    "allow_accept": True,
    "allow_edit": True,
    "allow_respond": True,
    "allow_ignore": True,
}


def interrupt_value(value: Any) -> Any:
    """An interrupt's value as the LangGraph API shows it: an approval (outlast.human) also
    carries Agent Inbox's `action_request`, `config` and `description`, so the inbox renders it
    and answers it (`inbox_resume`); the wait's own payload is unchanged."""
    shown = to_json(value)
    if wait_kind(value) != "approval" or not isinstance(shown, dict):
        return shown
    return {
        **shown,
        "action_request": {"action": shown.get("action"), "args": shown.get("args") or {}},
        "config": INBOX_ANSWERS,
        "description": shown.get("summary"),
    }


def interrupts_of(snap: Any) -> list[dict[str, Any]]:
    return [{"id": i.id, "value": interrupt_value(i.value)} for i in snap.interrupts]


def inbox_resume(value: Any) -> Any:
    """An approval's resume value from Agent Inbox's answer (a HumanResponse, or a list of one):
    accept and edit approve (edit with its args), ignore and response reject (a response's text
    is the reason). Agent Inbox's form for LangChain's HITL middleware, `{"decisions": [...]}`
    with `approve` and `reject`, is read the same. Any other value is returned as it came
    (`{"approved": ...}`)."""
    if isinstance(value, dict) and set(value) == {"decisions"}:
        value = [
            {**d, "type": HITL_TYPES.get(str(d.get("type")), d.get("type"))}
            if isinstance(d, dict)
            else d
            for d in value["decisions"] or []
        ] or value
    answer = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not isinstance(answer, dict) or answer.get("type") not in INBOX_TYPES:
        return value
    kind, args = answer["type"], answer.get("args")
    if kind == "accept":
        return {"approved": True}
    if kind == "edit":
        edited = args.get("args") if isinstance(args, dict) else None
        return {"approved": True, **({"args": edited} if isinstance(edited, dict) else {})}
    if kind == "response":
        return {"approved": False, "reason": args if isinstance(args, str) else None}
    return {"approved": False}


INBOX_TYPES = frozenset({"accept", "edit", "response", "ignore"})
HITL_TYPES = {"approve": "accept", "reject": "response"}


async def thread_state(
    pool: Pool, registry: Registry, thread_id: uuid.UUID, *, tenant: str
) -> dict[str, Any]:
    """The thread's state: its newest run's last checkpoint (ADR 0018), as the SDK reads it."""
    head = await run.head(pool, thread_id, tenant=tenant)
    if head is None or head["graph"] not in registry:
        return {"values": {}, "next": [], "tasks": [], "interrupts": [], "checkpoint": None}
    snap = await snapshot(pool, registry, head["id"], head["graph"])
    return state_public(snap, thread_id, head["id"])


async def checkpoint_state(
    pool: Pool, registry: Registry, thread_id: uuid.UUID, checkpoint_id: str, *, tenant: str
) -> dict[str, Any]:
    """The thread's state at one of its checkpoints (any of its runs'); NotFound when no run of
    the tenant's thread wrote it."""
    owner = await run.by_checkpoint(pool, thread_id, checkpoint_id, tenant=tenant)
    if owner is None or owner["graph"] not in registry:
        raise NotFound("checkpoint", checkpoint_id)
    compiled = registry.compiled(owner["graph"], TranscriptSaver(pool))
    config = {
        "configurable": {
            "thread_id": str(owner["id"]),
            "checkpoint_ns": "",
            "checkpoint_id": checkpoint_id,
        }
    }
    snap = await compiled.aget_state(config)
    return state_public(snap, thread_id, owner["id"])


async def thread_history(
    pool: Pool,
    registry: Registry,
    thread_id: uuid.UUID,
    *,
    tenant: str,
    limit: int,
    before: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The thread's states, newest first, across its runs: each run's checkpoints but the copy
    of the thread's state it started from (that is the run before's last). With `before`, only
    those older than that checkpoint (in write order, not by id: ADR 0007); with `metadata`,
    only those whose metadata holds each of its keys with that value."""
    found: list[dict[str, Any]] = []
    passed = before is None
    async for task, snap in _thread_snapshots(pool, registry, thread_id, tenant=tenant):
        configurable = (snap.config or {}).get("configurable", {})
        if not passed:
            passed = configurable.get("checkpoint_id") == before
            continue
        held = dict(snap.metadata or {})
        if any(held.get(k) != v for k, v in (metadata or {}).items()):
            continue
        found.append(state_public(snap, thread_id, task["id"]))
        if len(found) >= limit:
            break
    return found


async def _thread_snapshots(
    pool: Pool, registry: Registry, thread_id: uuid.UUID, *, tenant: str
) -> AsyncIterator[tuple[Row, Any]]:
    """Each run's checkpoints, newest run first, without the copies runs start from."""
    page = 100
    for offset in itertools.count(0, page):
        runs = await run.list_(pool, thread_id, tenant=tenant, limit=page, offset=offset)
        for task in runs:
            if task["graph"] not in registry:
                continue
            compiled = registry.compiled(task["graph"], TranscriptSaver(pool))
            config = {"configurable": {"thread_id": str(task["id"])}}
            async for snap in compiled.aget_state_history(config):
                if (snap.metadata or {}).get("source") != "fork":
                    yield task, snap
        if len(runs) < page:
            return


def state_public(snap: Any, thread_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, Any]:
    configurable = (snap.config or {}).get("configurable", {})
    parent = (snap.parent_config or {}).get("configurable", {})
    interrupts = interrupts_of(snap)
    return {
        "values": to_json(snap.values),
        "next": list(snap.next),
        "tasks": [
            {
                "id": t.id,
                "name": t.name,
                "error": None if t.error is None else repr(t.error),
                "interrupts": [
                    {"id": i.id, "value": interrupt_value(i.value)} for i in t.interrupts
                ],
                "checkpoint": None,
                "state": None,
                "result": to_json(t.result) if t.result is not None else None,
            }
            for t in snap.tasks
        ],
        "metadata": to_json(dict(snap.metadata or {})),
        "created_at": snap.created_at,
        "checkpoint": _checkpoint(thread_id, configurable),
        "parent_checkpoint": _checkpoint(thread_id, parent) if parent else None,
        "interrupts": interrupts,
        "interrupts_by_task": {str(run_id): interrupts} if interrupts else {},
        "checkpoint_id": configurable.get("checkpoint_id"),
        "parent_checkpoint_id": parent.get("checkpoint_id"),
    }


def _checkpoint(thread_id: uuid.UUID, configurable: dict[str, Any]) -> dict[str, Any]:
    return {
        "thread_id": str(thread_id),
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
    }


async def settled(request: Request, pool: Pool, task_id: uuid.UUID, *, tenant: str) -> Row:
    """Wait until the task stops (ends, or waits on a person), woken by its tenant's events
    (api/streams.py Wakeups) or every POLL_S; no transaction is held while waiting."""
    wakeups = cast(Wakeups, request.app.state.wakeups)
    with wakeups.subscribe(tenant) as woken:
        while True:
            woken.clear()
            row = await tasks.get(pool, task_id, tenant=tenant)
            if TaskState(row["state"]) in SETTLED:
                return row
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), POLL_S)


async def final_values(pool: Pool, registry: Registry, row: Row) -> Any:
    """What runs.wait and runs.join answer for a settled run: its values; an interrupted run's
    state with `__interrupt__`; a failed run's `__error__`."""
    state = TaskState(row["state"])
    if state == TaskState.COMPLETED:
        return row["result"]
    if state == TaskState.FAILED:
        error = row["error"] or {}
        return {"__error__": {"error": error.get("type"), "message": error.get("message")}}
    if row["graph"] not in registry:
        return {}
    snap = await snapshot(pool, registry, row["id"], row["graph"])
    values: Any = to_json(snap.values)
    if snap.interrupts and isinstance(values, dict):
        values["__interrupt__"] = interrupts_of(snap)
    return values
