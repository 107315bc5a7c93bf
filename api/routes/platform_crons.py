"""Crons of the LangGraph Platform API (ADR 0029): a cron is an Outlast schedule (ADR 0017)
whose tasks run the assistant, on the cron's thread (`/threads/{id}/runs/crons`) or each on a
thread of its own (`/runs/crons`). The reaper fires them as it fires every schedule; they are in
`/v1/schedules` too, named `cron-<cron id>`. Reads take tasks:read, writes tasks:write, as
schedules do; another tenant's cron or thread answers 404."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.access import Principal
from api.deps import PoolDep, RegistryDep, SettingsDep, TasksRead, TasksWrite
from api.problems import invalid
from api.routes.tasks import unknown_graph
from api.schemas import JsonObject, TaskCreate
from api.targets import resolve
from db import agent as agents
from db import schedule, thread
from db.connect import Pool, Row
from db.errors import NotFound
from outlast import cron
from outlast.registry import Registry

router = APIRouter(tags=["langgraph"])
CronPath = Annotated[uuid.UUID, Path(description="The cron's id.")]
ThreadPath = Annotated[uuid.UUID, Path(description="The thread's id.")]
ASSISTANT_PATTERN = r"^[A-Za-z0-9_.:-]+$"
SortBy = Literal[
    "cron_id", "assistant_id", "thread_id", "created_at", "updated_at", "next_run_date", "end_time"
]


class _Body(BaseModel):
    # The SDK sends run fields Outlast does not serve on a cron (config, context, webhook,
    # stream_mode, ...): accepted, kept in the cron's payload, not acted on (the howto lists them).
    model_config = ConfigDict(extra="allow")


class CronUpdate(_Body):
    """What a cron's update may change (each field left out: unchanged)."""

    schedule: str | None = Field(None, min_length=1, max_length=200)
    input: JsonObject | None = None
    metadata: JsonObject | None = None
    end_time: datetime | None = None
    enabled: StrictBool | None = None
    timezone: str | None = Field(None, min_length=1, max_length=100)


class CronCreate(CronUpdate):
    assistant_id: str = Field(min_length=1, max_length=200, pattern=ASSISTANT_PATTERN)
    schedule: str = Field(min_length=1, max_length=200)


class CronCount(_Body):
    assistant_id: str | None = Field(None, max_length=200)
    thread_id: uuid.UUID | None = None
    metadata: JsonObject | None = None
    enabled: StrictBool | None = None


class CronSearch(CronCount):
    limit: StrictInt = Field(10, ge=1, le=1000)
    offset: StrictInt = Field(0, ge=0, le=1_000_000)
    sort_by: SortBy | None = None
    sort_order: Literal["asc", "desc"] | None = None


class CronPublic(BaseModel):
    cron_id: uuid.UUID
    assistant_id: str
    thread_id: uuid.UUID | None
    on_run_completed: str | None = None
    end_time: datetime | None
    schedule: str
    timezone: str | None
    created_at: datetime
    updated_at: datetime
    payload: JsonObject
    user_id: str | None = None
    next_run_date: datetime | None
    metadata: JsonObject
    enabled: bool


def cron_public(row: Row) -> CronPublic:
    enabled = row["paused_at"] is None
    ended = row["end_time"] is not None and row["next_run_at"] > row["end_time"]
    return CronPublic(
        cron_id=row["id"],
        assistant_id=row["agent"] or row["graph"],
        thread_id=row["thread_id"],
        on_run_completed=(row["payload"] or {}).get("on_run_completed"),
        end_time=row["end_time"],
        schedule=row["cron"],
        timezone=row["timezone"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        payload=row["payload"] or {"assistant_id": row["agent"] or row["graph"]},
        next_run_date=row["next_run_at"] if enabled and not ended else None,
        metadata=row["metadata"],
        enabled=enabled,
    )


def _first_slot(expression: str, timezone: str, now: datetime) -> datetime:
    """The first slot after `now`; 422 naming the field that cannot be read."""
    try:
        cron.zone(timezone)
    except ValueError as exc:
        raise invalid("body.timezone", "iana_time_zone", str(exc)) from exc
    try:
        cron.check(expression)
    except ValueError as exc:
        raise invalid("body.schedule", "cron_expression", str(exc)) from exc
    return cron.next_runs(expression, timezone, now, 1)[0]


async def _submit(pool: Pool, registry: Registry, assistant_id: str, tenant: str) -> TaskCreate:
    """The assistant as a submit: the tenant's agent of that name, else the registered graph."""
    try:
        await agents.get(pool, tenant, assistant_id)
        return TaskCreate(agent=assistant_id)
    except NotFound:
        if assistant_id not in registry:
            raise unknown_graph(assistant_id, registry.names()) from None
        return TaskCreate(graph=assistant_id)


@dataclass(frozen=True)
class Maker:
    """What making a cron reads: the pool, the graphs, the default attempts."""

    pool: PoolDep
    registry: RegistryDep
    settings: SettingsDep

    async def create(
        self, body: CronCreate, caller: Principal, thread_id: uuid.UUID | None
    ) -> CronPublic:
        pool, tenant = self.pool, caller.tenant
        if thread_id is not None:
            await thread.get(pool, thread_id, tenant=tenant)  # 404 unless the tenant's
        submit = await _submit(pool, self.registry, body.assistant_id, tenant)
        target = await resolve(submit, pool, tenant, self.registry)
        timezone = body.timezone or "UTC"
        cron_id = uuid.uuid4()
        new = schedule.NewSchedule(
            id=cron_id,
            name=f"cron-{cron_id}",
            cron=body.schedule,
            timezone=timezone,
            catch_up="latest",
            graph=target.graph,
            agent=submit.agent,
            agent_version=target.agent_version,
            input=body.input or {},
            max_attempts=self.settings.default_max_attempts,
            next_run_at=_first_slot(body.schedule, timezone, await schedule.clock(pool)),
            thread_id=thread_id,
            metadata=body.metadata or {},
            payload=body.model_dump(mode="json", exclude_none=True),
            end_time=body.end_time,
            paused=body.enabled is False,
        )
        return cron_public(
            await schedule.insert(pool, new, tenant=tenant, created_by=caller.key_id)
        )


MakerDep = Annotated[Maker, Depends()]


@router.post("/runs/crons", summary="Create a cron whose runs are stateless")
async def create_cron(body: CronCreate, caller: TasksWrite, maker: MakerDep) -> CronPublic:
    """Each slot submits a task on a thread of its own (`on_run_completed` is not acted on)."""
    return await maker.create(body, caller, None)


@router.post("/threads/{thread_id}/runs/crons", summary="Create a cron on a thread")
async def create_thread_cron(
    thread_id: ThreadPath, body: CronCreate, caller: TasksWrite, maker: MakerDep
) -> CronPublic:
    """Each slot submits a run on the thread, queued behind its unfinished runs (enqueue)."""
    return await maker.create(body, caller, thread_id)


def _sorted(found: list[CronPublic], sort_by: SortBy, descending: bool) -> list[CronPublic]:
    """By `sort_by`, crons without that field (no thread, no end time) last either way."""

    def key(item: CronPublic) -> Any:
        value = getattr(item, sort_by)
        return str(value) if isinstance(value, uuid.UUID) else value

    present = [c for c in found if getattr(c, sort_by) is not None]
    absent = [c for c in found if getattr(c, sort_by) is None]
    return [*sorted(present, key=key, reverse=descending), *absent]


async def _matching(pool: Pool, body: CronCount, tenant: str) -> list[Row]:
    return await schedule.search(
        pool,
        tenant=tenant,
        assistant_id=body.assistant_id,
        thread_id=body.thread_id,
        enabled=body.enabled,
        metadata=body.metadata,
    )


@router.post("/runs/crons/search", summary="The tenant's crons matching filters")
async def search_crons(body: CronSearch, caller: TasksRead, pool: PoolDep) -> list[CronPublic]:
    """Sorted by `sort_by` (default created_at) in `sort_order` (default desc: as LangGraph)."""
    found = [cron_public(row) for row in await _matching(pool, body, caller.tenant)]
    ordered = _sorted(found, body.sort_by or "created_at", body.sort_order != "asc")
    return ordered[body.offset : body.offset + body.limit]


@router.post("/runs/crons/count", summary="How many of the tenant's crons match filters")
async def count_crons(body: CronCount, caller: TasksRead, pool: PoolDep) -> int:
    return len(await _matching(pool, body, caller.tenant))


# `{cron_id:uuid}`: a PATCH or DELETE of `/runs/crons/search` or `/count` (POSTs) is then a 405,
# as it should be, not a 422 on a cron id "search".
@router.patch("/runs/crons/{cron_id:uuid}", summary="Change a cron")
async def update_cron(
    cron_id: CronPath,
    body: CronUpdate,
    caller: TasksWrite,
    pool: PoolDep,
) -> CronPublic:
    """What is given changes; a new schedule, time zone or re-enabling fires from the first slot
    after now. A concurrent change of the same cron answers 409."""
    row = await schedule.get_by_id(pool, cron_id, tenant=caller.tenant)
    given = body.model_dump(mode="json", exclude_unset=True)
    expression = body.schedule or row["cron"]
    timezone = body.timezone or row["timezone"]
    enabled = body.enabled if body.enabled is not None else row["paused_at"] is None
    next_run_at = row["next_run_at"]
    if body.schedule or body.timezone or (enabled and row["paused_at"] is not None):
        next_run_at = _first_slot(expression, timezone, row["now"])
    change = schedule.CronChange(
        cron=expression,
        timezone=timezone,
        input=body.input if body.input is not None else row["input"],
        metadata=body.metadata if body.metadata is not None else row["metadata"],
        payload={**(row["payload"] or {}), **given},
        end_time=body.end_time if "end_time" in given else row["end_time"],
        next_run_at=next_run_at,
        enabled=enabled,
        expected=row["updated_at"],
    )
    return cron_public(await schedule.update(pool, cron_id, change, tenant=caller.tenant))


@router.delete("/runs/crons/{cron_id:uuid}", status_code=204, summary="Delete a cron")
async def delete_cron(cron_id: CronPath, caller: TasksWrite, pool: PoolDep) -> None:
    """The runs it submitted stay."""
    await schedule.delete_by_id(pool, cron_id, tenant=caller.tenant)
