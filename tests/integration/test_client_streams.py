"""`Client` and `AsyncClient` against a live API on real Postgres: the same calls, iterators that
follow every page, a task stream that resumes after a dropped connection with nothing lost or
repeated, and `wait()` returning at the end of a task. The queue is driven through its own
statements (tests/support/queue.py), as a worker would."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest

import outlast
from db import outcome
from db.connect import Pool
from outlast.client import ApiError, AsyncClient, Client
from tests.support.proxy import Proxy
from tests.support.queue import claim_one, complete, new_worker
from tests.support.wait import await_until

pytestmark = pytest.mark.timeout(120)


async def finish(pool: Pool, task_id: str, result: Any = "done") -> None:
    worker = await new_worker(pool)
    claim = await claim_one(pool, worker)
    assert str(claim.task_id) == task_id
    await complete(pool, worker, claim.task_id, claim.epoch, result)


async def fail_for_good(pool: Pool, error_type: str = "Boom") -> None:
    worker = await new_worker(pool)
    claim = await claim_one(pool, worker)
    failure = outcome.Failure(error_type, "boom", "Traceback: boom", retryable=False)
    policy = outcome.RetryPolicy(base_s=1, max_s=1)
    await outcome.fail(pool, worker, claim.task_id, claim.epoch, failure, policy)


async def _count(got: list[dict[str, Any]], n: int) -> bool:
    return len(got) >= n


def test_the_package_exports_both_clients() -> None:
    assert outlast.Client is Client and outlast.AsyncClient is AsyncClient


async def test_async_client_flows(base_url: str) -> None:
    async with AsyncClient(base_url) as api:
        assert "pipeline" in {g["name"] for g in (await api.graphs())["items"]}
        task = await api.submit("pipeline", {"text": "Hi."}, idempotency_key="a-1")
        again = await api.submit("pipeline", {"text": "Hi."}, idempotency_key="a-1")
        assert again["id"] == task["id"]
        assert (await api.get(task["id"]))["state"] == "queued"
        batch = await api.submit_batch([{"graph": "pipeline"}, {"graph": "flaky"}])
        assert [t["graph"] for t in batch["tasks"]] == ["pipeline", "flaky"]
        assert (await api.cancel(task["id"], "done"))["state"] == "cancelled"
        kinds = [e["kind"] async for e in api.iter_events(task["id"])]
        assert kinds == ["submitted", "cancelled"]
        with pytest.raises(ApiError) as caught:
            await api.get(str(uuid.uuid4()))
        assert caught.value.status == 404
        with pytest.raises(ApiError) as refused:
            await api.cancel(task["id"])
        assert refused.value.status == 409


async def test_iterators_follow_every_page(base_url: str, pool: Pool) -> None:
    with Client(base_url) as api:
        ids = [api.submit("flaky")["id"] for _ in range(5)]
        assert [t["id"] for t in api.iter_tasks(limit=2)] == ids[::-1]  # newest first
        assert len(api.list(limit=2)["items"]) == 2
    for _ in range(3):
        await fail_for_good(pool)
    async with AsyncClient(base_url) as aapi:
        listed = [t["id"] async for t in aapi.iter_tasks(graph="flaky", limit=2)]
        assert listed == ids[::-1]
        letters = [d["task_id"] async for d in aapi.iter_dead_letters(limit=2)]
        assert len(letters) == 3 and set(letters) <= set(ids)
    with Client(base_url) as api:
        assert [d["task_id"] for d in api.iter_dead_letters(limit=1)] == letters


def _collect(api: Client, task_id: str, got: list[dict[str, Any]], stop: int) -> None:
    for event in api.stream(task_id):
        got.append(event)
        if len(got) >= stop:
            return


async def test_sync_stream_resumes_after_a_dropped_connection(base_url: str, pool: Pool) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    proxy = Proxy(port)
    got: list[dict[str, Any]] = []
    try:
        with Client(f"http://127.0.0.1:{proxy.port}") as api:
            task = api.submit("pipeline")
            reader = threading.Thread(target=_collect, args=(api, task["id"], got, 3), daemon=True)
            reader.start()
            await await_until(lambda: _count(got, 1), 30, message="the submitted event")
            proxy.drop()  # the stream's connection is cut; the client reconnects
            await finish(pool, task["id"])
            await asyncio.to_thread(reader.join, 60)
    finally:
        proxy.close()
    assert [e["kind"] for e in got] == ["submitted", "claimed", "completed"]
    ids = [e["id"] for e in got]
    assert ids == sorted(set(ids))


async def test_async_stream_resumes_with_last_event_id(base_url: str, pool: Pool) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    proxy = Proxy(port)
    got: list[dict[str, Any]] = []
    try:
        async with AsyncClient(f"http://127.0.0.1:{proxy.port}") as api:
            task = await api.submit("pipeline")

            async def read() -> None:
                async for event in api.stream(task["id"]):
                    got.append(event)
                    if event["kind"] == "completed":
                        return

            reader = asyncio.create_task(read())
            await await_until(lambda: _count(got, 1), 30, message="the submitted event")
            proxy.drop()
            await finish(pool, task["id"])
            await asyncio.wait_for(reader, 60)
            # Resuming after the first event replays only what followed it.
            later = api.stream(task["id"], last_event_id=got[0]["id"])
            assert (await anext(later))["id"] == got[1]["id"]
            await later.aclose()
    finally:
        proxy.close()
    assert [e["kind"] for e in got] == ["submitted", "claimed", "completed"]


async def test_wait_returns_a_finished_task(base_url: str, pool: Pool) -> None:
    with Client(base_url) as api:
        task = api.submit("pipeline")
        waiting = asyncio.create_task(asyncio.to_thread(api.wait, task["id"], 60))
        await asyncio.sleep(0)  # the wait is under way
        await finish(pool, task["id"], {"ok": True})
        done = await asyncio.wait_for(waiting, 60)
        assert done["state"] == "completed" and done["result"] == {"ok": True}
        with pytest.raises(TimeoutError):
            api.wait(api.submit("pipeline")["id"], timeout=0.5)
    async with AsyncClient(base_url) as aapi:
        other = await aapi.submit("pipeline")
        waiting_async = asyncio.create_task(aapi.wait(other["id"], timeout=60))
        await asyncio.sleep(0.2)
        await aapi.cancel(other["id"])
        assert (await asyncio.wait_for(waiting_async, 60))["state"] == "cancelled"
        with pytest.raises(TimeoutError):
            await aapi.wait((await aapi.submit("pipeline"))["id"], timeout=0.5)
