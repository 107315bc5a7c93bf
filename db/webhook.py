"""Webhooks (db/queries/webhook.sql; ADR 0020). The API makes, reads, changes, pauses, resumes
and deletes a tenant's webhooks, and reads the secret only once, from `insert`; the reaper
turns task events into delivery tasks (`dispatch`, every tenant); the worker reads a
delivery's URL and secret by its task id (`target`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import Conflict, NotFound


@dataclass(frozen=True)
class NewWebhook:
    name: str
    url: str
    events: list[str]
    secret: str
    allow_private: bool


@dataclass(frozen=True)
class Dispatched:
    """One dispatch page: webhooks read, the last one's id, how many had more events than one
    scan, and the delivery tasks submitted."""

    hooks: int
    last_hook: uuid.UUID | None
    full_hooks: int
    delivered: int


async def insert(db: Db, new: NewWebhook, *, tenant: str, created_by: str) -> Row:
    """Make a webhook (the row has its secret, this once); Conflict when the name is taken."""
    params = {**vars(new), "tenant": tenant, "created_by": created_by}
    row = await fetch_one(db, "webhook_insert", params)
    if row is None:
        raise Conflict(f"webhook {new.name} already exists")
    return row


async def get(db: Db, name: str, *, tenant: str) -> Row:
    row = await fetch_one(db, "webhook_get", {"tenant": tenant, "name": name})
    if row is None:
        raise NotFound("webhook", name)
    return row


async def list_(db: Db, *, tenant: str) -> list[Row]:
    return await fetch_all(db, "webhook_list", {"tenant": tenant})


async def recent(db: Db, name: str, *, tenant: str, limit: int) -> list[Row]:
    """The webhook's newest deliveries, with their task's state."""
    params = {"tenant": tenant, "name": name, "limit": limit}
    return await fetch_all(db, "webhook_recent", params)


async def update(
    db: Db,
    name: str,
    *,
    tenant: str,
    url: str | None,
    events: list[str] | None,
    allow_private: bool | None,
) -> Row:
    """Change what is given (None keeps it); NotFound if there is no such webhook."""
    params = {
        "tenant": tenant,
        "name": name,
        "url": url,
        "events": events,
        "allow_private": allow_private,
    }
    row = await fetch_one(db, "webhook_update", params)
    if row is None:
        raise NotFound("webhook", name)
    return row


async def pause(db: Db, name: str, *, tenant: str) -> Row:
    """Pause; pausing a paused webhook returns it unchanged. NotFound if there is none."""
    row = await fetch_one(db, "webhook_pause", {"tenant": tenant, "name": name})
    return row if row is not None else await get(db, name, tenant=tenant)


async def resume(db: Db, name: str, *, tenant: str) -> Row:
    """Resume from the newest event; resuming an active webhook returns it unchanged."""
    row = await fetch_one(db, "webhook_resume", {"tenant": tenant, "name": name})
    return row if row is not None else await get(db, name, tenant=tenant)


async def delete(db: Db, name: str, *, tenant: str) -> None:
    if await fetch_one(db, "webhook_delete", {"tenant": tenant, "name": name}) is None:
        raise NotFound("webhook", name)


async def dispatch(
    db: Db,
    *,
    after: uuid.UUID | None,
    batch: int,
    scan: int,
    settle_s: float,
    max_attempts: int,
) -> Dispatched:
    """One page of the outbox dispatcher: up to `batch` active webhooks after `after`, each
    reading up to `scan` settled events past its cursor (every tenant's)."""
    params = {
        "after": after,
        "batch": batch,
        "scan": scan,
        "settle_s": settle_s,
        "max_attempts": max_attempts,
    }
    row = await fetch_one(db, "webhook_dispatch", params)
    assert row is not None  # noqa: S101 - a SELECT of scalar subqueries returns its one row
    return Dispatched(
        hooks=int(row["hooks"]),
        last_hook=row["last_hook"],
        full_hooks=int(row["full_hooks"]),
        delivered=int(row["delivered"]),
    )


async def target(db: Db, task_id: uuid.UUID) -> Row | None:
    """The URL, secret and allow_private of the delivery task's webhook, or None (the webhook
    was deleted, or the task is no delivery)."""
    return await fetch_one(db, "webhook_target", {"task_id": task_id})


async def prune(db: Db, *, retention_s: float, batch: int) -> int:
    """Forget up to `batch` delivery keys older than the retention whose task is pruned."""
    params = {"retention_s": retention_s, "batch": batch}
    return len(await fetch_all(db, "webhook_prune", params))
