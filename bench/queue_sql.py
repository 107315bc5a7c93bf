"""Outlast's queue statements alone, shaped as ceiling A is: each process claims with the product's
`lease_claim_many` (10 at a time) and finishes the batch with the product's fenced
`outcome_complete_many` (the worker's group commit), both with their event rows, through db/ on one
connection with the session settings of the worker's queue pool (db.connect.CLAIM_SESSION). No
worker process around them: where the queue's own SQL stands against plain SQL.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from multiprocessing.synchronize import Event
from typing import Any

from bench import backlog
from bench.procs import drain_rate
from db import connect, lease, outcome, workers


async def _drain(url: str, batch: int, go: Event, out: Any) -> None:
    conn = await connect.connect(url)
    async with conn:
        for name, value in connect.CLAIM_SESSION.items():  # as the worker's queue pool
            await conn.execute(f"SET {name} = {value}".encode())
        worker_id = uuid.uuid4()
        await workers.register(
            conn,
            worker_id,
            hostname="bench",
            pid=os.getpid(),
            concurrency=batch,
            graphs=["bench-noop"],
        )
        out.put(("ready", 0.0))
        await asyncio.to_thread(go.wait)
        count = 0
        while claims := await lease.claim_many(
            conn, worker_id, limit=batch, ttl_s=60, graphs=["bench-noop"]
        ):
            done = [outcome.Done(c.task_id, c.epoch, '{"n": 1}') for c in claims]
            await outcome.complete_many(conn, worker_id, done)
            count += len(claims)
    out.put((count, time.monotonic()))


def _process(url: str, batch: int, go: Event, out: Any) -> None:
    asyncio.run(_drain(url, batch, go, out))


def queue_statements(url: str, tasks: int, batch: int, processes: int) -> float:
    """Tasks per second for `processes` processes claiming `batch` at a time and completing them
    in one statement, on `tasks` tasks submitted through tasks_insert_many."""
    backlog.submit(url, "bench-noop", tasks)
    return drain_rate(_process, url, batch, processes, tasks, "the queue statements")
