"""Provider rate limits as stored (db/queries/rate_limit.sql, ADR 0016): token buckets per
tenant, provider, model and provider key (by its fingerprint, never the key), shared by every
worker. The worker reserves before a model call, settles after it and drains a bucket on a 429
(tenant-blind: it acts by task id, the tenant is the task's); the API sets and lists a tenant's
limits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from db.connect import Db, Row, fetch_all, fetch_one


@dataclass(frozen=True)
class Bucket:
    """One bucket: the task's tenant's, for `provider`/`model` and the key `key_fingerprint`."""

    provider: str
    model: str
    key_fingerprint: str


@dataclass(frozen=True)
class Reserved:
    """What a reserve did: `outcome` 'unlimited' (no limit), 'reserved' (`tokens` taken, and
    one request) or 'wait' (nothing taken; the bucket allows the call in `wait_s`)."""

    outcome: Literal["unlimited", "reserved", "wait"]
    tokens: int = 0
    wait_s: float = 0.0
    taken_at: datetime | None = None  # names the request in flight, for settle


def _params(task_id: uuid.UUID, bucket: Bucket) -> dict[str, object]:
    return {
        "task_id": task_id,
        "provider": bucket.provider,
        "model": bucket.model,
        "key_fingerprint": bucket.key_fingerprint,
    }


async def reserve(db: Db, task_id: uuid.UUID, bucket: Bucket, tokens: int) -> Reserved:
    """Take `tokens` and one request from the bucket if they are there now."""
    params = {**_params(task_id, bucket), "tokens": tokens}
    for _ in range(2):  # 'open' once: the first call of a key and model
        row = await fetch_one(db, "rate_limit_reserve", params)
        outcome = row["outcome"] if row else "unlimited"
        if outcome == "open":
            await open_(db, task_id, bucket)
            continue
        if outcome == "reserved" and row is not None:
            return Reserved("reserved", int(row["tokens"]), taken_at=row["taken_at"])
        if outcome == "wait" and row is not None:
            return Reserved("wait", wait_s=float(row["wait_s"]))
        return Reserved("unlimited")
    return Reserved("unlimited")  # pragma: no cover - the limit was removed in between


async def open_(db: Db, task_id: uuid.UUID, bucket: Bucket) -> None:
    """Make the bucket, full, if a limit applies and it does not exist yet."""
    await fetch_all(db, "rate_limit_open", _params(task_id, bucket))


async def settle(
    db: Db,
    task_id: uuid.UUID,
    bucket: Bucket,
    *,
    taken_at: datetime | None,
    refund_tokens: float,
    refund_requests: int,
) -> None:
    """Give back what a call did not use (a negative refund takes more), capped at the limit;
    its request (taken at `taken_at`) is no longer in flight."""
    params = {**_params(task_id, bucket), "refund": refund_tokens, "requests": refund_requests}
    params["taken_at"] = taken_at
    await fetch_all(db, "rate_limit_settle", params)


async def drain(db: Db, task_id: uuid.UUID, bucket: Bucket, retry_after_s: float) -> None:
    """A 429 with Retry-After: empty the bucket and block it for `retry_after_s`."""
    params = {**_params(task_id, bucket), "retry_after_s": retry_after_s}
    await fetch_all(db, "rate_limit_drain", params)


async def set_(
    db: Db,
    *,
    tenant: str,
    provider: str,
    model: str,
    tokens_per_minute: int | None,
    requests_per_minute: int | None,
    updated_by: str,
) -> None:
    params = {
        "tenant": tenant,
        "provider": provider,
        "model": model,
        "tokens_per_minute": tokens_per_minute,
        "requests_per_minute": requests_per_minute,
        "updated_by": updated_by,
    }
    await fetch_one(db, "rate_limit_set", params)


async def list_(db: Db, *, tenant: str) -> list[Row]:
    """The tenant's limits, each with its buckets' levels now (one row per bucket)."""
    return await fetch_all(db, "rate_limit_list", {"tenant": tenant})
