"""A lost lease stops a runner at once, except while it records the attempt's outcome: that write
is fenced, and the heartbeat also misses a task whose outcome committed a moment ago (found by
`make bench`: cancelling there cut the completion's database call short)."""

from __future__ import annotations

import asyncio
import uuid

from db.lease import Claim
from worker.leases import Lease


def claim() -> Claim:
    return Claim(
        task_id=uuid.uuid4(),
        graph="pipeline",
        input={},
        attempt=1,
        max_attempts=3,
        epoch=1,
        resume_checkpoint_id=None,
        resume_input=None,
        resume_patch=None,
        timeout_s=None,
    )


async def test_lose_cancels_a_runner_still_in_its_graph() -> None:
    lease = Lease(claim())
    lease.runner = asyncio.create_task(asyncio.sleep(60))
    lease.lose()
    await asyncio.gather(lease.runner, return_exceptions=True)
    assert lease.lost.is_set() and lease.runner.cancelled()


async def test_lose_lets_a_recording_runner_finish() -> None:
    lease = Lease(claim())
    finished = asyncio.Event()

    async def record() -> None:
        await asyncio.sleep(0.01)  # the fenced outcome write
        finished.set()

    lease.runner = asyncio.create_task(record())
    lease.recording = True
    lease.lose()
    await lease.runner
    assert lease.lost.is_set() and finished.is_set() and not lease.runner.cancelled()
