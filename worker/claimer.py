"""The claim loop: owns the worker's concurrency slots. It claims as many tasks as it has free
slots in one statement, starts a runner for each, and when idle waits for a NOTIFY, a freed
slot, or its jittered poll. It never holds a transaction: each claim commits at once.

A slot is free only once its runner has finished, outcome write included, and the database has
settled its lease. A lease left unsettled keeps its slot until it has surely expired
(worker/leases.py), or, when the worker fenced it itself, until a release gives the task back.
While the heartbeat fails the loop claims nothing."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
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
        may_claim: Callable[[], bool] = lambda: True,
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
        self.may_claim = may_claim
        self.slot_freed = asyncio.Event()
        self.cursor = lease.FairCursor()
        self.reserved = 0  # slots promised to claims in flight
        self._releasing = False

    async def run_once(self) -> int:
        """Claim up to the free slots and start a runner for each; return how many started.
        Nothing while the heartbeat fails: a lease claimed then could not be guarded."""
        if not self.may_claim():
            return 0
        await self._release_orphans()
        free = self.config.concurrency - self.leases.occupied() - self.reserved
        if free <= 0:
            return 0
        limit = min(free, self.config.claim_batch)
        self.reserved += limit  # another claim in flight may not promise these slots too
        try:
            sent, sent_ns = time.monotonic(), time.time_ns()
            claims = await self._claim(limit)
            seen = time.monotonic()
        finally:
            self.reserved -= limit
        for claim in claims:
            held = self.leases.add(claim, sent=sent, seen=seen)
            held.claimed_ns = (sent_ns, sent_ns + round((seen - sent) * 1e9))  # for its span
            self._start(held)
        if claims:
            # One line per claim, not per task, and the ids only at DEBUG: at thousands of tasks
            # a second, logging each task costs more than the queue. Each task's history, with
            # the worker that ran it, is in task_events (GET /v1/tasks/{id}/events).
            log.info("claimed", extra={"count": len(claims)})
            if log.isEnabledFor(logging.DEBUG):
                log.debug("claimed tasks", extra={"task_ids": [str(c.task_id) for c in claims]})
        return len(claims)

    async def _claim(self, limit: int) -> list[lease.Claim]:
        """The fair claim (ADR 0013), round-robin from this claimer's cursor, or the plain one."""
        if self.config.claim_fair:
            return await lease.claim_fair(
                self.pool,
                self.worker_id,
                limit=limit,
                ttl_s=self.config.lease_ttl_s,
                graphs=self.graphs,
                cursor=self.cursor,
            )
        return await lease.claim_many(
            self.pool,
            self.worker_id,
            limit=limit,
            ttl_s=self.config.lease_ttl_s,
            graphs=self.graphs,
        )

    def _start(self, held: Lease) -> asyncio.Task[None]:
        """Start the task's runner. Its slot is given back by a done callback, not a `finally`
        in the runner: a runner cancelled before its first step (the heartbeat's self-fence just
        as a claim came back) never enters its body, and its lease would stay held, renewed with
        nothing running under it (tests/integration/test_claimer_leases.py)."""
        name = f"task-{held.claim.task_id}"
        held.runner = asyncio.create_task(self._runner(held), name=name)
        held.runner.add_done_callback(functools.partial(self._finished, held))
        return held.runner

    async def _runner(self, held: Lease) -> None:
        try:
            await self.run(held)
            held.settled = not held.fenced
        except Exception:
            # A bug or an unreachable database while recording the outcome. The lease expires
            # and the reaper gives the task to another worker; nothing is lost, and the slot
            # stays taken until then (the lease may be live: never more than concurrency).
            log.exception("runner crashed", extra={"task_id": str(held.claim.task_id)})

    def _finished(self, held: Lease, _runner: asyncio.Task[None]) -> None:
        """The runner ended, however it ended (even cancelled before it started)."""
        confirmed_lost = held.lost.is_set() and not held.fenced
        self.leases.finish(held, settled=held.settled or confirmed_lost)
        self.slot_freed.set()

    async def _release_orphans(self) -> None:
        """Give back the tasks of leases the worker fenced itself, so they run again at once (a
        release does not count the attempt) and their slots free up. A crashed runner's lease
        is not released but left to expire: its attempt then counts, so a task that crashes
        its runner every time still ends in the dead letters."""
        if self._releasing:  # another claim loop is at it
            return
        self._releasing = True
        try:
            await self._release_orphans_now()
        finally:
            self._releasing = False

    async def _release_orphans_now(self) -> None:
        for orphan in [o for o in self.leases.orphans.values() if o.fenced]:
            claim = orphan.claim
            try:
                released = await lease.release(
                    self.pool, self.worker_id, claim.task_id, claim.epoch
                )
            except (psycopg.Error, OSError) as exc:
                log.warning(
                    "release failed", extra={"task_id": str(claim.task_id), "error": str(exc)}
                )
                return
            # Released, or already not ours (expired, reaped, finished): settled either way.
            self.leases.orphans.pop(claim.task_id, None)
            log.info(
                "unsettled lease released",
                extra={"task_id": str(claim.task_id), "released": released},
            )

    async def run_forever(self, stop: asyncio.Event) -> None:
        """`config.claimers` claim loops side by side: under a backlog one claim's round trip
        does not leave the slots that freed meanwhile waiting for the next. Only the first
        answers NOTIFYs and polls: an idle worker claims once per submit, as with one loop; the
        others wake on freed slots, which only a worker with work has."""
        loops = [self._loop(stop, first=n == 0) for n in range(max(1, self.config.claimers))]
        await asyncio.gather(*loops)

    async def _loop(self, stop: asyncio.Event, *, first: bool = True) -> None:
        while not stop.is_set():
            if first:
                self.wakeup.clear()
            self.slot_freed.clear()
            try:
                started = await self.run_once()
            except (psycopg.Error, OSError) as exc:
                log.warning("claim failed", extra={"error": str(exc)})
                started = 0
            full = self.leases.occupied() >= self.config.concurrency
            if started and not full:
                continue  # there may be more ready work: claim again at once
            if first:
                await self._idle(stop, full)
            else:
                await self._freed(stop)

    async def _freed(self, stop: asyncio.Event) -> None:
        """A second claim loop's wait: a freed slot, or stop."""
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self.slot_freed.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()

    def _idle_timeout(self, full: bool) -> float | None:
        """The poll; while full, none, unless an orphan's slot frees up by expiry or the
        heartbeat must be asked again."""
        if not full:
            return jittered(self.config.poll_interval_s)
        expiry = self.leases.next_orphan_expiry()
        if expiry is None and self.may_claim():
            return None
        timeout = jittered(self.config.poll_interval_s)
        if expiry is not None:
            timeout = min(timeout, max(expiry - time.monotonic(), 0.0) + 0.01)
        return timeout

    async def _idle(self, stop: asyncio.Event, full: bool) -> None:
        """Wait for a reason to claim again: a freed slot, a NOTIFY, the poll, or stop."""
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self.slot_freed.wait())]
        timeout = self._idle_timeout(full)
        if not full:
            waits.append(asyncio.create_task(self.wakeup.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()
