"""A slot is free only once the database has settled its lease: a runner that crashed while
recording its outcome, or a lease the worker fenced itself, keeps its slot while the lease may
still be live, so a worker never holds more live leases than its concurrency."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from db.lease import Claim
from worker.claimer import Claimer
from worker.config import WorkerConfig
from worker.leases import Lease, Leases

TTL_S = 30.0


def claimer(leases: Leases, run: Any) -> Claimer:
    config = WorkerConfig(concurrency=1, lease_ttl_s=TTL_S, heartbeat_every_s=1.0)
    return Claimer(None, uuid.uuid4(), leases, config, run, asyncio.Event(), graphs=())  # type: ignore[arg-type]


def claim() -> Claim:
    return Claim(uuid.uuid4(), "pipeline", {}, 1, 3, 1, None, None, None, None)


async def test_a_crashed_runner_keeps_its_slot() -> None:
    async def crash(_: Lease) -> None:
        raise OSError("the database went away while recording the outcome")

    leases = Leases(ttl_s=TTL_S)
    held = leases.add(claim())
    await claimer(leases, crash)._start(held)
    assert len(leases) == 0
    assert leases.occupied() == 1  # its lease may be live for up to a TTL: no new claim


async def test_a_settled_runner_frees_its_slot() -> None:
    async def record(_: Lease) -> None:
        return None

    leases = Leases(ttl_s=TTL_S)
    await claimer(leases, record)._start(leases.add(claim()))
    assert leases.occupied() == 0


async def test_a_self_fenced_runner_keeps_its_slot_and_a_confirmed_loss_frees_it() -> None:
    async def abandon(held: Lease) -> None:
        if not held.fenced:
            held.lose()  # the heartbeat's answer missed it; the executor caught LeaseLost

    leases = Leases(ttl_s=TTL_S)
    fenced = leases.add(claim())
    fenced.fenced = True
    await asyncio.wait([claimer(leases, abandon)._start(fenced)])
    assert leases.occupied() == 1
    lost = leases.add(claim())
    await asyncio.wait([claimer(leases, abandon)._start(lost)])  # cancelled by its own lose()
    assert leases.occupied() == 1  # the heartbeat's answer said the second was not ours


async def test_two_claim_loops_never_promise_a_slot_twice() -> None:
    """Two claims in flight at once (config.claimers = 2) take at most the free slots between
    them: the first reserves its slots before its round trip."""
    config = WorkerConfig(
        concurrency=4, lease_ttl_s=TTL_S, heartbeat_every_s=1.0, claimers=2, completion_writers=2
    )
    leases = Leases(ttl_s=TTL_S)
    asked: list[int] = []
    release = asyncio.Event()

    async def run(_: Lease) -> None:
        await release.wait()

    c = Claimer(None, uuid.uuid4(), leases, config, run, asyncio.Event(), graphs=())  # type: ignore[arg-type]

    async def fake_claim(limit: int) -> list[Claim]:
        asked.append(limit)
        await asyncio.sleep(0.01)
        return [claim() for _ in range(limit)]

    c._claim = fake_claim  # type: ignore[method-assign]
    started = await asyncio.gather(c.run_once(), c.run_once(), c.run_once())
    assert asked == [2, 2] and sum(started) == 4  # the third found every slot promised
    assert leases.occupied() == 4 and c.reserved == 0
    release.set()
    await asyncio.sleep(0.05)
    assert leases.occupied() == 0
