"""The store a graph sees (db/graph_store.py, ADR 0029): it reads and writes the claimed task's
tenant's items, and a zombie (a worker whose lease was taken over) writes nothing."""

from __future__ import annotations

import asyncio

import pytest

from db import store
from db.connect import Pool
from db.errors import LeaseLost, NotFound
from db.graph_store import FencedStore
from tests.integration.test_fence_pipelined import taken_over
from tests.support.queue import claim_one, new_worker, submit


async def test_a_claims_store_is_its_tenants(pool: Pool) -> None:
    await submit(pool, tenant="acme")
    claim = await claim_one(pool, await new_worker(pool))
    assert claim.tenant == "acme"
    graph_store = FencedStore(pool, claim.task_id, claim.epoch, claim.tenant)
    await graph_store.aput(("memories", "ada"), "k", {"fact": "tea"}, ttl=10)
    await store.put(pool, ["memories", "ada"], "k", {"fact": "other"}, tenant="default")
    got = await graph_store.aget(("memories", "ada"), "k")
    assert got is not None and got.value == {"fact": "tea"}
    row = await store.get(pool, ["memories", "ada"], "k", tenant="acme")
    assert row["value"] == {"fact": "tea"}
    found = await graph_store.asearch(("memories",), filter={"fact": {"$eq": "tea"}})
    assert [i.key for i in found] == ["k"]
    with pytest.raises(ValueError, match="only equality"):
        await graph_store.asearch(("memories",), filter={"fact": {"$ne": "tea"}})
    assert await graph_store.alist_namespaces(prefix=("memories",)) == [("memories", "ada")]
    await graph_store.adelete(("memories", "ada"), "k")
    assert await graph_store.aget(("memories", "ada"), "k") is None
    assert (await store.get(pool, ["memories", "ada"], "k", tenant="default"))["value"] == {
        "fact": "other"
    }


async def test_a_zombie_writes_nothing_to_the_store(pool: Pool) -> None:
    old, new = await taken_over(pool)
    assert old.tenant is not None and new.tenant is not None
    zombie = FencedStore(pool, old.task_id, old.epoch, old.tenant)
    live = FencedStore(pool, new.task_id, new.epoch, new.tenant)
    await live.aput(("s",), "k", {"v": "new"})
    with pytest.raises(LeaseLost):
        await zombie.aput(("s",), "k", {"v": "stale"})
    with pytest.raises(LeaseLost):
        await zombie.adelete(("s",), "k")
    row = await store.get(pool, ["s"], "k", tenant=new.tenant)
    assert row["value"] == {"v": "new"}
    with pytest.raises(NotFound):
        await store.get(pool, ["s"], "missing", tenant=new.tenant)


def test_the_sync_methods_refuse_the_event_loop_thread() -> None:
    """A sync call on the loop thread would wait on itself: it is refused, not hung."""

    async def on_loop() -> None:
        graph_store = FencedStore(None, None, 0, "default")  # type: ignore[arg-type]
        with pytest.raises(RuntimeError, match="async methods"):
            graph_store.get(("s",), "k")

    asyncio.run(on_loop())
