"""Outlast's queue statements alone, shaped as ceiling A is: each process claims with the product's
`task_claim_many` (10 at a time) and finishes each task with the product's fenced
`task_complete`, both with their event rows, through db/ on one connection. No graph, no
checkpoint, no worker process around them: where the queue's own SQL stands against plain SQL.
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
        worker_id = uuid.uuid4()
        await workers.register(
            conn, worker_id, hostname="bench", pid=os.getpid(), concurrency=batch
        )
        out.put(("ready", 0.0))
        await asyncio.to_thread(go.wait)
        done = 0
        while claims := await lease.claim_many(conn, worker_id, limit=batch, ttl_s=60):
            for claim in claims:
                await outcome.complete(conn, worker_id, claim.task_id, claim.epoch, {"n": 1})
            done += len(claims)
    out.put((done, time.monotonic()))


def _process(url: str, batch: int, go: Event, out: Any) -> None:
    asyncio.run(_drain(url, batch, go, out))


def queue_statements(url: str, tasks: int, batch: int, processes: int) -> float:
    """Tasks per second for `processes` processes claiming `batch` at a time and completing each
    task, on `tasks` tasks submitted through task_insert_many."""
    backlog.submit(url, "bench-noop", tasks)
    return drain_rate(_process, url, batch, processes, tasks, "the queue statements")
