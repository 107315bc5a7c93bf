"""The heartbeat: one statement per tick extends every lease this worker holds.

A task missing from the answer is lost (another worker took it, it expired, or it left
`running`): its runner is cancelled at once. A raised cancel flag is passed to the runner, which
stops at its next node boundary. If the database cannot be reached for long enough that the
leases may have expired, the worker fences itself by its own monotonic clock: it stops every
task rather than risk running one that another worker now holds.
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
from worker.leases import Leases

log = logging.getLogger(__name__)
FENCE_AT = 0.8  # of the lease TTL, after the last successful heartbeat
MIN_WAIT_S = 0.05


@dataclass(frozen=True)
class HeartbeatResult:
    held: int
    lost: int
    cancel_requested: int


class Heartbeat:
    def __init__(
        self, url: str, worker_id: uuid.UUID, leases: Leases, *, ttl_s: float, every_s: float
    ) -> None:
        self.url = url
        self.worker_id = worker_id
        self.leases = leases
        self.ttl_s = ttl_s
        self.every_s = every_s
        self.last_ok = time.monotonic()
        self._conn: AsyncConnection[DictRow] | None = None

    async def run_once(self) -> HeartbeatResult:
        """One tick. Raises psycopg.Error when the database cannot be reached."""
        epochs = self.leases.epochs()
        if self._conn is None or self._conn.closed:
            self._conn = await connect.connect(self.url)
        answer = await lease.heartbeat(self._conn, self.worker_id, epochs, ttl_s=self.ttl_s)
        self.last_ok = time.monotonic()
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

    def fence_deadline(self) -> float:
        """When, by the monotonic clock, this worker must stop its tasks if no heartbeat
        succeeds before: 80 % of a TTL after the last success, ahead of the leases' expiry."""
        return self.last_ok + self.ttl_s * FENCE_AT

    def self_fence(self) -> bool:
        """Stop every task if no heartbeat has succeeded for most of a lease TTL."""
        if time.monotonic() < self.fence_deadline() or not len(self.leases):
            return False
        log.error("cannot heartbeat; fencing this worker's tasks", extra={"held": len(self.leases)})
        self.leases.lose_all()
        return True

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            ok = await self._beat()
            delay = jittered(self.every_s, 0.1)
            if not ok:
                self.self_fence()
                # Try again soon, and never sleep past the fence deadline.
                delay = min(delay, max(self.fence_deadline() - time.monotonic(), MIN_WAIT_S))
            await pause(stop, delay)

    async def _beat(self) -> bool:
        """One heartbeat, cut off at the fence deadline: on a network that drops packets a
        statement can hang for minutes, and the fence must not wait for it."""
        timeout = max(self.fence_deadline() - time.monotonic(), MIN_WAIT_S)
        try:
            await asyncio.wait_for(self.run_once(), timeout)
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
