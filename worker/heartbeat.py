"""The heartbeat: one statement per tick extends every lease this worker holds.

A task missing from the answer is lost (another worker took it, it expired, or it left
`running`): its runner is cancelled at once. A raised cancel flag is passed to the runner, which
stops at its next node boundary.

If the database cannot be reached, the worker fences itself by its own monotonic clock: each
lease is stopped 80 % of a TTL after the statement that last renewed it (its claim or a
heartbeat) was sent, before the database could let it expire, rather than risk running a task
another worker now holds. Each lease counts from its own renewal: one claimed after the last good
heartbeat is not stopped early. While the heartbeat fails the worker claims nothing
(`healthy()`), so it does not refill slots it cannot guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db import connect, lease
from outlast.pause import jittered, pause
from outlast.settings import FENCE_FRACTION
from worker.leases import Leases

log = logging.getLogger(__name__)
MIN_WAIT_S = 0.05


@dataclass(frozen=True)
class HeartbeatResult:
    held: int
    lost: int
    cancel_requested: int


class Heartbeat:
    def __init__(
        self,
        url: str,
        worker_id: uuid.UUID,
        leases: Leases,
        *,
        ttl_s: float,
        every_s: float,
        recovered: asyncio.Event | None = None,
    ) -> None:
        self.url = url
        self.worker_id = worker_id
        self.leases = leases
        self.ttl_s = ttl_s
        self.every_s = every_s
        self.recovered = recovered  # set when a heartbeat succeeds after failing: claim again
        self.last_ok = time.monotonic()  # when the last successful heartbeat was sent
        self.ok = True  # the last heartbeat succeeded
        self._conn: AsyncConnection[DictRow] | None = None

    def healthy(self) -> bool:
        """May the worker take more tasks: the last heartbeat succeeded, recently enough that a
        lease claimed now could be renewed in time (not so after a freeze)."""
        return self.ok and time.monotonic() < self.last_ok + self.ttl_s * FENCE_FRACTION

    async def run_once(self) -> HeartbeatResult:
        """One tick. Raises psycopg.Error when the database cannot be reached."""
        if self._conn is None or self._conn.closed:
            self._conn = await connect.connect(self.url)
        epochs = self.leases.epochs()
        sent = time.monotonic()
        answer = await lease.heartbeat(self._conn, self.worker_id, epochs, ttl_s=self.ttl_s)
        self.leases.renew(answer, sent=sent, seen=time.monotonic())
        self.last_ok = sent
        lost = cancelled = 0
        for task_id in epochs:
            held = self.leases.held.get(task_id)
            if held is None:
                continue  # finished while the heartbeat was in flight
            if task_id not in answer:
                lost += 1
                log.warning("lease lost", extra={"task_id": str(task_id)})
                held.lose()
            elif answer[task_id] and not held.cancel_requested.is_set():
                cancelled += 1
                held.request_cancel()
        return HeartbeatResult(held=len(answer), lost=lost, cancel_requested=cancelled)

    def until_fence(self) -> float:
        """Seconds until the first running lease must be fenced; with none at stake, the
        fence fraction of a TTL (a reconnect then has time to get through)."""
        first = self.leases.next_fence_at()
        if first is None:
            return self.ttl_s * FENCE_FRACTION
        return max(first - time.monotonic(), MIN_WAIT_S)

    def self_fence(self) -> bool:
        """Stop every task whose lease went unrenewed for the fence fraction of a TTL."""
        fenced = self.leases.fence_overdue()
        if fenced:
            log.error("cannot heartbeat; fencing tasks", extra={"fenced": fenced})
        return fenced > 0

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            failing, self.ok = not self.ok, await self._beat()
            if failing and self.ok and self.recovered is not None:
                self.recovered.set()
            delay = jittered(self.every_s, 0.1)
            if not self.ok:
                self.self_fence()
                # Try again soon, and never sleep past the next lease's fence time.
                delay = min(delay, self.until_fence())
            await pause(stop, delay)

    async def _beat(self) -> bool:
        """One heartbeat, cut off at the first lease's fence time: on a network that drops
        packets a statement can hang for minutes, and the fence must not wait for it."""
        try:
            await asyncio.wait_for(self.run_once(), self.until_fence())
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.warning("heartbeat failed", extra={"error": str(exc) or type(exc).__name__})
            await self.close()
            return False
        return True

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError, TimeoutError):
                await asyncio.wait_for(conn.close(), MIN_WAIT_S * 10)
