"""Ceiling A: the least a Postgres queue can do per task, in plain SQL with psycopg and no Outlast
code: claim with FOR UPDATE SKIP LOCKED, then complete, on a table with the exact shape of
`tasks` (`LIKE tasks INCLUDING ALL`: columns, constraints, the partial ready index). No event
rows, no clock function, no checkpoint; `synchronous_commit` as the server has it.

Two loops, in 1 or 2 processes:
- the best raw loop we could write (`_drain_pooled`): several connections per process, one
  thread each, every thread claiming a batch and completing it in one statement; the completion
  of a batch and the claim of the next go in one pipeline (two transactions, one round trip);
- the single-connection loop (`_drain_a`): claim, then complete, then claim, one task per
  statement or a batch; kept as a labelled row, it is bound by round trips, not by Postgres.

This module imports only psycopg, so its processes start in a blink.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from multiprocessing.synchronize import Event
from typing import Any, LiteralString

import psycopg

SETUP = """
CREATE TABLE IF NOT EXISTS ceiling_tasks (LIKE tasks INCLUDING ALL) WITH (fillfactor = 80)
"""
LOAD = """
INSERT INTO ceiling_tasks (tenant, graph, max_attempts)
SELECT 'default', 'bench-noop', 3 FROM generate_series(1, %s)
"""
CLAIM = """
UPDATE ceiling_tasks AS t
SET state = 'running', lease_epoch = t.lease_epoch + 1, attempts = t.attempts + 1,
    worker_id = %(worker)s, lease_expires_at = clock_timestamp() + interval '30 seconds',
    attempt_started_at = clock_timestamp(), started_at = coalesce(t.started_at, clock_timestamp()),
    updated_at = clock_timestamp()
FROM (SELECT id FROM ceiling_tasks
      WHERE state = 'queued' AND run_at <= clock_timestamp()
      ORDER BY priority DESC, run_at, id
      LIMIT %(limit)s
      FOR UPDATE SKIP LOCKED) AS picked
WHERE t.id = picked.id
RETURNING t.id, t.lease_epoch, t.input
"""
COMPLETE_ONE = """
UPDATE ceiling_tasks
SET state = 'completed', result = '{"n": 1}', worker_id = NULL, lease_expires_at = NULL,
    finished_at = clock_timestamp(), updated_at = clock_timestamp()
WHERE id = %(id)s AND lease_epoch = %(epoch)s AND state = 'running'
"""
COMPLETE_MANY = """
UPDATE ceiling_tasks AS t
SET state = 'completed', result = '{"n": 1}', worker_id = NULL, lease_expires_at = NULL,
    finished_at = clock_timestamp(), updated_at = clock_timestamp()
FROM unnest(%(ids)s::uuid[], %(epochs)s::bigint[]) AS done (id, epoch)
WHERE t.id = done.id AND t.lease_epoch = done.epoch AND t.state = 'running'
"""


def _drain_a(url: str, batch: int, go: Event, out: Any) -> None:
    """One ceiling-A process: claim and complete until the table has no ready task."""
    done = 0
    worker = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        out.put(("ready", 0.0))
        go.wait()
        while True:
            rows = conn.execute(CLAIM, {"worker": worker, "limit": batch}, prepare=True).fetchall()
            if not rows:
                break
            if batch == 1:
                conn.execute(COMPLETE_ONE, {"id": rows[0][0], "epoch": rows[0][1]}, prepare=True)
            else:
                conn.execute(
                    COMPLETE_MANY,
                    {"ids": [r[0] for r in rows], "epochs": [r[1] for r in rows]},
                    prepare=True,
                )
            done += len(rows)
    out.put((done, time.monotonic()))


def _loop(conn: psycopg.Connection[Any], batch: int, counts: list[int], slot: int) -> None:
    """One connection's loop: claim a batch; then, in one pipeline, complete it and claim the
    next (two implicit transactions, each committed, one round trip) until nothing is left."""
    worker = uuid.uuid4()
    rows = conn.execute(CLAIM, {"worker": worker, "limit": batch}, prepare=True).fetchall()
    while rows:
        done = {"ids": [r[0] for r in rows], "epochs": [r[1] for r in rows]}
        with conn.pipeline() as pipeline:
            conn.execute(COMPLETE_MANY, done, prepare=True)
            pipeline.sync()
            claim = conn.execute(CLAIM, {"worker": worker, "limit": batch}, prepare=True)
        counts[slot] += len(rows)
        rows = claim.fetchall()


def _drain_pooled(url: str, batch: int, go: Event, out: Any, connections: int) -> None:
    """One process of the best loop: `connections` connections, a thread each."""
    conns = [psycopg.connect(url, autocommit=True) for _ in range(connections)]
    counts = [0] * connections
    threads = [
        threading.Thread(target=_loop, args=(conn, batch, counts, i))
        for i, conn in enumerate(conns)
    ]
    try:
        out.put(("ready", 0.0))
        go.wait()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        finished = time.monotonic()
    finally:
        for conn in conns:
            conn.close()
    out.put((sum(counts), finished))


def ceiling_pooled(url: str, tasks: int, batch: int, processes: int, connections: int) -> float:
    """Tasks per second for the best loop: `processes` processes of `connections` connections
    each, claiming and completing `batch` at a time."""
    _load(url, tasks)
    from bench.procs import drain_rate

    target = functools.partial(_drain_pooled, connections=connections)
    return drain_rate(target, url, batch, processes, tasks, "ceiling A")


def _load(url: str, tasks: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SETUP)
        conn.execute("TRUNCATE ceiling_tasks")
        conn.execute(LOAD, (tasks,))
        conn.execute("VACUUM ANALYZE ceiling_tasks")


def ceiling_a(url: str, tasks: int, batch: int, processes: int) -> float:
    """Tasks per second for `processes` single-connection processes draining `tasks` tasks,
    `batch` at a time."""
    _load(url, tasks)
    # Imported here: the spawned children import this module and must stay light.
    from bench.procs import drain_rate

    return drain_rate(_drain_a, url, batch, processes, tasks, "ceiling A")


def ceiling_statements() -> tuple[LiteralString, ...]:
    """The ceiling's SQL, for the unit test that keeps it free of Outlast's functions."""
    return (CLAIM, COMPLETE_ONE, COMPLETE_MANY)
