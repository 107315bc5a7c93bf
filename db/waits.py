"""Waits on people: record them (worker, fenced), decide them (API), expire them (reaper), list
them (the approvals inbox)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg.types.json import Jsonb

from db import tasks
from db.connect import Db, Row, fetch_all, fetch_one, transaction
from db.errors import Conflict, LeaseLost, NotFound

Kind = Literal["approval", "input"]
Decision = Literal["approved", "rejected", "answered"]
WAITING = ("waiting_for_approval", "waiting_for_input")


@dataclass(frozen=True)
class NewWait:
    """One interrupt a run stopped on: LangGraph's interrupt id and what it asks."""

    interrupt_id: str
    kind: Kind
    payload: Any
    timeout_s: float | None = None
    on_timeout: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "interrupt_id": self.interrupt_id,
            "kind": self.kind,
            "payload": self.payload,
            "timeout_s": self.timeout_s,
            "on_timeout": self.on_timeout,
        }


async def park(
    db: Db,
    worker_id: uuid.UUID,
    task_id: uuid.UUID,
    epoch: int,
    waits: list[NewWait],
    *,
    default_timeout_s: float,
) -> str:
    """Record the waits and park the task (releasing its lease). Returns the waiting state."""
    row = await fetch_one(
        db,
        "waits_park",
        {
            "worker_id": worker_id,
            "task_id": task_id,
            "epoch": epoch,
            "kinds": [w.kind for w in waits],
            "waits": Jsonb([w.as_json() for w in waits]),
            "default_timeout_s": default_timeout_s,
        },
    )
    if row is None:
        raise LeaseLost(task_id, epoch)
    return str(row["state"])


async def answers(db: Db, task_id: uuid.UUID, interrupt_ids: list[str]) -> dict[str, Any]:
    """Interrupt id -> resume value, for the interrupts among `interrupt_ids` already answered."""
    rows = await fetch_all(
        db, "waits_answers", {"task_id": task_id, "interrupt_ids": interrupt_ids}
    )
    return {r["interrupt_id"]: r["value"] for r in rows}


async def list_for_task(db: Db, task_id: uuid.UUID, *, tenant: str) -> list[Row]:
    return await fetch_all(db, "waits_list_for_task", {"task_id": task_id, "tenant": tenant})


async def decide(
    db: Db,
    task_id: uuid.UUID,
    *,
    tenant: str,
    kind: Kind,
    decision: Decision,
    value: Any | Callable[[Row], Any],
    wait_id: uuid.UUID | None = None,
    decided_by: str | None = None,
    comment: str | None = None,
) -> tuple[Row, Row]:
    """Give one open wait of `kind` its decision; return (the decided wait, the task after it).

    `value` is the resume value, or a function of the chosen wait that builds it (and may raise
    to refuse it: the transaction rolls back and nothing is written). Raises NotFound (no task,
    or no such wait), Conflict (the task is not waiting, the wait was already decided, or
    several waits are open and `wait_id` does not say which).
    """
    async with transaction(db) as conn:
        locked = await tasks.lock_for_decision(conn, task_id, tenant=tenant)
        if locked is None:
            raise NotFound("task", task_id)
        wait = _choose(
            await list_for_task(conn, task_id, tenant=tenant), kind, wait_id, locked["state"]
        )
        task = await fetch_one(
            conn,
            "waits_decide",
            {
                "task_id": task_id,
                "tenant": tenant,
                "wait_id": wait["id"],
                "decision": decision,
                "value": Jsonb(value(wait) if callable(value) else value),
                "decided_by": decided_by,
                "comment": comment,
                "from_state": locked["state"],
            },
        )
        if task is None:  # unreachable under the row lock; kept as the compare-and-set's guard
            raise Conflict("the wait was decided concurrently", state=locked["state"])
        return task.pop("decided_wait"), task


def _choose(waits: list[Row], kind: Kind, wait_id: uuid.UUID | None, state: str) -> Row:
    if state not in WAITING:
        raise Conflict(f"the task is {state}, not waiting for a person", state=state)
    if wait_id is not None:
        chosen = [w for w in waits if w["id"] == wait_id]
        if not chosen:
            raise NotFound("wait", wait_id)
        if chosen[0]["decided_at"] is not None:
            raise Conflict(
                f"wait {wait_id} was already decided ({chosen[0]['decision']})", state=state
            )
        if chosen[0]["kind"] != kind:
            raise Conflict(f"wait {wait_id} asks for {chosen[0]['kind']}, not {kind}", state=state)
        return chosen[0]
    open_ = [w for w in waits if w["decided_at"] is None and w["kind"] == kind]
    if not open_:
        raise Conflict(f"the task has no open {kind} wait", state=state)
    if len(open_) > 1:
        ids = ", ".join(str(w["id"]) for w in open_)
        raise Conflict(
            f"{len(open_)} {kind} waits are open ({ids}); say which with wait_id", state=state
        )
    return open_[0]


async def list_open(
    db: Db,
    *,
    tenant: str,
    limit: int,
    graph: str | None = None,
    kind: Kind | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[Row]:
    return await fetch_all(
        db,
        "waits_list_open",
        {
            "tenant": tenant,
            "graph": graph,
            "kind": kind,
            "after_created_at": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
        },
    )


async def lock_expired(db: Db, *, batch: int) -> list[uuid.UUID]:
    """Inside a transaction: lock up to `batch` waiting tasks that have an expired open wait."""
    return [r["id"] for r in await fetch_all(db, "waits_lock_expired", {"batch": batch})]


async def expire(db: Db, *, batch: int) -> dict[str, int]:
    """One batch of wait timeouts; counts by the state each task went to."""
    async with transaction(db) as conn:
        locked = await lock_expired(conn, batch=batch)
        if not locked:
            return {}
        rows = await fetch_all(conn, "waits_expire", {"task_ids": locked})
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return counts
