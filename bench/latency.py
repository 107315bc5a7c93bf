"""Sections 4 and 5: how soon a submitted task starts, and how claims scale with queue depth.

4. Submit->start: idle workers (2 processes), tasks submitted one at a time through the API's
   statement (tasks_insert) at a steady low rate; latency = `started_at - created_at`, both by the
   database clock. Once with LISTEN/NOTIFY, once with OUTLAST_NOTIFY=false (the poll alone).
5. Claim latency: one claimer (the product's lease_claim_many, `claim_batch` at a time, timed at
   the client) in steady state: each claimed batch is completed and as many new tasks submitted,
   so the depth holds. At each depth in `depths`, and with `waiting_tasks` tasks parked on a
   person (they are in no index the claim reads, so they should cost nothing).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import psycopg

from bench import backlog
from bench.procs import wait_for
from bench.session import Session, say
from bench.stats import percentile
from bench.table import Row, Target
from db import lease, outcome, tasks, workers
from db.connect import open_pool

WARMUP = 20  # tasks each pair of workers runs first: a worker's first task imports and compiles


def start_latency(session: Session) -> list[Row]:
    cfg = session.config
    rows = []
    for notify in (True, False):
        count = cfg.count("latency_tasks" if notify else "poll_tasks")
        path = "NOTIFY" if notify else "poll only"
        with session.database(f"latency-{path.split()[0].lower()}") as stack:
            env = {} if notify else {"OUTLAST_NOTIFY": "false"}
            stack.reaper()
            stack.workers(2, cfg.concurrency, **env)
            since = backlog.submit(stack.url, "bench-noop", WARMUP)
            _wait_done(stack.url, WARMUP)
            say(f"submit->start ({path}): {count} tasks at {cfg.latency_rate:g}/s")
            _submit_steadily(stack.url, count, cfg.latency_rate)
            _wait_done(stack.url, WARMUP + count)
            latencies = backlog.start_latencies_ms(stack.url, since)
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        if notify:
            rows += [
                Row(
                    "4",
                    "submit→start p50, NOTIFY, idle workers",
                    p50,
                    "ms",
                    target=Target("<=", 10, on="value", unit="ms"),
                    note=f"2 idle workers, warmed by {WARMUP} tasks; {count} tasks at "
                    f"{cfg.latency_rate:g}/s via tasks_insert; created_at → started_at by "
                    "the DB clock",
                ),
                Row(
                    "4",
                    "submit→start p99, NOTIFY, idle workers",
                    p99,
                    "ms",
                    target=Target("<=", 50, on="value", unit="ms"),
                ),
            ]
        else:
            rows += [
                Row(
                    "4",
                    f"submit→start p50, poll only ({cfg.poll_interval_s:g}s ±20%)",
                    p50,
                    "ms",
                    note=f"OUTLAST_NOTIFY=false, {count} tasks",
                ),
                Row("4", "submit→start p99, poll only", p99, "ms"),
            ]
    return rows


def _wait_done(url: str, count: int) -> None:
    wait_for(lambda: backlog.progress(url).completed >= count, 120, "the latency tasks to finish")


def _submit_steadily(url: str, count: int, per_s: float) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        due = time.monotonic()
        for i in range(count):
            backlog.submit_one(conn, "bench-noop", {"i": i})
            due += 1 / per_s
            time.sleep(max(0.0, due - time.monotonic()))


def claim_latency(session: Session) -> list[Row]:
    cfg = session.config
    rows: list[Row] = []
    base: float | None = None
    with session.database("claims") as stack:
        have = 0
        for n, depth in enumerate(cfg.depths):
            say(f"claim latency: filling the queue to {depth:,}")
            backlog.queued(stack.url, depth - have)
            have = depth
            p50, p99 = _claims(stack.url, cfg.claims_per_depth, cfg.claim_batch)
            label = _depth(depth)
            if base is None:
                base = p50
                rows += [
                    Row(
                        "5",
                        f"claim p50 at {label} queued",
                        p50,
                        "ms",
                        note=f"lease_claim_many, {cfg.claim_batch} per claim, "
                        f"{cfg.claims_per_depth} claims per depth, depth held steady",
                    ),
                    Row("5", f"claim p99 at {label} queued", p99, "ms"),
                ]
            else:
                last = n == len(cfg.depths) - 1
                rows.append(
                    Row(
                        "5",
                        f"claim p50 at {label} queued",
                        p50,
                        "ms",
                        baseline=base,
                        target=Target("<=", 1.5) if last else None,
                    )
                )
                if last:
                    rows.append(Row("5", f"claim p99 at {label} queued", p99, "ms"))
            if n == 0 and cfg.waiting_tasks:
                waiting = cfg.count("waiting_tasks")
                say(f"claim latency: {waiting:,} tasks waiting on humans")
                backlog.waiting(stack.url, waiting)
                p50, _ = _claims(stack.url, cfg.claims_per_depth, cfg.claim_batch)
                rows.append(
                    Row(
                        "5",
                        f"claim p50, {label} queued + {_depth(waiting)} waiting on humans",
                        p50,
                        "ms",
                        baseline=base,
                    )
                )
    return rows


def _depth(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"


def _claims(url: str, count: int, batch: int) -> tuple[float, float]:
    return asyncio.run(_claims_async(url, count, batch))


async def _claims_async(url: str, count: int, batch: int) -> tuple[float, float]:
    pool = await open_pool(url, min_size=1, max_size=2, claims=True)  # as a worker's sessions
    try:
        worker_id = uuid.uuid4()
        await workers.register(
            pool,
            worker_id,
            hostname="bench",
            pid=os.getpid(),
            concurrency=batch,
            graphs=["bench-noop"],
        )
        timings = []
        for i in range(count + 10):  # the first ten warm the connection and its plans
            started = time.perf_counter()
            claims = await lease.claim_many(
                pool, worker_id, limit=batch, ttl_s=300, graphs=["bench-noop"]
            )
            elapsed = (time.perf_counter() - started) * 1000
            if i >= 10:
                timings.append(elapsed)
            done = [outcome.Done(c.task_id, c.epoch, '{"n": 1}') for c in claims]
            await outcome.complete_many(pool, worker_id, done)
            refill = [tasks.NewTask(graph="bench-noop", input={}, max_attempts=3)] * len(claims)
            await tasks.insert_many(pool, refill, tenant="default")
        return percentile(timings, 50), percentile(timings, 99)
    finally:
        await pool.close()
