"""The claim keeps its plan when the statistics are stale: a burst of submits into a queue that
was empty when last analyzed must not turn each claim into a read and sort of every ready task.
"""

from __future__ import annotations

import uuid

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db import lease, outcome
from db.connect import CLAIM_SESSION, connect
from db.sql import query
from tests.support.queue import GRAPHS, new_worker

BURST = 5_000


async def _submit(conn: AsyncConnection[DictRow], count: int) -> None:
    await conn.execute(
        "INSERT INTO tasks (tenant, graph, max_attempts) SELECT 'default', 'pipeline', 3 FROM generate_series(1, %s)",
        (count,),
    )


async def _claim_plan(conn: AsyncConnection[DictRow], worker_id: uuid.UUID) -> str:
    cur = await conn.execute(
        b"EXPLAIN (COSTS OFF) " + query("lease_claim_many").encode(),
        {"worker_id": worker_id, "limit": 16, "ttl_s": 30, "graphs": list(GRAPHS)},
    )
    return "\n".join(row["QUERY PLAN"] for row in await cur.fetchall())


async def test_claim_walks_the_ready_index_after_a_burst_into_an_empty_queue(db_url: str) -> None:
    conn = await connect(db_url)
    async with conn:
        # The statistics of a queue that has run a few tasks and is empty: all completed.
        worker_id = await new_worker(conn)
        await _submit(conn, 200)
        claims = await lease.claim_many(conn, worker_id, limit=200, ttl_s=30, graphs=GRAPHS)
        await outcome.complete_many(
            conn, worker_id, [outcome.Done(c.task_id, c.epoch, "{}") for c in claims]
        )
        await conn.execute("ANALYZE tasks")
        await _submit(conn, BURST)
        # A plain session planned the claim on these statistics as if almost nothing were
        # queued: it read every ready task and sorted them. Since tasks_ready also carries run_at
        # and graph (migration 0008) the planner here picks it even so; the queue sessions make
        # sure of it whatever the statistics.
        for name, value in CLAIM_SESSION.items():
            await conn.execute(f"SET {name} = {value}")
        plan = await _claim_plan(conn, worker_id)
    # The ready index, read in order, stops after LIMIT rows: nothing sorts the ready tasks.
    assert "Sort Key: tasks.priority DESC" not in plan
    assert "Index Scan using tasks_ready on tasks" in plan
    # Readiness and graph are tested on the index entry: a task in backoff or of a graph this
    # worker does not run is passed over without a visit to the table.
    cond = next(line for line in plan.splitlines() if "Index Cond: ((run_at <= " in line)
    assert "AND (graph = ANY (" in cond, plan
    # The UPDATE finds each picked row by primary key, not by walking every queued task.
    assert "Index Scan using tasks_pkey on tasks t" in plan
    assert "Join Filter" not in plan


async def test_group_completion_generic_plan_looks_tasks_up_by_key(db_url: str) -> None:
    """A generic plan made while the table is small must not scan the whole table later."""
    conn = await connect(db_url)
    async with conn:
        worker_id = await new_worker(conn)
        await _submit(conn, 50)
        await conn.execute("ANALYZE tasks")  # a small table
        claims = await lease.claim_many(conn, worker_id, limit=16, ttl_s=30, graphs=GRAPHS)
        for name, value in CLAIM_SESSION.items():
            await conn.execute(f"SET {name} = {value}")
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        cur = await conn.execute(
            b"EXPLAIN (COSTS OFF) " + query("outcome_complete_many").encode(),
            {
                "worker_id": worker_id,
                "task_ids": [c.task_id for c in claims],
                "epochs": [c.epoch for c in claims],
                "results": ["{}"] * len(claims),
            },
        )
        plan = "\n".join(row["QUERY PLAN"] for row in await cur.fetchall())
    assert "Seq Scan on tasks" not in plan and "Hash Join" not in plan, plan
    assert "Index Scan using tasks_pkey on tasks t" in plan, plan
