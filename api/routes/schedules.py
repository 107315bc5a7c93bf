"""Cron schedules: make, list, read (next runs and the tasks it submitted), pause, resume,
delete. Reads take tasks:read, writes tasks:write: a schedule is a standing task submission.
Another tenant's schedule answers 404; a taken name 409; a bad cron expression, time zone,
graph or agent 422 naming the field. The reaper fires the slots (docs/howto/schedules.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import PoolDep, RegistryDep, SettingsDep, TasksRead, TasksWrite
from api.problems import invalid
from api.routes.tasks import unknown_graph
from api.schemas import (
    SCHEDULE_NAME_PATTERN,
    Page,
    ScheduleCreate,
    SchedulePublic,
    ScheduleSlotPublic,
    TaskCreate,
)
from api.targets import resolve
from db import schedule
from db.connect import Row
from outlast import cron

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])
ScheduleName = Annotated[str, Path(pattern=SCHEDULE_NAME_PATTERN, description="Its name.")]
NEXT_RUNS = 5
RECENT_TASKS = 20


def _first_slot(body: ScheduleCreate, now: datetime) -> datetime:
    """The first slot after `now`; 422 naming the field that cannot be read."""
    try:
        cron.zone(body.timezone)
    except ValueError as exc:
        raise invalid("body.timezone", "iana_time_zone", str(exc)) from exc
    try:
        cron.check(body.cron)
    except ValueError as exc:
        raise invalid("body.cron", "cron_expression", str(exc)) from exc
    return cron.next_runs(body.cron, body.timezone, now, 1)[0]


def _public(row: Row, tasks: list[Row] | None = None) -> SchedulePublic:
    paused = row["paused_at"] is not None
    runs: list[datetime] = []
    if not paused:
        after = cron.next_runs(row["cron"], row["timezone"], row["next_run_at"], NEXT_RUNS - 1)
        runs = [row["next_run_at"], *after]
    fields: dict[str, Any] = {**row, "paused": paused, "next_runs": runs}
    fields["next_run_at"] = None if paused else row["next_run_at"]
    fields["tasks"] = None if tasks is None else [ScheduleSlotPublic(**t) for t in tasks]
    return SchedulePublic.model_validate(fields)


@router.post("", status_code=201, summary="Make a cron schedule")
async def create(
    body: ScheduleCreate,
    caller: TasksWrite,
    pool: PoolDep,
    settings: SettingsDep,
    registry: RegistryDep,
) -> SchedulePublic:
    """Its first slot is the first after now; an agent's tasks pin the agent's current version."""
    names = {k: v for k in ("graph", "agent") if (v := getattr(body, k)) is not None}
    target = await resolve(TaskCreate(**names), pool, caller.tenant, registry)
    if body.graph is not None and body.graph not in registry:
        raise unknown_graph(body.graph, registry.names())
    new = schedule.NewSchedule(
        name=body.name,
        cron=body.cron,
        timezone=body.timezone,
        catch_up=body.catch_up,
        graph=target.graph,
        agent=body.agent,
        agent_version=target.agent_version,
        input=body.input,
        max_attempts=body.max_attempts or settings.default_max_attempts,
        next_run_at=_first_slot(body, await schedule.clock(pool)),
    )
    row = await schedule.insert(pool, new, tenant=caller.tenant, created_by=caller.key_id)
    return _public(row)


@router.get("", summary="The tenant's schedules with their next runs")
async def list_schedules(caller: TasksRead, pool: PoolDep) -> Page[SchedulePublic]:
    """Every schedule of the tenant in one page (by name)."""
    rows = await schedule.list_(pool, tenant=caller.tenant)
    return Page[SchedulePublic](items=[_public(row) for row in rows])


@router.get("/{name}", summary="A schedule, its next runs and the tasks it submitted")
async def get_schedule(name: ScheduleName, caller: TasksRead, pool: PoolDep) -> SchedulePublic:
    row = await schedule.get(pool, name, tenant=caller.tenant)
    fired = await schedule.tasks(pool, name, tenant=caller.tenant, limit=RECENT_TASKS)
    return _public(row, fired)


@router.post("/{name}/pause", summary="Stop firing a schedule")
async def pause(name: ScheduleName, caller: TasksWrite, pool: PoolDep) -> SchedulePublic:
    return _public(await schedule.pause(pool, name, tenant=caller.tenant))


@router.post("/{name}/resume", summary="Fire a paused schedule again, from its next slot")
async def resume(name: ScheduleName, caller: TasksWrite, pool: PoolDep) -> SchedulePublic:
    """The slots that fell while it was paused are skipped, whatever its catch-up policy."""
    row = await schedule.get(pool, name, tenant=caller.tenant)
    first = cron.next_runs(row["cron"], row["timezone"], row["now"], 1)[0]
    return _public(await schedule.resume(pool, name, tenant=caller.tenant, next_run_at=first))


@router.delete("/{name}", status_code=204, summary="Delete a schedule")
async def delete(name: ScheduleName, caller: TasksWrite, pool: PoolDep) -> None:
    """The tasks it submitted stay."""
    await schedule.delete(pool, name, tenant=caller.tenant)
