"""The claim loop's bookkeeping: a claimed task leaves the worker's held leases when its runner
ends, however it ends. Otherwise the heartbeat keeps renewing a lease nothing runs under, the
task stays `running` for ever, and a slot is gone for good."""

from __future__ import annotations

import asyncio

from db.connect import Pool
from tests.support.queue import GRAPHS, new_worker, submit
from worker.claimer import Claimer
from worker.config import WorkerConfig
from worker.leases import Lease, Leases


async def test_a_runner_cancelled_before_it_starts_still_frees_its_lease(pool: Pool) -> None:
    worker_id = await new_worker(pool)
    await submit(pool)
    leases = Leases()
    ran: list[Lease] = []

    async def run(held: Lease) -> None:
        ran.append(held)

    claimer = Claimer(
        pool, worker_id, leases, WorkerConfig(concurrency=2), run, asyncio.Event(), graphs=GRAPHS
    )
    assert await claimer.run_once() == 1
    runners = [held.runner for held in leases.held.values() if held.runner is not None]
    # The heartbeat's self-fence, run by the event loop before the new runner's first step
    # (a heartbeat that timed out just as a claim came back).
    leases.lose_all()
    await asyncio.gather(*runners, return_exceptions=True)
    assert ran == []  # it never started
    assert len(leases) == 0, "the lease is still held, with nothing running under it"
    assert claimer.slot_freed.is_set()
