"""The queue pool's checkout check (db.connect.check_quiet, ADR 0019): no round trip for a quiet
connection, and a connection whose server session ended is still replaced before anyone uses it,
as the full check does (the restart case: tests/chaos/test_postgres_restart.py)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from db.connect import open_pool


async def test_a_connection_whose_session_ended_is_replaced_at_checkout(db_url: str) -> None:
    pool = await open_pool(db_url, min_size=1, max_size=1, claims=True)
    try:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT pg_backend_pid() AS pid")
            row = await cur.fetchone()
            assert row is not None
            first = row["pid"]
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
            # Terminated: the backend has sent its FATAL message and closed the socket.
            for _ in range(100):
                gone = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (first,)
                ).fetchone()
                if gone is not None and gone[0] == 0:
                    break
                admin.execute("SELECT pg_sleep(0.02)")
        async with pool.connection() as conn:  # no error: the dead one was thrown away
            cur = await conn.execute("SELECT pg_backend_pid() AS pid")
            row = await cur.fetchone()
            assert row is not None
            assert row["pid"] != first
    finally:
        await pool.close()


async def test_a_quiet_connection_is_used_without_a_round_trip(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = 0
    full_check = AsyncConnectionPool.check_connection

    async def counted(conn: AsyncConnection[Any]) -> None:
        nonlocal checks
        checks += 1
        await full_check(conn)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", counted)
    pool = await open_pool(db_url, min_size=1, max_size=1, claims=True)
    try:
        for _ in range(3):
            async with pool.connection() as conn:
                await conn.execute("SELECT 1")
        assert checks == 0
    finally:
        await pool.close()
