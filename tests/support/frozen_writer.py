"""A process that claims one task and opens a fenced checkpoint transaction, then stops inside
it (the test SIGSTOPs it there): a worker frozen mid-transaction, holding the task row lock.
It prints its session's backend pid, so the test can tell when Postgres has ended the session.
Connects exactly as a worker does (db.connect.open_pool with idle_in_transaction_s, its sessions
named for its worker id)."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

from db import lease, workers
from db.connect import open_pool
from tests.support.queue import GRAPHS


async def main(url: str, ttl_s: float, mode: str) -> None:
    worker_id = uuid.uuid4()
    pool = await open_pool(
        url,
        min_size=1,
        max_size=1,
        idle_in_transaction_s=ttl_s / 2,
        application_name=workers.application_name(worker_id),
    )
    await workers.register(pool, worker_id, hostname="frozen", pid=0, concurrency=1, graphs=GRAPHS)
    (claim,) = await lease.claim_many(pool, worker_id, limit=1, ttl_s=ttl_s, graphs=GRAPHS)
    async with pool.connection() as conn:
        if mode == "pipeline":  # the checkpointer's usual path: the fence queued before the Sync
            async with conn.pipeline():
                await lease.fence_last(conn, claim.task_id, claim.epoch)
                print(f"fenced {claim.task_id} {claim.epoch} {conn.info.backend_pid}", flush=True)
                time.sleep(3600)  # the test SIGSTOPs us here, before the Sync, lock held
        async with conn.transaction():  # the explicit path (first write after a resume point)
            await lease.fence(conn, claim.task_id, claim.epoch)
            print(f"fenced {claim.task_id} {claim.epoch} {conn.info.backend_pid}", flush=True)
            time.sleep(3600)  # the test SIGSTOPs us here, lock held


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3]))
