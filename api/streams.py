"""Event streams as offsets into task_events (ADR 0015).

    GET /v1/stream, GET /v1/tasks/{id}/stream   (Server-Sent Events; api/routes/streams.py)

An event's SSE id is its task_events row id; a stream is a position in that table. A client that
reconnects with `Last-Event-ID: N` reads `id > N`: nothing it saw comes again, nothing it missed is
lost, and it may reconnect to any API replica, since every replica reads the same table. No
replica holds events in memory for its clients.

Waking: an insert into task_events NOTIFYs `outlast_events` with its tenant (migration 0024).
Each API process holds one LISTEN connection (`Wakeups`), which sets the asyncio.Event of every
open stream of that tenant; the stream then reads the table from its offset. A stream also reads
every `poll_s` without a notification: a lost notification, or a dropped LISTEN connection,
costs that much latency and no event.

Gaps: an id is taken when a row is inserted, not when its transaction commits, so a committed row
may be visible while a lower id is still in flight in an open transaction. A stream that read
past such a gap would never deliver the lower id. So a stream reads only up to the first gap in
the id sequence (every tenant's ids, read from the primary key alone), until the gap is
`gap_s` old: then it is taken for an id that will never appear (a rolled-back insert) and passed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import psycopg
from psycopg_pool import PoolClosed

from db import connect, stream
from db.connect import Pool, Row

log = logging.getLogger("outlast.api")
CHANNEL = "outlast_events"
TOKENS = "outlast_tokens"  # token deltas (llm_deltas): payload the task id, ADR 0022
BATCH = 500  # rows per read; a stream that is behind reads again at once
# Ids this far below the newest are settled (no transaction still holds one): in-flight inserts
# are a few statements' worth, and a gap older than gap_s is passed anyway.
WINDOW = 10_000


@dataclass(frozen=True)
class StreamConfig:
    poll_s: float = 5.0  # read without a notification this often
    gap_s: float = 3.0  # after this long, a gap in the ids is a rolled-back insert
    batch: int = BATCH
    window: int = WINDOW
    retry_s: float = 0.25  # first wait after a read found the pool exhausted or the db gone


class Wakeups:
    """One LISTEN connection per API process, waking the open streams of the notified tenant
    (`outlast_events`) or, for token deltas, of the notified task (`outlast_tokens`, subscribed
    as `token_key(task_id)`). A stream waiting on it holds no pooled connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._streams: dict[str, set[asyncio.Event]] = defaultdict(set)

    @contextmanager
    def subscribe(self, key: str, event: asyncio.Event | None = None) -> Iterator[asyncio.Event]:
        """An event set on every notification for `key` (a tenant, or a `token_key`); `event`
        to share one between keys."""
        event = event or asyncio.Event()
        self._streams[key].add(event)
        try:
            yield event
        finally:
            self._streams[key].discard(event)
            if not self._streams[key]:
                del self._streams[key]

    def wake(self, tenant: str | None = None) -> None:
        """Wake the streams of `tenant` (None: every stream)."""
        groups = self._streams.values() if tenant is None else [self._streams.get(tenant, set())]
        for group in groups:
            for event in group:
                event.set()

    async def run_forever(self) -> None:
        backoff = 0.5
        while True:
            try:
                conn = await connect.connect(self.url)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await conn.execute(f"LISTEN {TOKENS}")
                    backoff = 0.5
                    self.wake()  # anything sent while we were not listening: look now
                    async for notice in conn.notifies():
                        tokens = notice.channel == TOKENS
                        self.wake(token_key(notice.payload) if tokens else notice.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("stream listen connection lost", extra={"error": str(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)


def token_key(task_id: object) -> str:
    return f"tokens:{task_id}"


@dataclass
class Gaps:
    """The first time each run of missing ids was seen, so a young gap holds a stream back."""

    gap_s: float
    clock: Callable[[], float] = time.monotonic
    _seen: dict[int, float] = field(default_factory=dict)

    def horizon(self, after: int, ids: list[int]) -> int:
        """The highest id a stream at `after` may read up to, given the ids that follow it."""
        now = self.clock()
        self._seen = {start: at for start, at in self._seen.items() if start > after}
        expected = after + 1
        for found in ids:
            if found > expected and now - self._seen.setdefault(expected, now) < self.gap_s:
                return expected - 1
            expected = found + 1
        return expected - 1


Read = Callable[[int, int], Awaitable[list[Row]]]  # (after, upto) -> rows, oldest first


@dataclass
class Batch:
    rows: list[Row]
    after: int  # the offset once `rows` are delivered
    wait_s: float | None  # how long to wait for a wake before reading again (None: at once)


async def _read(pool: Pool, gaps: Gaps, after: int, read: Read, config: StreamConfig) -> Batch:
    """One read from `after`: two short statements, each on a pooled connection it gives back."""
    base, following = await stream.ids(pool, after=after, window=config.window, limit=config.batch)
    upto = gaps.horizon(base, following)
    rows = await read(after, upto) if upto > after else []
    # Every row up to `upto` has been read unless the read was cut at its limit.
    cut = len(rows) >= config.batch
    held = bool(following) and upto < following[-1]
    if cut or (not held and len(following) >= config.batch):
        wait_s = None  # behind: read on at once
    else:
        wait_s = min(config.poll_s, config.gap_s / 4) if held else config.poll_s
    return Batch(rows, rows[-1]["id"] if cut else upto, wait_s)


async def follow(
    pool: Pool, wakeups: Wakeups, tenant: str, after: int, read: Read, config: StreamConfig
) -> AsyncGenerator[Row]:
    """The rows `read` returns after `after`, for ever, each once and in id order.

    Between reads the stream holds no pooled connection: it waits on its tenant's wake-up (the
    process's one LISTEN connection) or `poll_s`. A read that finds the pool exhausted (or the
    database gone) does not end the stream: its offset has not moved, so it waits `retry_s`
    (doubling up to `poll_s`) and reads again from the same offset, losing and repeating nothing.
    """
    gaps = Gaps(config.gap_s)
    retry_s = config.retry_s
    with wakeups.subscribe(tenant) as woken:
        while True:
            woken.clear()
            try:
                batch = await _read(pool, gaps, after, read, config)
            except PoolClosed:
                return  # the API is shutting down: the stream ends
            except psycopg.OperationalError as exc:  # PoolTimeout is one
                log.warning("stream read failed; retrying", extra={"error": type(exc).__name__})
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, config.poll_s)
                continue
            retry_s = config.retry_s
            for row in batch.rows:
                yield row
            after = batch.after
            if batch.wait_s is not None:
                with suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), batch.wait_s)


ReadDeltas = Callable[[int], Awaitable[list[Row]]]  # after -> rows, oldest first


async def follow_deltas(
    pool: Pool, wakeups: Wakeups, key: str, after: int, read: ReadDeltas, config: StreamConfig
) -> AsyncGenerator[Row]:
    """A task's token deltas after `after`, for ever, woken by `outlast_tokens` for the task.
    No gap walk (ADR 0022): one worker writes a task's deltas, a batch per statement, so an id
    in flight is rare (two calls of one node at once) and costs at most a piece of a live view."""
    retry_s = config.retry_s
    with wakeups.subscribe(key) as woken:
        while True:
            woken.clear()
            try:
                rows = await read(after)
            except PoolClosed:
                return
            except psycopg.OperationalError as exc:
                log.warning("token read failed; retrying", extra={"error": type(exc).__name__})
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, config.poll_s)
                continue
            retry_s = config.retry_s
            for row in rows:
                yield row
            if rows:
                after = rows[-1]["id"]
            if len(rows) < config.batch:
                with suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), config.poll_s)


async def merge(**sources: AsyncGenerator[Row]) -> AsyncIterator[tuple[str, Row]]:
    """(source name, row) as each source yields, until the consumer stops; each source's own
    order is kept. A source that fails ends the merge with its error."""
    queue: asyncio.Queue[tuple[str, Row] | BaseException] = asyncio.Queue(maxsize=1)

    async def pump(name: str, source: AsyncGenerator[Row]) -> None:
        try:
            async for row in source:
                await queue.put((name, row))
        except Exception as exc:  # handed to the consumer, which raises it
            await queue.put(exc)
        finally:
            await source.aclose()  # its subscription ends with it

    pumps = [asyncio.create_task(pump(name, source)) for name, source in sources.items()]
    try:
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        for task in pumps:
            task.cancel()
        for task in pumps:
            with suppress(asyncio.CancelledError):
                await task
