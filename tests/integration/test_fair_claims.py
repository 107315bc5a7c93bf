"""The fair claim (lease_claim_fair, ADR 0013): round-robin across agents, so an agent with 10
tasks starts in the same claim as one with thousands queued; priorities within an agent; an
agent's max_concurrent_tasks never exceeded, even by claimers racing; tasks without an agent
are a group of their tenant."""

from __future__ import annotations

import asyncio
from collections import Counter

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db import agent, lease
from db.connect import Pool
from tests.support.queue import GRAPHS, complete, count, new_worker

RUNNING = "SELECT count(*) FROM tasks WHERE state = 'running' AND agent = %s"


async def make_agent(
    db: AsyncConnection[DictRow] | Pool, name: str, cap: int | None = None
) -> None:
    spec = {"provider": "openai", "model": "gpt-test", "max_concurrent_tasks": cap}
    await agent.create(db, "default", name, spec, created_by="test")


async def queue(
    db: AsyncConnection[DictRow] | Pool,
    agent_name: str | None,
    n: int,
    *,
    priority: int = 0,
    age_s: int = 60,
) -> None:
    """`n` tasks of an agent, ready for `age_s`, inserted in one statement (a backlog in a
    blink)."""
    sql = (
        "INSERT INTO tasks (tenant, graph, max_attempts, agent, agent_version, priority, run_at,"
        " ready_at) SELECT 'default', 'pipeline', 3, %s, 1, %s, now() - make_interval(secs => %s),"
        " now() - make_interval(secs => %s) + g * interval '1 microsecond'"
        " FROM generate_series(1, %s) g"
    )
    params = (agent_name, priority, age_s, age_s, n)
    if isinstance(db, AsyncConnection):
        await db.execute(sql, params)
        return
    async with db.connection() as conn:
        await conn.execute(sql, params)


async def claimed_agents(tx: AsyncConnection[DictRow], claims: list[lease.Claim]) -> Counter[str]:
    cur = await tx.execute(
        "SELECT coalesce(agent, '') AS agent FROM tasks WHERE id = ANY(%s)",
        ([c.task_id for c in claims],),
    )
    return Counter(r["agent"] for r in await cur.fetchall())


async def test_a_small_agent_starts_in_the_first_claim_behind_a_backlog(
    tx: AsyncConnection[DictRow],
) -> None:
    await make_agent(tx, "big")
    await make_agent(tx, "small")
    await queue(tx, "big", 5000, age_s=3600)  # every one of them ready before the small ones
    await queue(tx, "small", 10)
    worker = await new_worker(tx)
    claims = await lease.claim_fair(tx, worker, limit=4, ttl_s=30, graphs=GRAPHS)
    assert await claimed_agents(tx, claims) == Counter({"big": 2, "small": 2})
    plain = await lease.claim_many(tx, worker, limit=4, ttl_s=30, graphs=GRAPHS)
    assert await claimed_agents(tx, plain) == Counter({"big": 4})  # what fairness changes


async def test_priorities_apply_within_an_agent_and_agentless_tasks_are_a_group(
    tx: AsyncConnection[DictRow],
) -> None:
    await make_agent(tx, "a")
    await queue(tx, "a", 5)
    await queue(tx, "a", 1, priority=10)
    await queue(tx, None, 3)
    claims = await lease.claim_fair(tx, await new_worker(tx), limit=2, ttl_s=30, graphs=GRAPHS)
    assert await claimed_agents(tx, claims) == Counter({"a": 1, "": 1})
    cur = await tx.execute(
        "SELECT priority FROM tasks WHERE agent = 'a' AND state = 'running'",
    )
    assert [r["priority"] for r in await cur.fetchall()] == [10]


async def test_an_agent_cap_holds_and_frees_as_tasks_finish(tx: AsyncConnection[DictRow]) -> None:
    await make_agent(tx, "capped", cap=2)
    await make_agent(tx, "free")
    await queue(tx, "capped", 10)
    await queue(tx, "free", 10)
    worker = await new_worker(tx)
    first = await lease.claim_fair(tx, worker, limit=8, ttl_s=30, graphs=GRAPHS)
    assert await claimed_agents(tx, first) == Counter({"capped": 2, "free": 4})
    again = await lease.claim_fair(tx, worker, limit=8, ttl_s=30, graphs=GRAPHS)
    assert await claimed_agents(tx, again) == Counter({"free": 6})
    assert await count(tx, RUNNING, "capped") == 2
    capped = [c for c in first if await claimed_agents(tx, [c]) == Counter({"capped": 1})]
    done = capped[0]
    await complete(tx, worker, done.task_id, done.epoch, {})
    third = await lease.claim_fair(tx, worker, limit=8, ttl_s=30, graphs=GRAPHS)
    assert await claimed_agents(tx, third) == Counter({"capped": 1})
    assert await count(tx, RUNNING, "capped") == 2


async def test_racing_claimers_never_pass_a_cap(pool: Pool) -> None:
    await make_agent(pool, "capped", cap=3)
    await queue(pool, "capped", 200)
    workers = [await new_worker(pool) for _ in range(4)]
    peak = 0
    for _ in range(15):
        await asyncio.gather(
            *(
                lease.claim_fair(pool, w, limit=3, ttl_s=30, graphs=GRAPHS)
                for w in workers
                for _ in range(3)
            )
        )
        running = await count(pool, RUNNING, "capped")
        peak = max(peak, running)
        # Finish the running ones so the next round has room again.
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, lease_epoch, worker_id FROM tasks"
                " WHERE state = 'running' AND agent = 'capped'"
            )
            rows = await cur.fetchall()
        for row in rows:
            await complete(pool, row["worker_id"], row["id"], row["lease_epoch"], {})
    assert peak == 3
    assert await count(pool, "SELECT count(*) FROM tasks WHERE state = 'completed'") >= 15


async def test_claims_visit_many_agents_round_robin(tx: AsyncConnection[DictRow]) -> None:
    """More agents than one claim looks at (:limit of them): the claimer's cursor moves on, so
    every agent starts within a few laps, none waits behind the others' backlogs."""
    agents = [f"agent-{i:02d}" for i in range(30)]
    for name in agents:
        await make_agent(tx, name)
        await queue(tx, name, 3)
    worker = await new_worker(tx)
    cursor = lease.FairCursor()
    for _ in range(30):
        await lease.claim_fair(tx, worker, limit=2, ttl_s=30, graphs=GRAPHS, cursor=cursor)
    cur = await tx.execute(
        "SELECT agent, count(*) AS n FROM tasks WHERE state = 'running' GROUP BY agent"
    )
    running = {r["agent"]: r["n"] for r in await cur.fetchall()}
    assert set(running) == set(agents), sorted(set(agents) - set(running))
    assert max(running.values()) <= 3


async def test_claims_follow_the_agents_shares(tx: AsyncConnection[DictRow]) -> None:
    """ADR 0023: an agent of share 3 gets three claims for each one of an agent of share 1, and
    one of share 1 still starts behind it."""
    await agent.create(
        tx,
        "default",
        "heavy",
        {"provider": "openai", "model": "gpt-test", "share": 3},
        created_by="test",
    )
    await make_agent(tx, "light")
    await queue(tx, "heavy", 500, age_s=3600)
    await queue(tx, "light", 500)
    worker = await new_worker(tx)
    first = await lease.claim_fair(tx, worker, limit=4, ttl_s=30, graphs=GRAPHS)
    assert await claimed_agents(tx, first) == Counter({"heavy": 3, "light": 1})
    total: Counter[str] = Counter()
    for _ in range(10):
        claims = await lease.claim_fair(tx, worker, limit=8, ttl_s=30, graphs=GRAPHS)
        total += await claimed_agents(tx, claims)
    running = {name: await count(tx, RUNNING, name) for name in ("heavy", "light")}
    assert running == {"heavy": 63, "light": 21}
