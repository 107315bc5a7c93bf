"""Budgets as stored (db/queries/budget.sql): reserve a model call's worst case before it, settle
it to the real cost after it, expire reservations whose lease is gone, resume tasks paused on a
budget, and a tenant's daily limit. Amounts are integer micro-USD.

The worker reserves (fenced, tenant-blind: it acts by task id under its lease); the API reads
and resumes by tenant; the reaper expires and resumes due tasks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import BudgetPaused, Conflict, LeaseLost, NotFound


@dataclass(frozen=True)
class Reservation:
    """What a reserve left behind: `reservation_id` None when no budget applies."""

    reservation_id: int | None


async def reserve(db: Db, task_id: uuid.UUID, epoch: int, amount_micro_usd: int) -> Reservation:
    """Hold `amount_micro_usd` on every window that applies to the task, all or none. Raises
    BudgetPaused when it does not fit (the task is paused, or cancelled if its cancel was
    requested, and no longer held) and LeaseLost when the lease is gone."""
    params = {"task_id": task_id, "epoch": epoch, "amount": amount_micro_usd}
    for _ in range(3):  # 'open' twice in a row only if an hour or day turned in between
        row = await fetch_one(db, "budget_reserve", params)
        if row is None:
            raise LeaseLost(task_id, epoch)
        outcome: Literal["unlimited", "reserved", "open", "paused"] = row["outcome"]
        if outcome == "open":
            await open_(db, task_id)
            continue
        if outcome == "paused":
            raise BudgetPaused(task_id, epoch, row["pause"])
        return Reservation(row["reservation_id"])
    raise LeaseLost(task_id, epoch)  # pragma: no cover - three window changes in a row


async def applies(db: Db, task_id: uuid.UUID) -> bool:
    """Whether any budget applies to the task."""
    row = await fetch_one(db, "budget_applies", {"task_id": task_id})
    return bool(row and row["applies"])


async def open_(db: Db, task_id: uuid.UUID) -> None:
    """Create the task's missing window rows at zero."""
    await fetch_all(db, "budget_open", {"task_id": task_id})


async def settle(
    conn: AsyncConnection[DictRow], task_id: uuid.UUID, reservation_id: int, cost_micro_usd: int
) -> None:
    """Release the reservation and charge `cost_micro_usd` to its windows. Run inside the
    transaction that journals the call (db.llm_call.finish), so both commit or neither."""
    params: dict[str, Any] = {"task_id": task_id, "reservation_id": reservation_id}
    params["cost_micro_usd"] = cost_micro_usd
    await fetch_all(conn, "budget_settle", params)


async def expire(db: Db, *, batch: int) -> int:
    """Charge reservations whose lease is gone at their worst case; how many there were."""
    row = await fetch_one(db, "budget_expire", {"batch": batch})
    return int(row["expired"]) if row else 0


async def resume(db: Db, task_id: uuid.UUID, *, tenant: str, by: str) -> None:
    """Queue a task paused on a budget again. NotFound for no such task of this tenant;
    Conflict when it is not paused, or its call still does not fit (the message names the
    window, its limit and spend)."""
    params = {"task_id": task_id, "tenant": tenant, "by": by}
    row = await fetch_one(db, "budget_resume", params)
    if row is None:
        raise NotFound("task", task_id)
    if row["resumed"]:
        return
    if row["state"] != "paused":
        raise Conflict(f"task {task_id} is {row['state']}, not paused", state=row["state"])
    raise Conflict(_still_over(task_id, row["over"]), state="paused")


def _still_over(task_id: uuid.UUID, over: list[dict[str, Any]]) -> str:
    windows = "; ".join(
        f"{w['scope']} budget {w['limit_micro_usd']} micro-USD, "
        f"{w['spent_micro_usd']} spent and {w['reserved_micro_usd']} reserved"
        for w in over
    )
    return f"task {task_id} is still over budget: {windows}"


async def prune(db: Db, *, retention_s: float, batch: int) -> int:
    """Delete window rows past the retention (a task's, once the task is gone); how many."""
    params = {"retention_s": retention_s, "batch": batch}
    return len(await fetch_all(db, "budget_prune", params))


async def resume_due(db: Db, *, batch: int) -> int:
    """Queue tasks paused on an hourly or daily budget whose call fits now; how many."""
    return len(await fetch_all(db, "budget_resume_due", {"batch": batch}))


async def list_paused(
    db: Db, *, tenant: str, limit: int, after: tuple[datetime, uuid.UUID] | None = None
) -> list[Row]:
    """A tenant's tasks paused on a budget, oldest pause first."""
    at, after_id = after if after else (None, None)
    params = {"tenant": tenant, "limit": limit, "after_at": at, "after_id": after_id}
    return await fetch_all(db, "budget_list_paused", params)


async def tenant_get(db: Db, *, tenant: str) -> Row:
    """The tenant's daily budget (None: no limit) and today's spend and reservations."""
    row = await fetch_one(db, "budget_tenant_get", {"tenant": tenant})
    if row is None:  # never: the statement answers one row whatever is stored
        raise NotFound("tenant", tenant)
    return row


async def tenant_set(
    db: Db, *, tenant: str, per_day_micro_usd: int | None, updated_by: str
) -> None:
    params = {"tenant": tenant, "per_day_micro_usd": per_day_micro_usd, "updated_by": updated_by}
    await fetch_one(db, "budget_tenant_set", params)
