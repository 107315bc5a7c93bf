"""A worker that cannot reach Postgres stops its tasks itself, by its own monotonic clock,
before its leases could have expired (80 % of the TTL)."""

from __future__ import annotations

import asyncio
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
    leases = Leases()
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
    leases = Leases()
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
