"""The KEDA ScaledObject's queries, run as KEDA runs them (read from deploy/k8s), on a real
queue: what they count, what they leave out, and the indexes they read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db import lease, outcome, workers
from db.connect import connect
from tests.support.deploy import keda_queries
from tests.support.queue import GRAPHS, claim_one, new_worker, submit

UNSERVED = "graph-no-worker-runs"


async def scalar(conn: AsyncConnection[DictRow], sql: str) -> object:
    cur = await conn.execute(sql)  # type: ignore[arg-type]
    row = await cur.fetchone()
    assert row is not None
    [value] = row.values()
    return value


async def at(conn: AsyncConnection[DictRow], when: datetime) -> None:
    """Move this session's outlast_now() (a test database honours `outlast.now`)."""
    await conn.execute("SELECT set_config('outlast.now', %s, false)", (when.isoformat(),))


async def test_work_counts_ready_tasks_of_served_graphs_and_running_ones(db_url: str) -> None:
    queries = keda_queries()
    conn = await connect(db_url)
    async with conn:
        worker_id = await new_worker(conn)
        for _ in range(3):
            await submit(conn)
        await claim_one(conn, worker_id)  # one of the three is running now
        later = datetime.now(UTC) + timedelta(hours=1)
        await submit(conn, run_at=later)  # delayed: not ready
        for _ in range(2):
            await submit(conn, UNSERVED)  # ready, but no worker runs its graph
        work = await scalar(conn, queries["work"])
        assert work == 3, "two ready tasks of served graphs and one running"
        assert isinstance(work, int)
        # Once the delayed task's run_at has passed, it counts.
        await at(conn, later + timedelta(seconds=1))
        assert await scalar(conn, queries["work"]) == 4
        # With no running worker, no graph is served: only the running task counts.
        await workers.set_state(conn, worker_id, "stopped")
        assert await scalar(conn, queries["work"]) == 1


async def test_oldest_ready_age_is_whole_seconds_of_served_graphs(db_url: str) -> None:
    query = keda_queries()["oldest-ready-age"]
    conn = await connect(db_url)
    async with conn:
        worker_id = await new_worker(conn)
        assert await scalar(conn, query) == 0, "no ready task: 0, not NULL"
        long_ago = datetime.now(UTC) - timedelta(hours=2)
        await submit(conn, UNSERVED, run_at=long_ago)  # older, of a graph no worker runs
        task_id = await submit(conn, run_at=long_ago + timedelta(hours=1))
        cur = await conn.execute("SELECT run_at FROM tasks WHERE id = %s", (task_id,))
        row = await cur.fetchone()
        assert row is not None
        await at(conn, row["run_at"] + timedelta(seconds=100.7))
        age = await scalar(conn, query)
        assert age == 100, "the served task's age, floored; the older unserved one left out"
        assert isinstance(age, int)
        await workers.set_state(conn, worker_id, "stopped")
        assert await scalar(conn, query) == 0


async def _finished_history(conn: AsyncConnection[DictRow], rounds: int, size: int) -> None:
    """A queue that has run many tasks: most rows are completed, as in production."""
    worker_id = await new_worker(conn)
    for _ in range(rounds):
        await conn.execute(
            "INSERT INTO tasks (tenant, graph, max_attempts) "
            "SELECT 'default', 'pipeline', 3 FROM generate_series(1, %s)",
            (size,),
        )
        claims = await lease.claim_many(conn, worker_id, limit=size, ttl_s=30, graphs=GRAPHS)
        await outcome.complete_many(
            conn, worker_id, [outcome.Done(c.task_id, c.epoch, "{}") for c in claims]
        )


async def plan(conn: AsyncConnection[DictRow], sql: str) -> str:
    cur = await conn.execute(b"EXPLAIN (COSTS OFF) " + sql.encode())
    return "\n".join(row["QUERY PLAN"] for row in await cur.fetchall())


async def test_queries_read_the_ready_and_running_indexes(db_url: str) -> None:
    """With a backlog, the ready part is an index-only scan of tasks_ready that tests run_at and
    graph on the index entry. (On a nearly empty queue the planner may read the few queued rows
    through tasks_state_created instead: as cheap there.)"""
    conn = await connect(db_url)
    async with conn:
        # No autovacuum here, and an aggressive VACUUM below: with a plain VACUUM racing
        # autovacuum, the visibility map (what an index-only scan relies on) came out different
        # from run to run, and so did the planner's choice.
        await conn.execute("ALTER TABLE tasks SET (autovacuum_enabled = off)")
        await _finished_history(conn, rounds=10, size=1000)
        await conn.execute(
            "INSERT INTO tasks (tenant, graph, max_attempts) "
            "SELECT 'default', 'pipeline', 3 FROM generate_series(1, 2000)"
        )
        await conn.execute("VACUUM (FREEZE, ANALYZE) tasks")
        plans = {name: await plan(conn, sql) for name, sql in keda_queries().items()}
    for name, text in plans.items():
        assert "Seq Scan on tasks" not in text, f"{name}:\n{text}"
        assert "Index Only Scan using tasks_ready on tasks" in text, f"{name}:\n{text}"
        cond = next(line for line in text.splitlines() if "Index Cond: ((run_at <= " in line)
        assert "AND (graph = ANY (" in cond, f"{name}:\n{text}"
    # The running tasks are counted from an index too: tasks_running, or tasks_state_created.
    running = plans["work"].split("InitPlan")[-1]
    assert "Index Only Scan using tasks_running" in running or (
        "Index Cond: (state = 'running'::text)" in running
    ), plans["work"]
