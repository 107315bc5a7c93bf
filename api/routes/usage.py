"""A tenant's model cost over time: GET /v1/usage/hourly, the calls and cost of each hour and
agent (the console's cost chart). Scope metrics:read, as the Prometheus figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import MetricsRead, PoolDep
from api.schemas import CostHourPublic
from db import metrics

router = APIRouter(prefix="/v1/usage", tags=["usage"])
Hours = Annotated[int, Query(ge=1, le=168, description="Hours back, this one included.")]


@router.get("/hourly", summary="Model calls and cost per hour and agent")
async def hourly(caller: MetricsRead, pool: PoolDep, hours: Hours = 24) -> list[CostHourPublic]:
    """Only hours with calls appear, oldest first; within an hour, agents by name."""
    rows = await metrics.cost_hourly(pool, tenant=caller.tenant, hours=hours)
    return [CostHourPublic.model_validate(row) for row in rows]
