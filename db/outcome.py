"""How an attempt ends, written by the worker that holds the lease. Every write here is fenced:
zero rows means the lease is lost (LeaseLost) and nothing was written."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from db.connect import Db, fetch_all, fetch_one
from db.errors import LeaseLost


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float
    max_s: float


# Characters Postgres refuses in text and jsonb: NUL, and lone surrogates (a str decoded with
# surrogateescape), which cannot even be encoded as UTF-8 for the wire.
_UNSTORABLE_CHARS = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` with every character Postgres refuses replaced by U+FFFD."""
    return _UNSTORABLE_CHARS.sub("\ufffd", text)


@dataclass(frozen=True)
class Failure:
    """An attempt's error. Its text is made storable when written (`as_json`), so recording a
    failure never fails on what the error says."""

    type: str
    message: str
    traceback: str | None
    retryable: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "type": storable_text(self.type),
            "message": storable_text(self.message),
            "traceback": None if self.traceback is None else storable_text(self.traceback),
            "retryable": self.retryable,
        }


@dataclass(frozen=True)
class Done:
    """A task a worker finished, with its result as JSON text."""

    task_id: uuid.UUID
    epoch: int
    result_json: str


async def complete_many(db: Db, worker_id: uuid.UUID, done: Sequence[Done]) -> set[uuid.UUID]:
    """Finish many tasks in one fenced statement. Returns the ids that landed; a task missing
    from the answer had lost its lease, and nothing was written for it."""
    rows = await fetch_all(
        db,
        "outcome_complete_many",
        {
            "worker_id": worker_id,
            "task_ids": [d.task_id for d in done],
            "epochs": [d.epoch for d in done],
            "results": [d.result_json for d in done],
        },
    )
    return {r["id"] for r in rows}


async def fail(
    db: Db,
    worker_id: uuid.UUID,
    task_id: uuid.UUID,
    epoch: int,
    failure: Failure,
    policy: RetryPolicy,
) -> tuple[str, datetime]:
    """Retry later or fail for good (with its dead letter). Returns (new state, run_at)."""
    row = await fetch_one(
        db,
        "outcome_fail",
        {
            "worker_id": worker_id,
            "task_id": task_id,
            "epoch": epoch,
            "error": Jsonb(failure.as_json()),
            "retryable": failure.retryable,
            "retry_base_s": policy.base_s,
            "retry_max_s": policy.max_s,
        },
    )
    if row is None:
        raise LeaseLost(task_id, epoch)
    return row["state"], row["run_at"]


async def cancel_ack(db: Db, worker_id: uuid.UUID, task_id: uuid.UUID, epoch: int) -> None:
    row = await fetch_one(
        db, "outcome_cancel_ack", {"worker_id": worker_id, "task_id": task_id, "epoch": epoch}
    )
    if row is None:
        raise LeaseLost(task_id, epoch)
