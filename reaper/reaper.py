"""The reaper loop, in River's rescuer shape: a frozen config with named defaults, `run_once()`
doing one batch pass and returning counts, and a thin `run_forever()` that sleeps with jitter."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import psycopg

from db import reap, waits
from db.connect import Db
from outlast.pause import jittered, pause

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReaperConfig:
    interval_s: float = 5.0
    batch: int = 500
    worker_stale_s: float = 90.0


@dataclass(frozen=True)
class ReapResult:
    requeued: int = 0
    failed: int = 0
    cancelled: int = 0
    waits_expired: int = 0
    workers_lost: int = 0

    @property
    def total(self) -> int:
        return self.requeued + self.failed + self.cancelled + self.waits_expired + self.workers_lost


class Reaper:
    def __init__(self, db: Db, config: ReaperConfig) -> None:
        self.db = db
        self.config = config

    async def run_once(self) -> ReapResult:
        """One pass: batches of expired leases until none is left, then human waits past their
        timeout, then silent workers."""
        requeued = failed = cancelled = 0
        while True:
            counts = await reap.expired_leases(self.db, batch=self.config.batch)
            requeued += counts["queued"]
            failed += counts["failed"]
            cancelled += counts["cancelled"]
            if counts.total() < self.config.batch:
                break
        expired = 0
        while batch := await waits.expire(self.db, batch=self.config.batch):
            expired += sum(batch.values())
        lost = await reap.silent_workers(
            self.db, stale_s=self.config.worker_stale_s, batch=self.config.batch
        )
        return ReapResult(
            requeued=requeued,
            failed=failed,
            cancelled=cancelled,
            waits_expired=expired,
            workers_lost=lost,
        )

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                result = await self.run_once()
                if result.total:
                    log.info("reaped", extra=vars(result))
            except (psycopg.Error, OSError) as exc:
                log.warning("reap failed", extra={"error": str(exc)})
            await pause(stop, jittered(self.config.interval_s))
