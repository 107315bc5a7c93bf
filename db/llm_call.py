"""The LLM-call journal (db/queries/llm_call.sql): begin a model call (or find it already
recorded), finish it with its response, usage and cost, and a task's figures. Every write is
fenced by the lease and raises LeaseLost when the lease is gone, having written nothing.

The model types are not known here (db imports nothing of outlast): requests and responses come
as JSON-ready values, usage and cost as plain numbers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from psycopg.types.json import Jsonb

from db import transcripts
from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import LeaseLost
from db.transcripts import Node, marked


@dataclass(frozen=True)
class Key:
    """Where a call sits in the task: its node run (`step_key`) and its place in it (`seq`)."""

    step_key: str
    seq: int


@dataclass(frozen=True)
class Begun:
    """`outcome` 'reused': `response` is the recorded answer (JSON); 'started': call `call_id`
    was journaled as started. `interrupted` counts this key's calls found in flight at a crash."""

    outcome: Literal["reused", "started"]
    call_id: int
    response: Any
    interrupted: int


@dataclass(frozen=True)
class Finished:
    """How a call ended: 'completed' with its response (JSON), usage and cost, or 'failed'."""

    status: Literal["completed", "failed"]
    response: Any = None
    error: str | None = None
    provider: str | None = None
    model: str | None = None
    usage: dict[str, int] | None = None
    cost_micro_usd: int | None = None
    price: dict[str, str] | None = None
    price_source: str | None = None
    latency_ms: int | None = None


def _node_params(nodes: Sequence[tuple[Node, str]]) -> dict[str, list[Any]]:
    return {
        "node_digests": [n.digest for n, _ in nodes],
        "node_parents": [n.parent for n, _ in nodes],
        "node_positions": [n.position for n, _ in nodes],
        "node_encodings": [encoding for _, encoding in nodes],
        "node_contents": [n.content for n, _ in nodes],
    }


async def resolve_texts(db: Db, task_id: uuid.UUID, items: list[Any]) -> list[Any]:
    """`items` (JSON objects: messages, responses) with a `content` that is a text marker
    replaced by the text (db/transcripts.py), read in the task's tenant."""
    digests = {d for item in items if isinstance(item, dict) and (d := marked(item.get("content")))}
    if not digests:
        return items
    texts = await transcripts.texts(db, task_id, digests)
    return [
        {**item, "content": texts[d]}
        if isinstance(item, dict) and (d := marked(item.get("content")))
        else item
        for item in items
    ]


USAGE_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


async def begin(
    db: Db,
    task_id: uuid.UUID,
    epoch: int,
    key: Key,
    digest: str,
    request: Any,
    nodes: Sequence[tuple[Node, str]] = (),
) -> Begun:
    """`request` is the JSON stored in the call's row; `nodes` (each with its encoding) are the
    transcript nodes it refers to that are not known to be stored yet: stored with the row,
    in the same fenced statement."""
    params = {
        "task_id": task_id,
        "epoch": epoch,
        "step_key": key.step_key,
        "seq": key.seq,
        "digest": digest,
        "request": Jsonb(request),
        **_node_params(nodes),
    }
    row = await fetch_one(db, "llm_call_begin", params)
    if row is None:
        raise LeaseLost(task_id, epoch)
    return Begun(row["outcome"], row["id"], row["response"], row["interrupted"])


async def finish(
    db: Db,
    task_id: uuid.UUID,
    epoch: int,
    call_id: int,
    end: Finished,
    nodes: Sequence[tuple[Node, str]] = (),
) -> None:
    """`nodes`: the transcript nodes the response refers to (its text), stored with it."""
    usage = end.usage or {}
    response = _without_columns(end)
    params: dict[str, Any] = {
        "task_id": task_id,
        "epoch": epoch,
        "call_id": call_id,
        "status": end.status,
        "response": None if response is None else Jsonb(response),
        "error": end.error,
        "provider": end.provider,
        "model": end.model,
        "cost_micro_usd": end.cost_micro_usd,
        "price": None if end.price is None else Jsonb(end.price),
        "price_source": end.price_source,
        "latency_ms": end.latency_ms,
        **_node_params(nodes),
    }
    params.update({column: usage.get(column) for column in USAGE_COLUMNS})
    if await fetch_one(db, "llm_call_finish", params) is None:
        raise LeaseLost(task_id, epoch)


def _without_columns(end: Finished) -> Any:
    """The response as its row stores it: without the provider, model, latency and usage that
    the row's columns hold (a read puts them back into a response without `provider`,
    db/queries/llm_call.sql), or whole when any of them differs from its column."""
    response = end.response
    columns = {
        "provider": end.provider,
        "model": end.model,
        "latency_ms": end.latency_ms,
        "usage": end.usage,
    }
    if (
        not isinstance(response, dict)
        or end.provider is None
        or set(end.usage or {}) != set(USAGE_COLUMNS)
        or any(response.get(k) != v for k, v in columns.items())
    ):
        return response
    return {k: v for k, v in response.items() if k not in columns}


async def figures(db: Db, task_id: uuid.UUID, *, tenant: str) -> Row | None:
    """Calls, tokens, cost (micro-USD), unpriced calls and calls in flight at a crash; None
    when the tenant has no such task."""
    return await fetch_one(db, "llm_call_figures", {"task_id": task_id, "tenant": tenant})


async def list_(
    db: Db, task_id: uuid.UUID, *, tenant: str, after_id: int = 0, limit: int = 1000
) -> list[Row]:
    """A task's calls after call `after_id`, oldest first, at most `limit`."""
    params = {"task_id": task_id, "tenant": tenant, "after_id": after_id, "limit": limit}
    rows = await fetch_all(db, "llm_call_list", params)
    responses = await resolve_texts(db, task_id, [row["response"] for row in rows])
    return [{**row, "response": response} for row, response in zip(rows, responses, strict=True)]


@dataclass(frozen=True)
class ReplaySource:
    """What a replay reuses: the original task's calls numbered below `from_call`."""

    task_id: uuid.UUID
    from_call: int


async def replay(
    db: Db,
    task_id: uuid.UUID,
    epoch: int,
    key: Key,
    digest: str,
    request: Any,
    source: ReplaySource,
) -> Begun | None:
    """In a replay: the original's response for this call, recorded as this task's call, when
    the call's number is below `source.from_call`; None when the model must be called (then
    `begin`). Fenced: None too when the lease is lost, and `begin` raises LeaseLost."""
    params = {
        "task_id": task_id,
        "epoch": epoch,
        "step_key": key.step_key,
        "seq": key.seq,
        "digest": digest,
        "request": Jsonb(request),
        "source_id": source.task_id,
        "from_call": source.from_call,
    }
    row = await fetch_one(db, "llm_call_replay", params)
    if row is None:
        return None
    return Begun("reused", row["id"], row["response"], 0)


async def steps(db: Db, task_id: uuid.UUID, *, tenant: str) -> list[Row]:
    """A tenant's task's calls summed per step, oldest step first (empty for another tenant's
    task or a task without calls)."""
    return await fetch_all(db, "llm_call_steps", {"task_id": task_id, "tenant": tenant})


async def agent_usage(db: Db, agent: str, *, tenant: str) -> list[Row]:
    """A tenant's agent's calls summed per version, provider and model."""
    return await fetch_all(db, "llm_call_agent_usage", {"agent": agent, "tenant": tenant})


async def compare(db: Db, task_id: uuid.UUID, *, tenant: str) -> list[Row]:
    """A tenant's task, then its replays, each with its outcome and summed calls; empty when
    the tenant has no such task."""
    return await fetch_all(db, "llm_call_compare", {"task_id": task_id, "tenant": tenant})
