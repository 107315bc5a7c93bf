"""A worker that cannot reach Postgres stops its tasks itself, by its own monotonic clock,
before its leases could have expired (80 % of the TTL after each lease's own renewal), claims
nothing meanwhile, and keeps the slot of a lease it could not settle until it has expired."""

from __future__ import annotations

import asyncio
import time
import uuid

import psycopg
import pytest

from db.lease import Claim
from outlast.embedded import free_port
from worker.heartbeat import Heartbeat
from worker.leases import Leases

TTL_S = 1.0


def claim() -> Claim:
    return Claim(uuid.uuid4(), "pipeline", {}, 1, 3, 1, None, None, None, None)


async def test_unreachable_database_fences_running_tasks() -> None:
    leases = Leases(ttl_s=TTL_S)
    held = leases.add(claim())
    held.runner = asyncio.create_task(asyncio.sleep(60))
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/outlast?connect_timeout=1"
    heartbeat = Heartbeat(nowhere, uuid.uuid4(), leases, ttl_s=TTL_S, every_s=0.05)

    with pytest.raises(psycopg.OperationalError):
        await heartbeat.run_once()
    assert not heartbeat.self_fence()  # just started: the lease is still ours
    assert not held.lost.is_set()

    last_ok = heartbeat.last_ok
    stop = asyncio.Event()
    loop = asyncio.create_task(heartbeat.run_forever(stop))
    await asyncio.wait_for(held.lost.wait(), timeout=10)
    stop.set()
    await loop
    assert heartbeat.last_ok == last_ok  # no heartbeat ever succeeded: the fence was the clock's
    with pytest.raises(asyncio.CancelledError):
        await held.runner


async def test_a_database_that_never_answers_still_fences_in_time() -> None:
    """A blackhole (a network dropping packets): connecting hangs instead of failing. The
    heartbeat is cut off at the fence deadline, so the worker still stops its tasks."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept, read everything, answer nothing

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    leases = Leases(ttl_s=TTL_S)
    held = leases.add(claim())
    held.runner = asyncio.create_task(asyncio.sleep(60))
    heartbeat = Heartbeat(
        f"postgresql://postgres@127.0.0.1:{port}/outlast",
        uuid.uuid4(),
        leases,
        ttl_s=TTL_S,
        every_s=0.3,
    )
    stop = asyncio.Event()
    async with server:
        loop = asyncio.create_task(heartbeat.run_forever(stop))
        await asyncio.wait_for(held.lost.wait(), timeout=10)
        stop.set()
        await asyncio.wait_for(loop, timeout=10)
    assert held.runner.cancelled() or held.runner.cancelling()


async def test_each_lease_is_fenced_from_its_own_renewal() -> None:
    """A lease claimed after the last good heartbeat is not dropped with the older ones."""
    leases = Leases(ttl_s=TTL_S)
    now = time.monotonic()
    old = leases.add(claim(), sent=now - TTL_S, seen=now - TTL_S)
    fresh = leases.add(claim(), sent=now, seen=now)
    assert leases.fence_overdue() == 1
    assert old.lost.is_set() and old.fenced
    assert not fresh.lost.is_set()
    assert leases.epochs() == {fresh.claim.task_id: fresh.claim.epoch}  # no renewing the fenced


async def test_no_claims_while_the_heartbeat_fails() -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/outlast?connect_timeout=1"
    heartbeat = Heartbeat(nowhere, uuid.uuid4(), Leases(ttl_s=TTL_S), ttl_s=TTL_S, every_s=0.05)
    assert heartbeat.healthy()
    stop = asyncio.Event()
    loop = asyncio.create_task(heartbeat.run_forever(stop))
    while heartbeat.ok:
        await asyncio.sleep(0.01)
    assert not heartbeat.healthy()
    stop.set()
    await loop


def test_an_unsettled_lease_keeps_its_slot_until_it_has_expired() -> None:
    leases = Leases(ttl_s=TTL_S)
    now = time.monotonic()
    fenced = leases.add(claim(), sent=now, seen=now)
    fenced.fence()
    leases.finish(fenced, settled=False)
    done = leases.add(claim())
    leases.finish(done, settled=True)
    assert leases.occupied() == 1  # the fenced lease may still be live in the database
    expired = leases.add(claim(), sent=now - 2 * TTL_S, seen=now - 2 * TTL_S)
    leases.finish(expired, settled=False)
    assert leases.occupied() == 1  # that one has surely expired: its slot is free
