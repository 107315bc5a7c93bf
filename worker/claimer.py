"""The claim loop: owns the worker's concurrency slots. It claims as many tasks as it has free
slots in one statement, starts a runner for each, and when idle waits for a NOTIFY, a freed
slot, or its jittered poll. It never holds a transaction: each claim commits at once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

import psycopg

from db import lease
from db.connect import Pool
from outlast.pause import jittered
from worker.config import WorkerConfig
from worker.leases import Lease, Leases

log = logging.getLogger(__name__)


class Claimer:
    def __init__(
        self,
        pool: Pool,
        worker_id: uuid.UUID,
        leases: Leases,
        config: WorkerConfig,
        run: Callable[[Lease], Awaitable[None]],
        wakeup: asyncio.Event,
        *,
        graphs: Sequence[str],
    ) -> None:
        self.pool = pool
        # The graphs this worker can run: it claims no task of another (a rolling deploy can run
        # workers with different OUTLAST_GRAPHS side by side).
        self.graphs = tuple(graphs)
        self.worker_id = worker_id
        self.leases = leases
        self.config = config
        self.run = run
        self.wakeup = wakeup
        self.slot_freed = asyncio.Event()

    async def run_once(self) -> int:
        """Claim up to the free slots and start a runner for each; return how many started."""
        free = self.config.concurrency - len(self.leases)
        if free <= 0:
            return 0
        claims = await lease.claim_many(
            self.pool,
            self.worker_id,
            limit=min(free, self.config.claim_batch),
            ttl_s=self.config.lease_ttl_s,
            graphs=self.graphs,
        )
        for claim in claims:
            held = self.leases.add(claim)
            held.runner = asyncio.create_task(self._runner(held), name=f"task-{claim.task_id}")
        if claims:
            # One line per claim, not per task, and the ids only at DEBUG: at thousands of tasks
            # a second, logging each task costs more than the queue. Each task's history, with
            # the worker that ran it, is in task_events (GET /v1/tasks/{id}/events).
            log.info("claimed", extra={"count": len(claims)})
            if log.isEnabledFor(logging.DEBUG):
                log.debug("claimed tasks", extra={"task_ids": [str(c.task_id) for c in claims]})
        return len(claims)

    async def _runner(self, held: Lease) -> None:
        try:
            await self.run(held)
        except Exception:
            # A bug or an unreachable database while recording the outcome. The lease expires
            # and the reaper gives the task to another worker; nothing is lost.
            log.exception("runner crashed", extra={"task_id": str(held.claim.task_id)})
        finally:
            self.leases.remove(held.claim.task_id)
            self.slot_freed.set()

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.wakeup.clear()
            self.slot_freed.clear()
            try:
                started = await self.run_once()
            except (psycopg.Error, OSError) as exc:
                log.warning("claim failed", extra={"error": str(exc)})
                started = 0
            full = len(self.leases) >= self.config.concurrency
            if started and not full:
                continue  # there may be more ready work: claim again at once
            await self._idle(stop, full)

    async def _idle(self, stop: asyncio.Event, full: bool) -> None:
        """Wait for a reason to claim again: a freed slot, a NOTIFY, the poll, or stop."""
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self.slot_freed.wait())]
        timeout = None
        if not full:
            waits.append(asyncio.create_task(self.wakeup.wait()))
            timeout = jittered(self.config.poll_interval_s)
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()
