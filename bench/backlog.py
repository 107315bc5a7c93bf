"""Putting tasks in a bench database, and reading back when they ran.

`submit` goes through the product's own submit statements (`tasks_insert_many` in batches, or
`tasks_insert` one by one), so every task has its `submitted` event and wakes workers. `queued`
and `waiting` are setup for the claim-latency section only: plain bulk inserts that lay down a
deep queue in seconds, shaped as the product leaves such rows.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from db.sql import query

CHUNK = 1000


def _batch_params(
    graph: str, count: int, input: dict[str, Any], max_attempts: int
) -> dict[str, Any]:
    return {
        "tenant": "default",
        "graphs": [graph] * count,
        "agents": [None] * count,
        "agent_versions": [None] * count,
        "inputs": [Jsonb(input)] * count,
        "metadatas": [Jsonb({})] * count,
        "priorities": [0] * count,
        "run_ats": [None] * count,
        "max_attempts": [max_attempts] * count,
        "timeouts_s": [None] * count,
        "wait_timeouts_s": [None] * count,
        "on_wait_timeouts": [None] * count,
    }


def submit(
    url: str, graph: str, count: int, input: dict[str, Any] | None = None, max_attempts: int = 3
) -> datetime:
    """Submit `count` tasks in one transaction (tasks_insert_many, 1,000 a statement). Returns
    the database clock just after the commit: when the tasks became visible to workers."""
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            left = count
            while left:
                size = min(left, CHUNK)
                conn.execute(
                    query("tasks_insert_many"),
                    _batch_params(graph, size, input or {}, max_attempts),
                )
                left -= size
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    if row is None:
        raise RuntimeError("SELECT clock_timestamp() answered no row")
    return row[0]  # type: ignore[no-any-return]


def submit_one(conn: psycopg.Connection[Any], graph: str, input: dict[str, Any]) -> None:
    """One task through the single-submit statement the API uses (tasks_insert)."""
    conn.execute(
        query("tasks_insert"),
        {
            "tenant": "default",
            "graph": graph,
            "agent": None,
            "pinned_version": None,
            "input": Jsonb(input),
            "metadata": Jsonb({}),
            "priority": 0,
            "run_at": None,
            "max_attempts": 3,
            "timeout_s": None,
            "wait_timeout_s": None,
            "on_wait_timeout": None,
            "idempotency_key": None,
            "request_hash": None,
            "resume_patch": None,
            "thread_id": None,
        },
    )


def settle(conn: psycopg.Connection[Any]) -> None:
    """After a bulk load: VACUUM ANALYZE, then CHECKPOINT (when allowed), so the load's dirty
    pages are written now rather than during the measurement that follows."""
    conn.execute("VACUUM ANALYZE tasks")
    # Without superuser or pg_checkpoint (a DATABASE_URL of yours), the load settles on its own.
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
        conn.execute("CHECKPOINT")


def queued(url: str, count: int, graph: str = "bench-noop") -> None:
    """Lay down `count` more queued tasks in one statement, then settle the table."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tasks (tenant, graph, max_attempts)"
            " SELECT 'default', %s, 3 FROM generate_series(1, %s)",
            (graph, count),
        )
        settle(conn)


def waiting(url: str, count: int) -> None:
    """`count` tasks parked on a person: waiting_for_approval, no lease, one open wait each,
    as db/queries/waits.sql waits_park leaves them."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            WITH parked AS (
                INSERT INTO tasks (tenant, graph, max_attempts, state, attempts, lease_epoch,
                                   started_at)
                SELECT 'default', 'bench-noop', 3, 'waiting_for_approval', 1, 1, clock_timestamp()
                FROM generate_series(1, %s)
                RETURNING id, tenant
            )
            INSERT INTO task_waits (tenant, task_id, interrupt_id, kind, payload, expires_at,
                                    on_timeout)
            SELECT tenant, id, 'bench', 'approval', '{"action": "bench"}'::jsonb,
                   clock_timestamp() + interval '1 day', 'fail'
            FROM parked
            """,
            (count,),
        )
        settle(conn)


@dataclass(frozen=True)
class Progress:
    completed: int
    failed: int
    last_finished_at: datetime | None


def progress(url: str) -> Progress:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'completed'),"
            " count(*) FILTER (WHERE state = 'failed' OR attempts > 1),"
            " max(finished_at) FROM tasks"
        ).fetchone()
    if row is None:
        raise RuntimeError("an aggregate answered no row")
    return Progress(row[0], row[1], row[2])


def start_latencies_ms(url: str, since: datetime) -> list[float]:
    """Per task created after `since`: submit (created_at) to first claim (started_at), both by
    the database clock."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM started_at - created_at) * 1000 FROM tasks"
            " WHERE started_at IS NOT NULL AND created_at > %s",
            (since,),
        ).fetchall()
    return [float(r[0]) for r in rows]
