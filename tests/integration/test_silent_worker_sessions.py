"""The reaper ends the open transactions of silent workers, and only those (ADR 0008): a session
named for a worker whose lease expired, opened before the lease ran out."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from db import workers
from db.connect import Pool
from tests.support.queue import claim_one, new_worker, submit


def open_transaction(db_url: str, worker_id: uuid.UUID) -> psycopg.Connection:
    """A session named as the worker's, with a transaction open (as a frozen write leaves it)."""
    conn = psycopg.connect(db_url, application_name=workers.application_name(worker_id))
    conn.execute("SELECT 1")  # not autocommit: the transaction stays open
    return conn


def alive(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


async def expire(pool: Pool, task_id: uuid.UUID) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE tasks SET lease_expires_at = clock_timestamp() WHERE id = %s", (task_id,)
        )


async def test_a_live_lease_keeps_its_sessions(pool: Pool, db_url: str) -> None:
    worker_id = await new_worker(pool)
    await submit(pool)
    await claim_one(pool, worker_id)
    conn = open_transaction(db_url, worker_id)
    try:
        assert await workers.sessions_end(pool, stale_s=90) == 0
        assert alive(conn)
    finally:
        conn.close()


@pytest.mark.parametrize("opened", ["before", "after"])
async def test_an_expired_lease_ends_the_transactions_opened_before_it_ran_out(
    pool: Pool, db_url: str, opened: str
) -> None:
    worker_id = await new_worker(pool)
    task_id = await submit(pool)
    await claim_one(pool, worker_id)
    other = open_transaction(db_url, await new_worker(pool))  # another worker's session
    if opened == "before":
        conn = open_transaction(db_url, worker_id)
        await expire(pool, task_id)
    else:
        await expire(pool, task_id)
        conn = open_transaction(db_url, worker_id)
    try:
        ended = await workers.sessions_end(pool, stale_s=90)
        assert ended == (1 if opened == "before" else 0)
        assert alive(conn) is (opened == "after")
        assert alive(other)
    finally:
        conn.close()
        other.close()


async def test_a_lost_worker_loses_its_old_transactions(pool: Pool, db_url: str) -> None:
    """Even holding no lease (its task was already taken back): marked lost, its transactions
    open for longer than stale_s are ended."""
    worker_id = await new_worker(pool)
    conn = open_transaction(db_url, worker_id)
    try:
        assert await workers.sessions_end(pool, stale_s=0) == 0  # not lost yet
        assert await workers.mark_lost(pool, stale_s=0, batch=10) == 1
        assert await workers.sessions_end(pool, stale_s=0) == 1
        assert not alive(conn)
    finally:
        conn.close()
