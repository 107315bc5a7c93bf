"""The reaper loop, in River's rescuer shape: a frozen config with named defaults, `run_once()`
doing one batch pass and returning counts, and a thin `run_forever()` that sleeps with jitter."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import astuple, dataclass, field

import psycopg

from db import budget, dead_letters, lease, llm_delta, schedule, tasks, waits, webhook, workers
from db.connect import Db
from db.outcome import RetryPolicy
from outlast import cron
from outlast.pause import jittered, pause

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReaperConfig:
    interval_s: float = 5.0
    batch: int = 500
    worker_stale_s: float = 90.0
    retention_s: float = 30 * 86_400.0  # 0: keep finished tasks forever
    # How long a redriven dead letter is kept after its redrive (0: forever). An open one is kept
    # until it is redriven, and so is its task, whatever retention_s says.
    dead_letter_retention_s: float = 30 * 86_400.0
    # Token deltas of model calls (llm_deltas) are a live view only: kept minutes (ADR 0022).
    token_retention_s: float = 600.0
    # The backoff of a requeued expired lease or overrun attempt: the same as a failed attempt's.
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(base_s=2.0, max_s=600.0))
    # Webhooks (ADR 0020): the delivery tasks' attempts, and how old an event must be before
    # the dispatcher reads it (ids are taken before commit; a younger one may still have a gap).
    webhook_max_attempts: int = 10
    webhook_settle_s: float = 2.0


@dataclass(frozen=True)
class ReapResult:
    requeued: int = 0
    failed: int = 0
    cancelled: int = 0
    waits_expired: int = 0
    workers_lost: int = 0
    tasks_pruned: int = 0
    dead_letters_pruned: int = 0
    sessions_ended: int = 0
    reservations_expired: int = 0
    budget_resumed: int = 0
    schedules_fired: int = 0
    webhooks_dispatched: int = 0
    tokens_pruned: int = 0

    @property
    def total(self) -> int:
        return sum(astuple(self))


async def _counted(count: Awaitable[int]) -> Mapping[str, int]:
    return {"n": await count}


class Reaper:
    def __init__(self, db: Db, config: ReaperConfig) -> None:
        self.db = db
        self.config = config

    async def run_once(self) -> ReapResult:
        """One pass: the open transactions of silent workers, expired leases and overrun
        attempts, human waits past their timeout, budget reservations whose lease is gone and
        budget pauses whose window allows the call now, silent workers, then what is past the
        retention; then the schedules' due slots (outlast.cron), then the webhook deliveries of
        the events since each webhook's cursor (ADR 0020). Each step loops over batches
        until one comes back short, so a pass leaves nothing due behind. Sessions go first: a
        frozen worker's transaction may hold the very rows the lease step takes back (ADR
        0008)."""
        sessions = await workers.sessions_end(self.db, stale_s=self.config.worker_stale_s)
        leases = await self._drain(
            lambda: lease.reap_expired(self.db, batch=self.config.batch, retry=self.config.retry)
        )
        expired = await self._drain(lambda: waits.expire(self.db, batch=self.config.batch))
        # After the leases: a reservation expires with the lease it was made under.
        reservations = await self._drain(
            lambda: _counted(budget.expire(self.db, batch=self.config.batch))
        )
        resumed = await self._drain(
            lambda: _counted(budget.resume_due(self.db, batch=self.config.batch))
        )
        lost = await workers.mark_lost(
            self.db, stale_s=self.config.worker_stale_s, batch=self.config.batch
        )
        # Dead letters first: a task whose last kept dead letter just went can go in this pass.
        letters_pruned = await self._prune_dead_letters()
        return ReapResult(
            requeued=leases.get("queued", 0),
            failed=leases.get("failed", 0),
            cancelled=leases.get("cancelled", 0),
            waits_expired=sum(expired.values()),
            workers_lost=lost,
            tasks_pruned=await self._prune(),
            dead_letters_pruned=letters_pruned,
            sessions_ended=sessions,
            reservations_expired=reservations["n"],
            budget_resumed=resumed["n"],
            schedules_fired=await self._fire_schedules(),
            webhooks_dispatched=await self._dispatch_webhooks(),
            tokens_pruned=await self._prune_tokens(),
        )

    async def _drain(self, step: Callable[[], Awaitable[Mapping[str, int]]]) -> Counter[str]:
        total: Counter[str] = Counter()
        while True:
            counts = await step()
            total.update(counts)
            if sum(counts.values()) < self.config.batch:
                return total

    async def _fire_schedules(self) -> int:
        """Fire every due slot by its schedule's catch-up policy. Safe with other reapers: each
        slot is a unique row inserted with its task, under a guard on the schedule's next slot."""
        fired = 0
        while True:
            due = await schedule.due(self.db, batch=self.config.batch)
            for row in due:
                slots, after = cron.due(
                    row["cron"], row["timezone"], row["next_run_at"], row["now"], row["catch_up"]
                )
                fired += await schedule.fire(
                    self.db,
                    row["id"],
                    expected=row["next_run_at"],
                    slots=slots,
                    next_run_at=after,
                )
            if len(due) < self.config.batch:
                return fired

    async def _dispatch_webhooks(self) -> int:
        """Submit one delivery task per (webhook, event) since each webhook's cursor. A page of
        webhooks is read again while one of them had more events than one scan; then the next
        page. Safe with other reapers: webhooks are locked with SKIP LOCKED, and each delivery
        has a unique key (webhook, event) inserted with its task."""
        submitted = 0
        after = None
        while True:
            page = await webhook.dispatch(
                self.db,
                after=after,
                batch=self.config.batch,
                scan=self.config.batch,
                settle_s=self.config.webhook_settle_s,
                max_attempts=self.config.webhook_max_attempts,
            )
            submitted += page.delivered
            if page.hooks == 0:
                return submitted
            if not page.full_hooks:
                after = page.last_hook

    async def _prune(self) -> int:
        if not self.config.retention_s:
            return 0
        pruned = 0
        while True:
            batch = await tasks.prune_finished(
                self.db,
                retention_s=self.config.retention_s,
                dead_letter_retention_s=self.config.dead_letter_retention_s,
                batch=self.config.batch,
            )
            pruned += batch
            if batch < self.config.batch:
                break
        await workers.prune_stopped(
            self.db, retention_s=self.config.retention_s, batch=self.config.batch
        )
        # After the tasks: a delivery key goes once its delivery task is gone (ADR 0020).
        while True:
            keys = await webhook.prune(
                self.db, retention_s=self.config.retention_s, batch=self.config.batch
            )
            if keys < self.config.batch:
                break
        # After the tasks: a pruned task's budget window goes in the same pass.
        while True:
            windows = await budget.prune(
                self.db, retention_s=self.config.retention_s, batch=self.config.batch
            )
            if windows < self.config.batch:
                break
        return pruned

    async def _prune_tokens(self) -> int:
        pruned = 0
        while True:
            batch = await llm_delta.prune(
                self.db, retention_s=self.config.token_retention_s, batch=self.config.batch
            )
            pruned += batch
            if batch < self.config.batch:
                return pruned

    async def _prune_dead_letters(self) -> int:
        if not self.config.dead_letter_retention_s:
            return 0
        pruned = 0
        while True:
            batch = await dead_letters.prune_closed(
                self.db, retention_s=self.config.dead_letter_retention_s, batch=self.config.batch
            )
            pruned += batch
            if batch < self.config.batch:
                return pruned

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                result = await self.run_once()
                if result.total:
                    log.info("reaped", extra=vars(result))
            except (psycopg.Error, OSError) as exc:
                log.warning("reap failed", extra={"error": str(exc)})
            await pause(stop, jittered(self.config.interval_s))
