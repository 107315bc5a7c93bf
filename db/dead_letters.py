"""Dead letters: list, group, inspect, redrive (one, or by filter with a dry run and a cap),
resolve (close without a redrive)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import Conflict, NotFound

RedriveMode = Literal["last_checkpoint", "scratch", "checkpoint"]


@dataclass(frozen=True)
class Filter:
    """Which dead letters: always one tenant's, then optionally narrower."""

    tenant: str
    graph: str | None = None
    error_type: str | None = None
    task_id: uuid.UUID | None = None
    include_redriven: bool = False


async def list_(
    db: Db, where: Filter, *, limit: int, after: tuple[datetime, uuid.UUID] | None = None
) -> list[Row]:
    return await fetch_all(
        db,
        "dead_letters_list",
        {
            "tenant": where.tenant,
            "graph": where.graph,
            "error_type": where.error_type,
            "task_id": where.task_id,
            "include_redriven": where.include_redriven,
            "after_created_at": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
        },
    )


async def get(db: Db, dead_letter_id: uuid.UUID, *, tenant: str) -> Row:
    row = await fetch_one(
        db, "dead_letters_get", {"dead_letter_id": dead_letter_id, "tenant": tenant}
    )
    if row is None:
        raise NotFound("dead letter", dead_letter_id)
    return row


async def groups(db: Db, *, tenant: str) -> list[Row]:
    return await fetch_all(db, "dead_letters_groups", {"tenant": tenant})


async def redrive(
    db: Db,
    *,
    dead_letter_id: uuid.UUID | None,
    where: Filter,
    limit: int,
    mode: RedriveMode,
    checkpoint_id: str | None,
    max_attempts: int | None,
) -> list[Row]:
    return await fetch_all(
        db,
        "dead_letters_redrive",
        {
            "dead_letter_id": dead_letter_id,
            "tenant": where.tenant,
            "graph": where.graph,
            "error_type": where.error_type,
            "limit": limit,
            "mode": mode,
            "checkpoint_id": checkpoint_id,
            "max_attempts": max_attempts,
        },
    )


async def redrive_one(
    db: Db,
    dead_letter_id: uuid.UUID,
    *,
    tenant: str,
    mode: RedriveMode = "last_checkpoint",
    checkpoint_id: str | None = None,
    max_attempts: int | None = None,
) -> Row:
    """Queue the dead letter's task again. Conflict if it was already redriven (exactly one of
    two concurrent redrives wins)."""
    rows = await redrive(
        db,
        dead_letter_id=dead_letter_id,
        where=Filter(tenant=tenant),
        limit=1,
        mode=mode,
        checkpoint_id=checkpoint_id,
        max_attempts=max_attempts,
    )
    if rows:
        return rows[0]
    raise _closed(await get(db, dead_letter_id, tenant=tenant))


def _closed(letter: Row) -> Conflict:
    if letter["resolved_at"] is not None:
        return Conflict(f"dead letter {letter['id']} was resolved at {letter['resolved_at']}")
    return Conflict(f"dead letter {letter['id']} was already redriven at {letter['redriven_at']}")


async def resolve(
    db: Db, dead_letter_id: uuid.UUID, *, tenant: str, note: str | None = None
) -> Row:
    """Close an open dead letter without a redrive; its task stays failed. NotFound if it does
    not exist, Conflict if it was already redriven or resolved (one of two concurrent closes
    wins)."""
    row = await fetch_one(
        db,
        "dead_letters_resolve",
        {"dead_letter_id": dead_letter_id, "tenant": tenant, "note": note},
    )
    if row is not None:
        return row
    raise _closed(await get(db, dead_letter_id, tenant=tenant))


async def redrive_many(
    db: Db,
    where: Filter,
    *,
    limit: int,
    mode: Literal["last_checkpoint", "scratch"] = "last_checkpoint",
    max_attempts: int | None = None,
) -> list[Row]:
    return await redrive(
        db,
        dead_letter_id=None,
        where=where,
        limit=limit,
        mode=mode,
        checkpoint_id=None,
        max_attempts=max_attempts,
    )


async def prune_closed(db: Db, *, retention_s: float, batch: int) -> int:
    """Delete up to `batch` dead letters closed (redriven or resolved) longer ago than
    `retention_s`."""
    rows = await fetch_all(
        db, "dead_letters_prune_closed", {"retention_s": retention_s, "batch": batch}
    )
    return len(rows)
