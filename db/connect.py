"""Connections to Postgres: one pool shape for every process."""

from __future__ import annotations

import select
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

Row = dict[str, Any]


# TCP keepalives: a server that vanished behind a partition (no RST) is noticed in about a
# minute instead of the kernel's default of hours; the connection then errors and is replaced.
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


# Sessions that claim and complete tasks (a worker's queue pool) keep the queue's statements on
# their index plans whatever the statistics say. A queue's table swings from nearly empty to a
# million rows in seconds, and the statistics the planner trusts lag behind until autovacuum's
# next ANALYZE (a minute or more); a prepared statement's generic plan, made while the table was
# small, is kept until then. Seen on a burst of submits into a queue that had just been empty:
# - the claim read every ready task (by bitmap, or by another index) and sorted them, on each
#   claim (10k queued: 0.9 ms became 4-11 ms, growing with the queue), instead of reading
#   `tasks_ready` in order and stopping after LIMIT rows;
# - the group completion kept a generic plan that hashed a sequential scan of the whole table
#   (10k rows: 0.5 ms became 5-10 ms), instead of looking each task up by primary key.
# With sorts, bitmap scans, sequential scans and hash joins off, the index plans are the ones
# left, for custom and generic plans alike. The queue's statements need none of the four: they
# look rows up by key, in index order (a sort that is the only way, as the claim's final ORDER BY
# of its few rows, still runs). Planning every execution instead (plan_cache_mode =
# force_custom_plan) also held, but cost 0.3-0.9 ms of planning per statement: half the
# throughput at batches of 10. The worker's checkpoint writes use another pool, untouched.
# tests/integration/test_claim_plan.py.
CLAIM_SESSION = {
    "enable_sort": "off",
    "enable_bitmapscan": "off",
    "enable_seqscan": "off",
    "enable_hashjoin": "off",
}


async def open_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    wait_s: float = 30.0,
    idle_in_transaction_s: float | None = None,
    claims: bool = False,
    application_name: str | None = None,
    check: bool = True,
    session: dict[str, str] | None = None,
) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
    """An autocommit pool with dict rows. Statements that must be atomic are single statements
    (CTEs) or run inside an explicit `conn.transaction()`. A checkout waits at most `wait_s`
    for a connection, then raises PoolTimeout.

    `idle_in_transaction_s`: Postgres ends a transaction that stays open this long. Workers set
    it: a worker frozen mid-transaction (GC pause, SIGSTOP, a paused VM) would otherwise keep its
    row locks forever, and the reaper (SKIP LOCKED) could never take the task back. Ended, the
    transaction rolls back, which the lease fence makes harmless. It sets
    `idle_in_transaction_session_timeout` (an explicit transaction waiting for the client) and,
    on PostgreSQL 17+, `transaction_timeout`, which also covers a pipeline frozen before its Sync
    (there the idle timeout is not armed).

    `claims`: the pool runs the queue's own statements (a worker's queue pool); its sessions get
    CLAIM_SESSION.

    `application_name`: names the sessions in pg_stat_activity. A worker's name its worker id
    (db.workers.application_name), so the reaper can end the sessions of a worker gone silent.

    `check` (default): every checkout checks its connection first (one empty statement: a round
    trip, 0.1-0.25 ms on a loaded 2-core machine). After Postgres restarts, every pooled
    connection is dead and the client cannot know it until it uses one: unchecked, each of them
    failed one request (the API answered 503 to reads long after the server was back; a
    worker's checkpoint write failed and cost the task an attempt). Checked, a dead one is
    thrown away and replaced before anyone uses it. tests/chaos/test_restart_costs_no_attempt.py
    and tests/chaos/test_postgres_restart.py. The queue pool (`claims`) checks without the round
    trip: `check_quiet` (ADR 0019).

    `session`: more settings for every session of the pool (the API's statement_timeout and
    lock_timeout)."""
    kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row, **KEEPALIVES}
    if application_name is not None:
        kwargs["application_name"] = application_name
    options = {**(CLAIM_SESSION if claims else {}), **(session or {})}
    configure = None
    if idle_in_transaction_s is not None:
        timeout_ms = max(int(idle_in_transaction_s * 1000), 1)
        options["idle_in_transaction_session_timeout"] = str(timeout_ms)
        configure = _transaction_timeout(timeout_ms)
    if options:
        kwargs["options"] = " ".join(f"-c {name}={value}" for name, value in options.items())
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs=kwargs,
        configure=configure,
        check=(check_quiet if claims else AsyncConnectionPool.check_connection) if check else None,
        connection_class=AsyncConnection[DictRow],
        timeout=wait_s,
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    return pool


async def check_quiet(conn: AsyncConnection[Any]) -> None:
    """The queue pool's checkout check, without a round trip when the connection is quiet.

    An idle connection in the pool has nothing to read: the server speaks only when asked.
    A server that restarted, crashed or ended the session has sent its FATAL message and closed
    the socket, or the kernel closed it for a killed backend: the socket is readable (a message
    or end of file). So a readable socket gets the full check (`check_connection`: an empty
    statement, which raises on a dead connection, and the pool replaces it); a quiet one is
    used as it is. What this does not see, a peer gone without a word (a host lost behind a
    partition), the full check did not see quickly either: it hung on the keepalives, as the
    statement now does. The worker retries a completion on a lost connection, and a claim that
    failed claimed nothing (worker/completions.py, worker/claimer.py). The round trip it saves
    was two of the four a batch of no-op tasks made (claim and group completion, each with its
    check), on the worker's critical path (ADR 0019)."""
    if conn.closed or _readable(conn):
        await AsyncConnectionPool.check_connection(conn)


def _readable(conn: AsyncConnection[Any]) -> bool:
    """Whether the connection's socket has something to read (or is closed), without waiting."""
    try:
        ready, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


def _transaction_timeout(
    timeout_ms: int,
) -> Callable[[AsyncConnection[DictRow]], Awaitable[None]]:
    async def configure(conn: AsyncConnection[DictRow]) -> None:
        if conn.info.server_version >= TRANSACTION_TIMEOUT_SINCE:
            await conn.execute(f"SET transaction_timeout = {int(timeout_ms)}")

    return configure


TRANSACTION_TIMEOUT_SINCE = 170000  # PostgreSQL 17


async def connect(url: str) -> AsyncConnection[DictRow]:
    """A dedicated autocommit connection (heartbeat, LISTEN)."""
    return await AsyncConnection.connect(url, autocommit=True, row_factory=dict_row, **KEEPALIVES)


Pool = AsyncConnectionPool[AsyncConnection[DictRow]]
Db = Pool | AsyncConnection[DictRow]


async def fetch_all(db: Db, statement: str, params: dict[str, Any]) -> list[Row]:
    """Run one named statement (db.sql.query) on a pool or a connection; all rows."""
    from db.sql import query

    if isinstance(db, AsyncConnectionPool):
        async with db.connection() as conn:
            return await fetch_all(conn, statement, params)
    cur = await db.execute(query(statement), params)
    return await cur.fetchall() if cur.description else []


async def fetch_one(db: Db, statement: str, params: dict[str, Any]) -> Row | None:
    rows = await fetch_all(db, statement, params)
    return rows[0] if rows else None


@asynccontextmanager
async def transaction(db: Db) -> AsyncIterator[AsyncConnection[DictRow]]:
    """A connection inside a transaction (a savepoint when `db` is already in one)."""
    if isinstance(db, AsyncConnectionPool):
        async with db.connection() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db
