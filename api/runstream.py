"""A run's stream in the LangGraph Platform API's framing, read from Postgres rows (ADR 0018,
ADR 0027).

A run's stream is an offset into its checkpoints (checkpoint_order.seq, written by the fenced
saver with each checkpoint): ADR 0015's design, on the rows a run writes at every step. The
worker runs with `durability="sync"`, so each superstep is a checkpoint before the next starts;
`values` is the state at a checkpoint, `updates` the writes of the tasks that ran into it (its
parent's tasks' results). A worker killed mid-run writes nothing more; the resumed attempt
continues from the last checkpoint and its checkpoints follow in the same stream, so the
stream carries on instead of failing.

Two more row sources ride between the checkpoints (ADR 0027): what nodes wrote to LangGraph's
stream writer (stream_chunks, mode `custom`) and the token deltas of running model calls
(llm_deltas, ADR 0022: `messages-tuple` and `messages` token by token, `events`'
on_chat_model_stream). Each row names the checkpoint it came after (`after_seq`), so it is sent
after that checkpoint's frames and before the next one's, live while its step runs. Three id
sequences, so a frame's SSE id is the position `S.C.D` (last checkpoint seq, last chunk id,
last delta id sent); `Last-Event-ID` resumes all three, on any replica (a plain `S` resumes the
checkpoints and replays the chunks and the deltas still kept).

Frames: `metadata` first ({"run_id", "attempt"}), then one event per mode, `error` when the run
fails, and a comment every HEARTBEAT_S while nothing happens. The stream ends when the run has
stopped (ended, or waits on a person) and every row before that was sent.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

from fastapi import Header, Request
from langchain_core.messages import AIMessageChunk
from sse_starlette import ServerSentEvent

from api.platform import POLL_S, SETTLED, interrupts_of
from api.streams import Wakeups, token_key
from db import llm_delta, run, stream_chunk, tasks
from db.connect import Pool, Row
from db.saver import TranscriptSaver
from db.states import TaskState
from outlast.jsonsafe import to_json
from outlast.registry import Registry

HEARTBEAT_S = 10.0
BATCH = 100  # checkpoints (chunks, deltas) per read
SERVED_MODES = ("values", "updates", "messages-tuple", "messages", "custom", "events")
CHUNK_MODES = frozenset({"custom"})  # modes that read stream_chunks
TOKEN_MODES = frozenset({"messages-tuple", "messages", "events"})  # modes that read llm_deltas
PARENT_MODES = frozenset({"updates", "messages-tuple", "messages", "events"})  # read its writes
# Checkpoints that are not a step of the run: the input before it is applied, and the copy of
# the thread's state a run on a named thread starts from (worker/executor.py).
NOT_A_STEP = ("input", "fork")

RunLastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        pattern=r"^(-1|[0-9]{1,18}(\.[0-9]{1,18}){0,2})$",
        description="Resume after this frame: `S.C.D` as the stream's frame ids carry it (last"
        " checkpoint seq, stream-writer chunk and token delta sent), or `S`; `-1` (what the JS"
        " SDK's useStream sends to rejoin a run from its start) is the whole stream.",
    ),
]


@dataclass
class Position:
    """Where a run's stream is: the last checkpoint seq, chunk id and delta id sent."""

    seq: int = 0
    chunk: int = 0
    delta: int = 0

    @classmethod
    def parse(cls, text: str | int | None) -> Position:
        parts = [int(p) for p in str(text or 0).split(".")] + [0, 0]
        return cls(parts[0], parts[1], parts[2])

    def __str__(self) -> str:
        return f"{self.seq}.{self.chunk}.{self.delta}"


def modes_of(stream_mode: str | list[str] | None) -> list[str]:
    if stream_mode is None:
        return ["values"]
    return [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)


def _frame(event: str, data: Any, event_id: Position | None = None) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(data, default=str),
        event=event,
        id=None if event_id is None else str(event_id),
    )


@dataclass
class _Extra:
    """A row sent between checkpoints: a stream-writer chunk or a token delta."""

    kind: str  # "chunk" | "delta"
    row: Row

    @property
    def key(self) -> tuple[int, Any]:
        return (self.row["after_seq"], self.row["at"])


@dataclass
class _Calls:
    """Per stream: the text each model call has streamed so far (mode `messages` sends the
    message so far), and the calls whose metadata was sent."""

    text: dict[str, str] = field(default_factory=dict)


async def frames(
    request: Request,
    pool: Pool,
    registry: Registry,
    task: Row,
    modes: list[str],
    *,
    tenant: str,
    after: str | int | None = None,
    subgraphs: bool = False,
) -> AsyncIterator[ServerSentEvent]:
    """The run's frames after the position `after`, until it stops."""
    task_id: uuid.UUID = task["id"]
    if str(after) == "-1":  # the whole stream, as no Last-Event-ID
        after = None
    pos = Position.parse(after)
    yield _frame("metadata", {"run_id": str(task_id), "attempt": task["attempts"]})
    if "events" in modes and after is None:
        yield _frame("events", _run_event("on_chain_start", task, {"input": task["input"]}))
    graph = registry.compiled(task["graph"], TranscriptSaver(pool))
    previous: Any = None
    calls = _Calls()
    wakeups = cast(Wakeups, request.app.state.wakeups)
    quiet = 0.0
    woken = asyncio.Event()
    with wakeups.subscribe(tenant, woken), wakeups.subscribe(token_key(task_id), woken):
        while True:
            woken.clear()
            row = await tasks.get(pool, task_id, tenant=tenant)
            # Chunks and deltas first: a row read names a checkpoint already committed, so the
            # checkpoints read next hold every one a row read must follow.
            extras, cut = await _extras(
                pool, task_id, modes, pos, tenant=tenant, subgraphs=subgraphs
            )
            found = await run.checkpoints(
                pool, task_id, tenant=tenant, after=pos.seq, limit=BATCH, subgraphs=subgraphs
            )
            sent = False
            # Rows go out up to `bound`: every checkpoint they must precede has been read.
            bound = None if len(found) < BATCH else found[-1]["seq"]
            for checkpoint in found:
                if cut is not None and checkpoint["seq"] > cut:
                    # Rows not read yet (a batch was full) may come before this checkpoint.
                    bound = checkpoint["seq"] - 1
                    break
                while extras and extras[0].row["after_seq"] < checkpoint["seq"]:
                    for frame in _extra(extras.pop(0), modes, pos, calls, subgraphs):
                        yield frame
                    sent = True
                ns = checkpoint["checkpoint_ns"]
                snap = await _at(graph, task_id, checkpoint["checkpoint_id"], ns)
                # The parent read now, not when it was new: its tasks' results (the writes
                # this step made) were still pending then.
                parent = None
                if snap.parent_config and PARENT_MODES.intersection(modes):
                    parent = await graph.aget_state(snap.parent_config)
                pos.seq = checkpoint["seq"]
                for frame in _step(snap, parent, modes, pos, ns):
                    yield frame
                if not ns:
                    previous = snap
                sent = True
            for extra in extras:
                if bound is not None and extra.row["after_seq"] > bound:
                    break
                for frame in _extra(extra, modes, pos, calls, subgraphs):
                    yield frame
                sent = True
            if sent:
                quiet = 0.0
                continue
            if TaskState(row["state"]) in SETTLED:
                for frame in _last(row, previous, modes):
                    yield frame
                return
            try:
                await asyncio.wait_for(woken.wait(), POLL_S)
            except TimeoutError:
                quiet += POLL_S
            if quiet >= HEARTBEAT_S:
                quiet = 0.0
                yield ServerSentEvent(comment="heartbeat")


async def _extras(
    pool: Pool,
    task_id: uuid.UUID,
    modes: list[str],
    pos: Position,
    *,
    tenant: str,
    subgraphs: bool,
) -> tuple[list[_Extra], int | None]:
    """The chunks and deltas after the position, in stream order, and, when a read was cut at
    its limit, the lowest `after_seq` its last row had (rows not read yet come after it)."""
    found: list[_Extra] = []
    cuts: list[int] = []
    if CHUNK_MODES.intersection(modes):
        rows = await stream_chunk.run(
            pool, task_id, tenant=tenant, after=pos.chunk, limit=BATCH, subgraphs=subgraphs
        )
        found.extend(_Extra("chunk", r) for r in rows)
        if len(rows) >= BATCH:
            cuts.append(rows[-1]["after_seq"])
    if TOKEN_MODES.intersection(modes):
        rows = await llm_delta.run(pool, task_id, tenant=tenant, after=pos.delta, limit=BATCH)
        found.extend(_Extra("delta", r) for r in rows)
        if len(rows) >= BATCH:
            cuts.append(rows[-1]["after_seq"])
    found.sort(key=lambda e: e.key)
    if cuts:  # the other source's rows past the cut wait too
        found = [e for e in found if e.row["after_seq"] <= min(cuts)]
    return found, min(cuts) if cuts else None


def _extra(
    extra: _Extra, modes: list[str], pos: Position, calls: _Calls, subgraphs: bool
) -> list[ServerSentEvent]:
    """One chunk's or delta's frames, the last carrying the position after it. A delta is sent
    in the first token mode asked only (`messages-tuple`, `messages` or `events`)."""
    row = extra.row
    if extra.kind == "chunk":
        pos.chunk = row["id"]
        ns = row["namespace"]
        return [_frame(f"custom|{ns}" if ns else "custom", row["data"], pos)]
    pos.delta = row["id"]
    meta, ns = _call_metadata(row)
    message_id = f"outlast-call-{row['call_id']}-{row['attempt']}"
    chunk = to_json(AIMessageChunk(content=row["text"], id=message_id))
    suffix = f"|{ns}" if ns and subgraphs else ""
    mode = next(m for m in modes if m in TOKEN_MODES)
    if mode == "messages-tuple":
        return [_frame(f"messages{suffix}", [chunk, meta], pos)]
    if mode == "messages":
        so_far = calls.text.get(message_id)
        calls.text[message_id] = (so_far or "") + row["text"]
        whole = to_json(AIMessageChunk(content=calls.text[message_id], id=message_id))
        partial = _frame(f"messages/partial{suffix}", [whole], pos)
        if so_far is not None:
            return [partial]
        # A message's metadata first, once per stream, as LangGraph sends it.
        return [_frame(f"messages/metadata{suffix}", {message_id: {"metadata": meta}}), partial]
    event = {
        "event": "on_chat_model_stream",
        "name": "call_model",
        "run_id": message_id,
        "tags": [],
        "metadata": meta,
        "data": {"chunk": chunk},
        "parent_ids": [],
    }
    return [_frame(f"events{suffix}", event, pos)]


def _call_metadata(row: Row) -> tuple[dict[str, Any], str]:
    """LangGraph's metadata of a model call's chunk, from its journal step key
    (`<step>:<checkpoint namespace>`), and the namespace of the graph the node is in."""
    step, _, checkpoint_ns = str(row["step_key"]).partition(":")
    *parents, own = checkpoint_ns.split("|")
    meta = {
        "langgraph_step": int(step) if step.isdigit() else None,
        "langgraph_node": own.partition(":")[0],
        "langgraph_checkpoint_ns": checkpoint_ns,
        "checkpoint_ns": checkpoint_ns,
    }
    return meta, "|".join(parents)


async def _at(graph: Any, task_id: uuid.UUID, checkpoint_id: str | None, ns: str = "") -> Any:
    configurable: dict[str, Any] = {"thread_id": str(task_id), "checkpoint_ns": ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return await graph.aget_state({"configurable": configurable})


def _step(
    snap: Any, previous: Any, modes: list[str], pos: Position, ns: str = ""
) -> list[ServerSentEvent]:
    """The frames of one checkpoint; the position rides on the last, so a resume never skips
    one. A subgraph's frames are named `mode|namespace`, as LangGraph names them."""
    source = (snap.metadata or {}).get("source")
    if source in NOT_A_STEP:
        return []
    out: list[tuple[str, Any]] = []
    if "events" in modes:
        out.extend(("events", e) for e in _node_events(snap, previous))
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
    if "messages" in modes and previous is not None:
        out.extend(("messages/complete", [m]) for m, _ in _messages(previous, snap))
    if "values" in modes:
        out.append(("values", to_json(snap.values)))
    frames = [_frame(f"{event}|{ns}" if ns else event, data) for event, data in out]
    if frames:
        frames[-1].id = str(pos)
    return frames


def _node_events(snap: Any, parent: Any) -> list[dict[str, Any]]:
    """`events`: astream_events v2's on_chain_end of each node that ran into this checkpoint
    (its input the state it started from, its output its writes), then on_chain_start of each
    node that runs next (its input this state)."""
    step = (snap.metadata or {}).get("step")
    found: list[dict[str, Any]] = []
    for t in parent.tasks if parent is not None else ():
        if t.name == "__start__" or t.result is None:
            continue
        data = {"input": to_json(parent.values), "output": to_json(t.result)}
        found.append(_node_event("on_chain_end", t, step, data))
    for t in snap.tasks:
        found.append(
            _node_event("on_chain_start", t, (step or 0) + 1, {"input": to_json(snap.values)})
        )
    return found


def _node_event(name: str, task: Any, step: Any, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": name,
        "name": task.name,
        "run_id": task.id,
        "tags": [f"graph:step:{step}"],
        "metadata": {"langgraph_step": step, "langgraph_node": task.name},
        "data": data,
        "parent_ids": [],
    }


def _run_event(name: str, task: Row, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": name,
        "name": task["agent"] or task["graph"],  # the assistant id, as runs show it
        "run_id": str(task["id"]),
        "tags": [],
        "metadata": {},
        "data": data,
        "parent_ids": [],
    }


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
            pairs.append([_langchain(to_json(message)), meta])
    return pairs


ROLE_TYPES = {"assistant": "ai", "user": "human", "system": "system", "tool": "tool"}


def _langchain(message: Any) -> Any:
    """A message as LangChain's serialized shape, which the SDK's clients read: an Outlast
    message (outlast.models.messages: `role`, `content`, `tool_calls`) is mapped; a LangChain
    message (it has `type`) is as it is."""
    if not isinstance(message, dict) or "type" in message or message.get("role") not in ROLE_TYPES:
        return message
    out: dict[str, Any] = {
        "type": ROLE_TYPES[message["role"]],
        "content": message.get("content", ""),
        "id": message.get("id"),
    }
    if message["role"] == "assistant":
        out["tool_calls"] = [
            {
                "name": c.get("name"),
                "args": c.get("args") or {},
                "id": c.get("id"),
                "type": "tool_call",
            }
            for c in message.get("tool_calls") or []
        ]
    if message["role"] == "tool":
        out["tool_call_id"] = message.get("tool_call_id")
        out["status"] = "error" if message.get("is_error") else "success"
    return out


def _last(row: Row, previous: Any, modes: list[str]) -> list[ServerSentEvent]:
    """What a stopped run adds: its interrupts, or its error; `events` the run's on_chain_end."""
    state = TaskState(row["state"])
    found: list[ServerSentEvent] = []
    if state == TaskState.FAILED:
        error = row["error"] or {}
        found.append(_frame("error", {"error": error.get("type"), "message": error.get("message")}))
    elif previous is not None and previous.interrupts and "updates" in modes:
        found.append(_frame("updates", {"__interrupt__": interrupts_of(previous)}))
    if "events" in modes and state == TaskState.COMPLETED:
        output = to_json(previous.values) if previous is not None else row["result"]
        found.append(_frame("events", _run_event("on_chain_end", row, {"output": output})))
    return found
