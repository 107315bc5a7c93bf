"""The two-phase tool ledger (db/queries/tool_call.sql): an intent before a tool runs, its
outcome after. Every write is fenced by the lease and raises LeaseLost when the lease is gone,
having written nothing. Arguments and results come as JSON-ready values (db knows no tools)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from psycopg.types.json import Jsonb

from db.connect import Db, fetch_one
from db.errors import LeaseLost
from db.llm_call import ReplaySource

Decision = Literal["retry", "skip", "done"]


@dataclass(frozen=True)
class Intent:
    """A tool call about to run: where it sits (`step_key`, `seq`), what it is, and its key."""

    step_key: str
    seq: int
    tool: str
    idempotent: bool
    key: str
    digest: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Begun:
    """`outcome` 'started': run the tool, then finish `call_id`; 'recorded': the call has an
    outcome (`status` completed / failed / skipped, with `result` or `error`), reuse it;
    'unknown': a non-idempotent call was in flight at a crash, a person must decide;
    'mismatch': the key was used before with other arguments."""

    outcome: Literal["started", "recorded", "unknown", "mismatch"]
    call_id: int | None
    status: str | None
    result: Any
    error: str | None


async def begin(
    db: Db,
    task_id: uuid.UUID,
    epoch: int,
    intent: Intent,
    *,
    decision: Decision | None = None,
    result: Any = None,
) -> Begun:
    params = {
        "task_id": task_id,
        "epoch": epoch,
        "step_key": intent.step_key,
        "seq": intent.seq,
        "tool": intent.tool,
        "idempotent": intent.idempotent,
        "key": intent.key,
        "digest": intent.digest,
        "arguments": Jsonb(intent.arguments),
        "decision": decision,
        "result": Jsonb(result),
    }
    row = await fetch_one(db, "tool_call_begin", params)
    if row is None:
        raise LeaseLost(task_id, epoch)
    return Begun(row["outcome"], row["id"], row["status"], row["result"], row["error"])


async def replay(
    db: Db, task_id: uuid.UUID, epoch: int, intent: Intent, source: ReplaySource
) -> Begun | None:
    """In a replay: the original task's outcome of this call, recorded as this task's, when the
    replay has not reached `source.from_call` yet and the original made the same call; None when
    the tool must run (then `begin`, which raises LeaseLost when the lease is gone)."""
    params = {
        "task_id": task_id,
        "epoch": epoch,
        "step_key": intent.step_key,
        "seq": intent.seq,
        "tool": intent.tool,
        "idempotent": intent.idempotent,
        "key": intent.key,
        "digest": intent.digest,
        "arguments": Jsonb(intent.arguments),
        "source_id": source.task_id,
        "from_call": source.from_call,
    }
    row = await fetch_one(db, "tool_call_replay", params)
    if row is None:
        return None
    return Begun("recorded", row["id"], row["status"], row["result"], row["error"])


async def finish(
    db: Db,
    task_id: uuid.UUID,
    epoch: int,
    call_id: int,
    *,
    result: Any = None,
    error: str | None = None,
) -> None:
    """The outcome of the intent `call_id`: 'failed' with `error` when given, else 'completed'
    with `result`."""
    params = {
        "task_id": task_id,
        "epoch": epoch,
        "call_id": call_id,
        "status": "failed" if error is not None else "completed",
        "result": None if error is not None else Jsonb(result),
        "error": error,
    }
    if await fetch_one(db, "tool_call_finish", params) is None:
        raise LeaseLost(task_id, epoch)
