"""Group commit of completions: a worker's finished tasks are recorded many in one statement.

A runner whose task finished hands its result here and waits. If fewer than `writers` writes are
in flight, one more starts on the next turn of the event loop with every completion queued by
then; completions that arrive while all writers are busy go in the next statement. Nothing waits
on a timer: a lone completion is written at once, and under load each statement carries whatever
finished meanwhile (up to `max_batch`). This saves a commit (and its fsync) per task, which is
most of a short task's cost. Several writers in flight keep the round trip of one statement from
bounding the worker's rate (a batch claimed while the last one is being written gets its own
statement at once); their task sets are disjoint and each locks its rows in id order, as the
heartbeat does, so they cannot deadlock.

Fencing is unchanged: `outcome_complete_many` checks every task's epoch and lease with the lease
fence, row by row. A task whose lease was lost is missing from the answer and its
runner gets LeaseLost; the others land. If Postgres refuses the statement's data (a result it
cannot store), each completion of that batch is retried alone, so one bad task cannot take its
neighbours down with it. A lost connection (Postgres restarting) is retried with backoff for up
to `retry_for_s` (the worker passes the fence fraction of its lease TTL), while the heartbeat
keeps the leases: a completion is idempotent under its fence (once landed, a retry finds the
task no longer running and changes nothing). Any other error, or a database still unreachable
after that, reaches every runner of the batch at once; their leases are released or expire and
the tasks are handed out again.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import psycopg
from psycopg_pool import PoolTimeout

from db import outcome
from db.connect import Pool
from db.errors import LeaseLost
from db.outcome import Done

log = logging.getLogger(__name__)

Pending = tuple[Done, asyncio.Future[None]]


class Completions:
    def __init__(
        self,
        pool: Pool,
        worker_id: uuid.UUID,
        *,
        max_batch: int = 500,
        retry_for_s: float = 0.0,
        writers: int = 1,
    ) -> None:
        self.pool = pool
        self.worker_id = worker_id
        self.max_batch = max_batch
        self.retry_for_s = retry_for_s
        self.writers = max(1, writers)
        self._queued: list[Pending] = []
        self._writing: set[asyncio.Task[None]] = set()

    async def complete(self, task_id: uuid.UUID, epoch: int, result_json: str) -> None:
        """Record the task as completed with `result_json`; returns once it is committed.
        Raises LeaseLost if the lease was lost (nothing written), or the database's error."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((Done(task_id, epoch, result_json), future))
        if len(self._queued) == 1 and len(self._writing) < self.writers:
            self._writing.add(asyncio.create_task(self._write_all(), name="completions"))
        await future

    async def _write_all(self) -> None:
        try:
            while self._queued:
                batch = self._queued[: self.max_batch]
                del self._queued[: self.max_batch]
                try:
                    await self._write(batch)
                finally:  # cancelled mid-write: no runner may wait forever
                    for _, future in batch:
                        _settle(future, RuntimeError("completion not recorded: writer stopped"))
        finally:
            # Out of the set before returning, not in a done callback: a completion queued in
            # between would otherwise find every writer busy and none left to take it.
            writer = asyncio.current_task()
            if writer is not None:
                self._writing.discard(writer)

    async def _complete_many(self, done: list[Done]) -> set[uuid.UUID]:
        """complete_many, again after a lost connection until `retry_for_s` has passed."""
        give_up_at = time.monotonic() + self.retry_for_s
        delay = 0.05
        while True:
            try:
                return set(await outcome.complete_many(self.pool, self.worker_id, done))
            except (psycopg.OperationalError, PoolTimeout) as exc:
                if time.monotonic() + delay > give_up_at:
                    raise
                log.warning("completion not written; retrying", extra={"error": str(exc)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _write(self, batch: list[Pending]) -> None:
        try:
            landed = await self._complete_many([d for d, _ in batch])
        except psycopg.DataError as exc:  # a result Postgres refuses: find whose, alone
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            log.warning(
                "group completion refused; recording each task alone",
                extra={"tasks": len(batch), "error": str(exc)},
            )
            for pending in batch:
                await self._write([pending])
            return
        except Exception as exc:  # the database is unreachable, or a bug: every runner hears it
            for _, future in batch:
                _settle(future, exc)
            return
        for done, future in batch:
            _settle(future, None if done.task_id in landed else LeaseLost(done.task_id, done.epoch))
        if landed:
            log.info("completed", extra={"count": len(landed)})
            if log.isEnabledFor(logging.DEBUG):
                log.debug("completed tasks", extra={"task_ids": [str(i) for i in landed]})


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    """Wake the runner, unless it stopped waiting (it was cancelled at shutdown)."""
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
