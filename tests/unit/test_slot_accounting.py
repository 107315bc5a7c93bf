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
