"""The queue's numbers for monitoring, read in one statement."""

from __future__ import annotations

from db.connect import Db, Row, fetch_all, fetch_one


async def snapshot(db: Db, *, tenant: str | None) -> Row:
    """The figures of one tenant's tasks, or of every tenant's (`tenant=None`)."""
    row = await fetch_one(db, "metrics_snapshot", {"tenant": tenant})
    if row is None:  # a SELECT without FROM always answers one row; this guards the type
        raise RuntimeError("metrics_snapshot returned no row")
    return row


async def model_usage(db: Db, *, tenant: str | None) -> list[Row]:
    """A tenant's model calls, tokens and cost per agent, provider and model, or every tenant's
    (`tenant=None`)."""
    return await fetch_all(db, "metrics_model_usage", {"tenant": tenant})


async def cost_hourly(db: Db, *, tenant: str, hours: int) -> list[Row]:
    """(hour, agent, calls, cost_micro_usd) of the last `hours` hours, this one included."""
    return await fetch_all(db, "metrics_cost_hourly", {"tenant": tenant, "hours": hours})
