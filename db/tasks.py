"""Tasks as the API sees them: submit, read, list, cancel; the two ways a finished thread goes on
(follow-up and fork); the decision lock of a waiting task; retention."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import Conflict, IdempotencyMismatch, NotFound


@dataclass(frozen=True)
class NewTask:
    graph: str
    input: dict[str, Any]
    max_attempts: int
    metadata: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    run_at: datetime | None = None
    timeout_s: int | None = None
    wait_timeout_s: int | None = None
    on_wait_timeout: str | None = None
    # A task submitted to an agent: its name and the version it pins (`graph` is the agent's).
    agent: str | None = None
    agent_version: int | None = None
    # The named thread to run on (ADR 0018); None: a thread of its own (id = the task id).
    thread_id: uuid.UUID | None = None
    # A state update of a thread (UPDATE_STATE_INPUT as input): the values to apply (ADR 0018).
    resume_patch: dict[str, Any] | None = None

    def request_hash(self) -> str:
        """A digest of what the submit asked for: tells a replay from a different request."""
        body = json.dumps(
            {
                "graph": self.graph,
                "agent": self.agent,
                "input": self.input,
                # Not the trace context the API adds (outlast.traces): a client's retry of the
                # same request comes with a new one, and is still the same request.
                "metadata": {k: v for k, v in self.metadata.items() if k != "traceparent"},
                "priority": self.priority,
                "run_at": self.run_at.isoformat() if self.run_at else None,
                "max_attempts": self.max_attempts,
                "timeout_s": self.timeout_s,
                "wait_timeout_s": self.wait_timeout_s,
                "on_wait_timeout": self.on_wait_timeout,
                **({"thread_id": str(self.thread_id)} if self.thread_id else {}),
                **({"resume_patch": self.resume_patch} if self.resume_patch else {}),
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(body.encode()).hexdigest()


# The input of a task that only updates its thread's state (POST /threads/{id}/state): the
# worker applies its resume_patch to the thread's state and ends, running no node (ADR 0018).
UPDATE_STATE_INPUT: dict[str, Any] = {"outlast_update_state": True}


def state_update_input(as_node: str | None) -> dict[str, Any]:
    """A state update's input: its patch applied as if written by the node `as_node` (LangGraph's
    update_state), so the thread's next nodes are that node's successors."""
    return UPDATE_STATE_INPUT if as_node is None else {**UPDATE_STATE_INPUT, "as_node": as_node}


def is_state_update(graph_input: Any) -> bool:
    return isinstance(graph_input, dict) and graph_input.get("outlast_update_state") is True


def state_update_node(graph_input: Any) -> str | None:
    """The node a state update is applied as (None: LangGraph's default, the last writer)."""
    node = graph_input.get("as_node") if is_state_update(graph_input) else None
    return node if isinstance(node, str) else None


async def insert(
    db: Db, task: NewTask, *, tenant: str, idempotency_key: str | None = None
) -> tuple[Row, bool]:
    """Submit `task` for `tenant`; return (row, created). With a key the tenant used before: the
    earlier task and False, or IdempotencyMismatch if that key was used for a different request."""
    digest = task.request_hash()
    params = {
        "tenant": tenant,
        "graph": task.graph,
        "agent": task.agent,
        "pinned_version": task.agent_version,
        "input": Jsonb(task.input),
        "metadata": Jsonb(task.metadata),
        "priority": task.priority,
        "run_at": task.run_at,
        "max_attempts": task.max_attempts,
        "timeout_s": task.timeout_s,
        "wait_timeout_s": task.wait_timeout_s,
        "on_wait_timeout": task.on_wait_timeout,
        "idempotency_key": idempotency_key,
        "request_hash": digest,
        "thread_id": task.thread_id,
        "resume_patch": Jsonb(task.resume_patch) if task.resume_patch is not None else None,
    }
    row = await fetch_one(db, "tasks_insert", params)
    if row is not None:
        return row, True
    if idempotency_key is None:  # nothing else keeps a submit out: its thread is not the tenant's
        raise NotFound("thread", task.thread_id)
    existing = await get_by_idempotency_key(db, idempotency_key, tenant=tenant)
    if existing is None:  # the key's task was deleted between the two statements (retention)
        raise Conflict(f"Idempotency-Key {idempotency_key!r} is being reused; retry")
    if existing["request_hash"] != digest:
        raise IdempotencyMismatch(
            f"Idempotency-Key {idempotency_key!r} was already used with a different request body"
        )
    return existing, False


async def get_by_idempotency_key(db: Db, idempotency_key: str | None, *, tenant: str) -> Row | None:
    """The task the tenant's Idempotency-Key already created, if it is still kept."""
    return await fetch_one(
        db,
        "tasks_get_by_idempotency_key",
        {"tenant": tenant, "idempotency_key": idempotency_key},
    )


async def get(db: Db, task_id: uuid.UUID, *, tenant: str) -> Row:
    """One of `tenant`'s tasks; NotFound for an unknown id and for another tenant's task alike."""
    row = await fetch_one(db, "tasks_get", {"task_id": task_id, "tenant": tenant})
    if row is None:
        raise NotFound("task", task_id)
    return row


async def list_(
    db: Db,
    *,
    tenant: str,
    limit: int,
    state: str | None = None,
    graph: str | None = None,
    before: tuple[datetime, uuid.UUID] | None = None,
    agent: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    text: str | None = None,
) -> list[Row]:
    return await fetch_all(
        db,
        "tasks_list",
        {
            "tenant": tenant,
            "state": state,
            "graph": graph,
            "agent": agent,
            "created_after": created_after,
            "created_before": created_before,
            "text": text,
            "before_created_at": before[0] if before else None,
            "before_id": before[1] if before else None,
            "limit": limit,
        },
    )


async def events_list(
    db: Db, task_id: uuid.UUID, *, tenant: str, after_id: int, limit: int
) -> list[Row]:
    await get(db, task_id, tenant=tenant)
    return await fetch_all(
        db,
        "tasks_events_list",
        {"tenant": tenant, "task_id": task_id, "after_id": after_id, "limit": limit},
    )


async def cancel(db: Db, task_id: uuid.UUID, *, tenant: str, reason: str | None = None) -> Row:
    """Cancel at once, or (running) request the worker to stop at its next node boundary.
    Raises NotFound, or Conflict when the task is finished or its cancel was already requested."""
    row = await fetch_one(
        db, "tasks_cancel", {"task_id": task_id, "tenant": tenant, "reason": reason}
    )
    if row is not None:
        return row
    current = await get(db, task_id, tenant=tenant)
    if current["cancel_requested"] and current["state"] == "running":
        raise Conflict(
            "cancel was already requested; the task stops at its next node boundary",
            state=current["state"],
        )
    raise Conflict(f"a {current['state']} task cannot be cancelled", state=current["state"])


async def insert_many(db: Db, batch: list[NewTask], *, tenant: str) -> list[Row]:
    """Submit every task in `batch` for `tenant` in one statement (all or none); rows in `batch`
    order. No Idempotency-Key: a batch is not replayable (submit singly for that)."""
    if not batch:
        return []
    params = {
        "tenant": tenant,
        "graphs": [t.graph for t in batch],
        "agents": [t.agent for t in batch],
        "agent_versions": [t.agent_version for t in batch],
        "inputs": [Jsonb(t.input) for t in batch],
        "metadatas": [Jsonb(t.metadata) for t in batch],
        "priorities": [t.priority for t in batch],
        "run_ats": [t.run_at for t in batch],
        "max_attempts": [t.max_attempts for t in batch],
        "timeouts_s": [t.timeout_s for t in batch],
        "wait_timeouts_s": [t.wait_timeout_s for t in batch],
        "on_wait_timeouts": [t.on_wait_timeout for t in batch],
    }
    return await fetch_all(db, "tasks_insert_many", params)


async def lock_for_decision(db: Db, task_id: uuid.UUID, *, tenant: str) -> Row | None:
    """Inside a transaction: lock the task row (id, state) before one of its waits is decided."""
    return await fetch_one(db, "tasks_lock_for_decision", {"task_id": task_id, "tenant": tenant})


async def follow_up(db: Db, task_id: uuid.UUID, graph_input: dict[str, Any], *, tenant: str) -> Row:
    """Queue a completed task again with new input on the same thread."""
    row = await fetch_one(
        db,
        "tasks_follow_up",
        {"task_id": task_id, "tenant": tenant, "input": Jsonb(graph_input)},
    )
    if row is not None:
        return row
    current = await get(db, task_id, tenant=tenant)
    raise Conflict(
        f"only a completed task takes a follow-up; this one is {current['state']}",
        state=current["state"],
    )


async def fork(
    db: Db,
    task_id: uuid.UUID,
    checkpoint_id: str,
    state_patch: dict[str, Any] | None,
    *,
    tenant: str,
) -> Row:
    """A new task resuming from `checkpoint_id` of `task_id`'s thread, with `state_patch`."""
    row = await fetch_one(
        db,
        "tasks_fork",
        {
            "task_id": task_id,
            "tenant": tenant,
            "checkpoint_id": checkpoint_id,
            "state_patch": Jsonb(state_patch) if state_patch else None,
        },
    )
    if row is not None:
        return row
    await get(db, task_id, tenant=tenant)
    raise NotFound("checkpoint", checkpoint_id)


async def replay(
    db: Db, task_id: uuid.UUID, *, tenant: str, from_call: int, overrides: dict[str, Any]
) -> Row:
    """A new task replaying the tenant's finished agent task `task_id` from its `from_call`-th
    model call, with `overrides` on the agent's spec. NotFound when the tenant has no such task;
    Conflict when it is not an agent task or not finished."""
    params = {
        "task_id": task_id,
        "tenant": tenant,
        "from_call": from_call,
        "overrides": Jsonb(overrides),
    }
    row = await fetch_one(db, "tasks_replay", params)
    if row is not None:
        return row
    source = await get(db, task_id, tenant=tenant)
    if source["agent"] is None:
        raise Conflict("only a task submitted to an agent can be replayed", state=source["state"])
    raise Conflict(
        f"only a finished task can be replayed; this one is {source['state']}",
        state=source["state"],
    )


async def prune_finished(
    db: Db, *, retention_s: float, dead_letter_retention_s: float, batch: int
) -> int:
    """Delete up to `batch` finished tasks older than the retention (and their threads), except
    those with a dead letter still kept (open, or closed within `dead_letter_retention_s`;
    0 keeps closed ones forever)."""
    row = await fetch_one(
        db,
        "tasks_prune_finished",
        {
            "retention_s": retention_s,
            "dead_letter_retention_s": dead_letter_retention_s,
            "batch": batch,
        },
    )
    return int(row["pruned"]) if row else 0
