"""A run's stream in the LangGraph Platform API's framing, read from Postgres rows (ADR 0018).

A run's stream is an offset into its checkpoints (checkpoint_order.seq, written by the fenced
saver with each checkpoint): ADR 0015's design, on the rows a run writes at every step. The
worker runs with `durability="sync"`, so each superstep is a checkpoint before the next starts;
`values` is the state at a checkpoint, `updates` the writes of the tasks that ran into it (its
parent's tasks' results). A frame's SSE id is the checkpoint's seq; `Last-Event-ID` resumes
after it, on any replica. A worker killed mid-run writes nothing more; the resumed attempt
continues from the last checkpoint and its checkpoints follow in the same stream, so the
stream carries on instead of failing.

Frames: `metadata` first ({"run_id", "attempt"}), then one event per mode, `error` when the run
fails, and a comment every HEARTBEAT_S while nothing happens. The stream ends when the run has
stopped (ended, or waits on a person) and every checkpoint before that was sent.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

from fastapi import Request
from sse_starlette import ServerSentEvent

from api.platform import POLL_S, SETTLED, interrupts_of
from api.streams import Wakeups
from db import run, tasks
from db.connect import Pool, Row
from db.saver import TranscriptSaver
from db.states import TaskState
from outlast.jsonsafe import to_json
from outlast.registry import Registry

HEARTBEAT_S = 10.0
BATCH = 100  # checkpoints per read
SERVED_MODES = ("values", "updates", "messages-tuple")
# Checkpoints that are not a step of the run: the input before it is applied, and the copy of
# the thread's state a run on a named thread starts from (worker/executor.py).
NOT_A_STEP = ("input", "fork")


def modes_of(stream_mode: str | list[str] | None) -> list[str]:
    if stream_mode is None:
        return ["values"]
    return [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)


def _frame(event: str, data: Any, event_id: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(data, default=str),
        event=event,
        id=None if event_id is None else str(event_id),
    )


async def frames(
    request: Request,
    pool: Pool,
    registry: Registry,
    task: Row,
    modes: list[str],
    *,
    tenant: str,
    after: int = 0,
    subgraphs: bool = False,
) -> AsyncIterator[ServerSentEvent]:
    """The run's frames after the offset `after`, until it stops."""
    task_id: uuid.UUID = task["id"]
    yield _frame("metadata", {"run_id": str(task_id), "attempt": task["attempts"]})
    graph = registry.compiled(task["graph"], TranscriptSaver(pool))
    previous: Any = None
    wakeups = cast(Wakeups, request.app.state.wakeups)
    quiet = 0.0
    with wakeups.subscribe(tenant) as woken:
        while True:
            woken.clear()
            row = await tasks.get(pool, task_id, tenant=tenant)
            found = await run.checkpoints(
                pool, task_id, tenant=tenant, after=after, limit=BATCH, subgraphs=subgraphs
            )
            for checkpoint in found:
                ns = checkpoint["checkpoint_ns"]
                snap = await _at(graph, task_id, checkpoint["checkpoint_id"], ns)
                # The parent read now, not when it was new: its tasks' results (the writes
                # this step made) were still pending then.
                parent = None
                if snap.parent_config and ("updates" in modes or "messages-tuple" in modes):
                    parent = await graph.aget_state(snap.parent_config)
                for frame in _step(snap, parent, modes, checkpoint["seq"], ns):
                    yield frame
                if not ns:
                    previous = snap
                after = checkpoint["seq"]
            if found:
                quiet = 0.0
                continue
            if TaskState(row["state"]) in SETTLED:
                for frame in _last(row, previous, modes, after):
                    yield frame
                return
            try:
                await asyncio.wait_for(woken.wait(), POLL_S)
            except TimeoutError:
                quiet += POLL_S
            if quiet >= HEARTBEAT_S:
                quiet = 0.0
                yield ServerSentEvent(comment="heartbeat")


async def _at(graph: Any, task_id: uuid.UUID, checkpoint_id: str | None, ns: str = "") -> Any:
    configurable: dict[str, Any] = {"thread_id": str(task_id), "checkpoint_ns": ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return await graph.aget_state({"configurable": configurable})


def _step(
    snap: Any, previous: Any, modes: list[str], seq: int, ns: str = ""
) -> list[ServerSentEvent]:
    """The frames of one checkpoint; the id rides on the last, so a resume never skips one.
    A subgraph's frames are named `mode|namespace`, as LangGraph names them."""
    source = (snap.metadata or {}).get("source")
    if source in NOT_A_STEP:
        return []
    out: list[tuple[str, Any]] = []
    if "updates" in modes and previous is not None:
        updates = {
            t.name: to_json(t.result)
            for t in previous.tasks
            if t.result is not None and t.name != "__start__"
        }
        if updates:
            out.append(("updates", updates))
    if "messages-tuple" in modes and previous is not None:
        out.extend(("messages", pair) for pair in _messages(previous, snap))
    if "values" in modes:
        out.append(("values", to_json(snap.values)))
    frames = [_frame(f"{event}|{ns}" if ns else event, data) for event, data in out]
    if frames:
        frames[-1].id = str(seq)
    return frames


def _messages(parent: Any, snap: Any) -> list[list[Any]]:
    """`messages-tuple`: each message a step's nodes returned, whole, as [message, metadata]
    (LangGraph's own stream sends a model's tokens as they come; these are not stored)."""
    step = (snap.metadata or {}).get("step")
    pairs: list[list[Any]] = []
    for task in parent.tasks:
        if task.name == "__start__":  # the input, not a message the run made
            continue
        result = task.result if isinstance(task.result, dict) else {}
        found = result.get("messages")
        for message in found if isinstance(found, list) else [found] if found else []:
            meta = {"langgraph_node": task.name, "langgraph_step": step}
            pairs.append([to_json(message), meta])
    return pairs


def _last(row: Row, previous: Any, modes: list[str], seq: int) -> list[ServerSentEvent]:
    """What a stopped run adds: its interrupts, or its error."""
    state = TaskState(row["state"])
    if state == TaskState.FAILED:
        error = row["error"] or {}
        return [_frame("error", {"error": error.get("type"), "message": error.get("message")})]
    if previous is not None and previous.interrupts and "updates" in modes:
        return [_frame("updates", {"__interrupt__": interrupts_of(previous)})]
    return []
