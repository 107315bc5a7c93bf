"""Section 9: the fair claim (lease_claim_fair, ADR 0013) beside the plain claim
(lease_claim_many), in the same run, on the same 100k-deep queue: claim latency and the rate one
claimer drains at (claim 10, complete them, as a worker's loop does), with two agents and with
100, every agent capped (a cap high enough never to bind, so its lock and count are paid); and
how many claims pass before agent B's first task starts while agent A has the backlog.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

import psycopg

from bench import backlog
from bench.session import Session, say
from bench.stats import percentile
from bench.table import Row, Target
from db import lease, outcome, workers
from db.connect import Pool, open_pool

GRAPH = "bench-noop"
Claimer = Callable[..., Awaitable[list[lease.Claim]]]


def fairness(session: Session) -> list[Row]:
    cfg = session.config
    depth = cfg.count("fair_depth")
    claims = cfg.claims_per_depth
    rows: list[Row] = []
    for agents in (2, 100):
        with session.database(f"fairness-{agents}") as stack:
            say(f"fairness: {depth:,} queued over {agents} agents")
            _fill(stack.url, depth, agents)
            plain_ms, plain_rate = _measure(stack.url, lease.claim_many, claims, cfg.claim_batch)
            fair_ms, fair_rate = _measure(stack.url, lease.claim_fair, claims, cfg.claim_batch)
        label = f"{agents} agents, {_k(depth)} queued"
        rows += [
            Row(
                "9",
                f"plain claim p50, {label}",
                plain_ms,
                "ms",
                note=f"lease_claim_many vs lease_claim_fair (every agent capped at 10,000), "
                f"{cfg.claim_batch} per claim, {claims} claims each, one claimer that completes "
                "each batch; same database, plain first",
            ),
            Row("9", f"fair claim p50, {label}", fair_ms, "ms", baseline=plain_ms),
            Row("9", f"plain claim+complete rate, {label}", plain_rate, "tasks/s"),
            Row(
                "9",
                f"fair claim+complete rate, {label}",
                fair_rate,
                "tasks/s",
                baseline=plain_rate,
                target=Target(">=", 0.8),
            ),
        ]
    with session.database("fairness-start") as stack:
        say(f"fairness: agent A with {depth:,} queued, then 10 of agent B")
        rounds = _rounds_until_b(stack.url, depth, cfg.claim_batch)
    rows.append(
        Row(
            "9",
            f"claims until B's first task starts (A: {_k(depth)} queued)",
            rounds,
            "claims",
            target=Target("<=", 1, on="value", unit="claims"),
            note="lease_claim_fair, B's 10 tasks submitted after A's backlog; the plain claim "
            "would start them after A's whole backlog",
        )
    )
    return rows


def _k(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else f"{n:,}"


def _fill(url: str, depth: int, agents: int) -> None:
    """`agents` agents capped at 10,000, and `depth` queued tasks spread over them in turn."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO agents (tenant, name, version) "
            "SELECT 'default', 'a' || g, 1 FROM generate_series(1, %s) g",
            (agents,),
        )
        conn.execute(
            "INSERT INTO agent_versions (tenant, name, version, spec, created_by) "
            "SELECT 'default', 'a' || g, 1, "
            """'{"provider": "offline", "model": "offline", "max_concurrent_tasks": 10000}', """
            "'bench' FROM generate_series(1, %s) g",
            (agents,),
        )
        conn.execute(
            "INSERT INTO tasks (tenant, graph, max_attempts, agent, agent_version) "
            "SELECT 'default', %s, 3, 'a' || (g %% %s + 1), 1 FROM generate_series(1, %s) g",
            (GRAPH, agents, depth),
        )
        backlog.settle(conn)


def _measure(url: str, claim: Claimer, count: int, batch: int) -> tuple[float, float]:
    return asyncio.run(_measure_async(url, claim, count, batch))


async def _register(pool: Pool, batch: int) -> uuid.UUID:
    worker_id = uuid.uuid4()
    await workers.register(
        pool, worker_id, hostname="bench", pid=os.getpid(), concurrency=batch, graphs=[GRAPH]
    )
    return worker_id


async def _measure_async(url: str, claim: Claimer, count: int, batch: int) -> tuple[float, float]:
    """p50 claim latency (ms) and claimed-and-completed tasks per second."""
    pool = await open_pool(url, min_size=1, max_size=2, claims=True)  # as a worker's sessions
    try:
        worker_id = await _register(pool, batch)
        extra = {"cursor": lease.FairCursor()} if claim is lease.claim_fair else {}
        timings: list[float] = []
        done_tasks = 0
        began = 0.0
        for i in range(count + 10):  # the first ten warm the connection and its plans
            if i == 10:
                began = time.perf_counter()
            started = time.perf_counter()
            claims = await claim(pool, worker_id, limit=batch, ttl_s=300, graphs=[GRAPH], **extra)
            if i >= 10:
                timings.append((time.perf_counter() - started) * 1000)
                done_tasks += len(claims)
            done = [outcome.Done(c.task_id, c.epoch, '{"n": 1}') for c in claims]
            await outcome.complete_many(pool, worker_id, done)
        rate = done_tasks / (time.perf_counter() - began)
        return percentile(timings, 50), rate
    finally:
        await pool.close()


def _rounds_until_b(url: str, depth: int, batch: int) -> float:
    _fill(url, depth, 1)  # agent a1 is A
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO agents (tenant, name, version) VALUES ('default', 'b', 1);"
            "INSERT INTO agent_versions (tenant, name, version, spec, created_by) VALUES "
            """('default', 'b', 1, '{"provider": "offline", "model": "offline"}', 'bench')"""
        )
        conn.execute(
            "INSERT INTO tasks (tenant, graph, max_attempts, agent, agent_version) "
            "SELECT 'default', %s, 3, 'b', 1 FROM generate_series(1, 10)",
            (GRAPH,),
        )
    return asyncio.run(_rounds_async(url, batch))


async def _rounds_async(url: str, batch: int) -> float:
    pool = await open_pool(url, min_size=1, max_size=2, claims=True)
    try:
        worker_id = await _register(pool, batch)
        cursor = lease.FairCursor()
        for n in range(1, 1001):
            claims = await lease.claim_fair(
                pool, worker_id, limit=batch, ttl_s=300, graphs=[GRAPH], cursor=cursor
            )
            if await _any_of_b(pool, [c.task_id for c in claims]):
                return float(n)
        return float("nan")
    finally:
        await pool.close()


async def _any_of_b(pool: Pool, ids: Sequence[uuid.UUID]) -> bool:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM tasks WHERE id = ANY(%s) AND agent = 'b'", (list(ids),)
        )
        row = await cur.fetchone()
    return bool(row and row["n"])
