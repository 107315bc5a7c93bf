"""Provider rate limits (ADR 0016): the bucket statement under concurrent reservers never
takes more than the limit; the journal reserves a call's estimate, gives back what it did not
use, and drains the bucket on a 429 with Retry-After; a wait longer than the worker may sleep
gives the task back, queued with run_at when the bucket allows; the API sets limits (bad input
is 422 naming the field) and shows bucket levels and key fingerprints, never a key."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg import AsyncConnection
from psycopg.rows import DictRow
from pydantic import SecretStr

from db import rate_limit
from db.connect import Pool
from db.errors import RateLimited
from db.lease import Claim
from outlast.models import Link, ModelChain, PriceBook, RetryPolicy, call_model
from outlast.models.openai import OpenAIProvider
from tests.support.api import api_client, on_app_loop
from tests.support.budgeted import MAX_TOKENS, request
from tests.support.fake_llm import OPENAI, FakeLLM, Fault, Reply
from tests.support.queue import claim_one, new_worker, submit
from worker.journal import PgJournal
from worker.ratelimits import RateLimiter, estimated_tokens, fingerprint

NODE = {"metadata": {"langgraph_step": 1, "langgraph_checkpoint_ns": "ask:0e1f"}}
QUESTION = "how fast?"
KEY = SecretStr("sk-rate-secret-0123456789")
BUCKET = rate_limit.Bucket("openai", "gpt-test", fingerprint(KEY))


async def set_limits(db: Any, tpm: int | None, rpm: int | None) -> None:
    await rate_limit.set_(
        db,
        tenant="default",
        provider="openai",
        model="gpt-test",
        tokens_per_minute=tpm,
        requests_per_minute=rpm,
        updated_by="test",
    )


async def test_concurrent_reservers_never_take_more_than_the_limit(pool: Pool) -> None:
    # 1,000 tokens a minute, a bucket of 950 (5% headroom) and calls of 100: nine fit; the
    # refill (17 tokens a second) cannot make a tenth in the second the reservers take.
    await set_limits(pool, tpm=1000, rpm=50)
    task_ids = [await submit(pool) for _ in range(40)]
    got = await asyncio.gather(*(rate_limit.reserve(pool, t, BUCKET, 100) for t in task_ids))
    taken = [g for g in got if g.outcome == "reserved"]
    assert len(taken) == 9
    assert sum(g.tokens for g in taken) == 900 <= 1000
    waits = [g for g in got if g.outcome == "wait"]
    assert len(waits) == 31 and all(w.wait_s > 0 for w in waits)
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT tokens, requests FROM rate_buckets")
        rows = await cur.fetchall()
    assert len(rows) == 1 and 0 <= rows[0]["tokens"] < 100 and rows[0]["requests"] >= 38


async def test_requests_per_minute_alone_limits_requests(pool: Pool) -> None:
    await set_limits(pool, tpm=None, rpm=20)  # a bucket of 19
    task_ids = [await submit(pool) for _ in range(30)]
    got = await asyncio.gather(*(rate_limit.reserve(pool, t, BUCKET, 10**9) for t in task_ids))
    assert sorted(g.outcome for g in got) == ["reserved"] * 19 + ["wait"] * 11


async def test_no_limit_takes_nothing(pool: Pool) -> None:
    task_id = await submit(pool)
    assert (await rate_limit.reserve(pool, task_id, BUCKET, 100)).outcome == "unlimited"
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM rate_buckets")
        assert (await cur.fetchone()) == {"n": 0}


async def ask(
    tx: AsyncConnection[DictRow],
    claimed: Claim,
    worker_id: uuid.UUID,
    fake: FakeLLM,
    tmp_path: Path,
    max_wait_s: float = 10.0,
) -> str:
    limiter = RateLimiter(
        tx,
        worker_id,
        claimed.task_id,
        claimed.epoch,
        {"openai": BUCKET.key_fingerprint},
        max_wait_s,
    )
    journal = PgJournal(tx, claimed.task_id, claimed.epoch, PriceBook(None), limiter=limiter)
    provider = OpenAIProvider(KEY, base_url=f"{fake.url}/v1")
    models = ModelChain([Link(provider, "gpt-test")], retry=RetryPolicy(attempts=1))
    config: dict[str, Any] = NODE | {"configurable": {"outlast_journal": journal}}
    try:
        return (await call_model(config, request(QUESTION), models)).content
    finally:
        await models.aclose()


async def task(tx: AsyncConnection[DictRow], task_id: uuid.UUID) -> dict[str, Any]:
    cur = await tx.execute("SELECT state, run_at, attempts FROM tasks WHERE id = %s", (task_id,))
    row = await cur.fetchone()
    assert row is not None
    return row


async def bucket(tx: AsyncConnection[DictRow]) -> dict[str, Any]:
    cur = await tx.execute("SELECT * FROM rate_buckets")
    rows = await cur.fetchall()
    assert len(rows) == 1
    return rows[0]


async def test_a_call_takes_its_estimate_and_gives_back_what_it_did_not_use(
    tx: AsyncConnection[DictRow], fake: FakeLLM, tmp_path: Path
) -> None:
    await set_limits(tx, tpm=100_000, rpm=100)
    await submit(tx)
    worker_id = await new_worker(tx)
    claimed = await claim_one(tx, worker_id)
    await tx.execute("SET LOCAL outlast.now = '2026-11-28 12:00:00+00'")  # no refill
    fake.script(OPENAI, Reply("ok", input_tokens=7, output_tokens=3))
    assert await ask(tx, claimed, worker_id, fake, tmp_path) == "ok"
    level = await bucket(tx)
    # The bucket holds 95,000 tokens and 95 requests (5% headroom): one request and the ten
    # tokens the call used are gone, the rest of the estimate given back.
    assert (level["tokens"], level["requests"]) == (95_000 - 10, 94)
    assert level["in_flight"] == []  # settled
    assert estimated_tokens(request(QUESTION)) > MAX_TOKENS  # what it took before the call


async def test_a_429_with_retry_after_drains_the_bucket(
    tx: AsyncConnection[DictRow], fake: FakeLLM, tmp_path: Path
) -> None:
    await set_limits(tx, tpm=100_000, rpm=100)
    task_id = await submit(tx)
    worker_id = await new_worker(tx)
    claimed = await claim_one(tx, worker_id)
    await tx.execute("SET LOCAL outlast.now = '2026-11-28 12:00:00+00'")
    fake.script(OPENAI, Fault(429, retry_after="30"))
    with pytest.raises(Exception, match="429"):
        await ask(tx, claimed, worker_id, fake, tmp_path)
    level = await bucket(tx)
    assert (level["tokens"], level["requests"]) == (0, 0)
    assert str(level["blocked_until"]).startswith("2026-11-28 12:00:30")
    # The next call of any task waits the Retry-After out; past the worker's sleep it gives
    # the task back, queued to run then, its attempt not counted.
    await tx.execute("UPDATE tasks SET state = 'running' WHERE id = %s", (task_id,))
    before = (await task(tx, task_id))["attempts"]
    with pytest.raises(RateLimited) as limited:
        await ask(tx, claimed, worker_id, fake, tmp_path, max_wait_s=5)
    assert limited.value.wait_s == pytest.approx(30)
    row = await task(tx, task_id)
    assert (row["state"], str(row["run_at"])) == ("queued", "2026-11-28 12:00:30+00:00")
    assert row["attempts"] == before - 1
    assert len(fake.requests(OPENAI)) == 1  # the second call never left


async def test_a_retry_after_a_429_waits_for_the_drained_bucket_and_takes_its_own_turn(
    tx: AsyncConnection[DictRow], fake: FakeLLM
) -> None:
    await set_limits(tx, tpm=100_000, rpm=600)  # ten requests a second once unblocked
    await submit(tx)
    worker_id = await new_worker(tx)
    claimed = await claim_one(tx, worker_id)
    limiter = RateLimiter(
        tx, worker_id, claimed.task_id, claimed.epoch, {"openai": BUCKET.key_fingerprint}, 10.0
    )
    journal = PgJournal(tx, claimed.task_id, claimed.epoch, PriceBook(None), limiter=limiter)
    provider = OpenAIProvider(KEY, base_url=f"{fake.url}/v1")
    models = ModelChain([Link(provider, "gpt-test")], retry=RetryPolicy(attempts=2))
    config: dict[str, Any] = NODE | {"configurable": {"outlast_journal": journal}}
    fake.script(OPENAI, Fault(429, retry_after="1"), Reply("late", input_tokens=4, output_tokens=1))
    try:
        assert (await call_model(config, request(QUESTION), models)).content == "late"
    finally:
        await models.aclose()
    first, retry = fake.requests(OPENAI)
    assert retry.at - first.at >= 1.0  # the Retry-After, then the drained bucket's turn
    level = await bucket(tx)
    assert level["in_flight"] == [] and level["blocked_until"] is None
    assert level["requests"] < 570 - 1  # drained to 0 at the 429, refilled since, one taken


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as c:
        yield c


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "openai", "model": "m", "tokens_per_minute": -1}, "tokens_per_minute"),
        ({"provider": "openai", "model": "m", "requests_per_minute": 0}, "requests_per_minute"),
        ({"provider": "mistral", "model": "m", "requests_per_minute": 5}, "provider"),
        ({"provider": "openai", "model": "", "requests_per_minute": 5}, "model"),
        ({"provider": "openai", "model": "m", "requests_per_minute": 1.5}, "requests_per_minute"),
    ],
)
def test_bad_limits_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    body = {"tokens_per_minute": None, "requests_per_minute": None, **body}
    response = client.put("/v1/rate-limits", json=body)
    assert response.status_code == 422, response.text
    assert field in response.text


def test_the_api_shows_limits_and_bucket_levels_never_a_key(client: TestClient) -> None:
    body = {"provider": "openai", "model": "gpt-test", "tokens_per_minute": 6000}
    put = client.put("/v1/rate-limits", json={**body, "requests_per_minute": 60})
    assert put.status_code == 200, put.text
    assert put.json()[0]["buckets"] == []

    async def take(pool: Pool) -> None:
        task_id = await submit(pool)
        assert (await rate_limit.reserve(pool, task_id, BUCKET, 600)).outcome == "reserved"

    on_app_loop(client, take)
    (limit,) = client.get("/v1/rate-limits").json()
    assert (limit["tokens_per_minute"], limit["requests_per_minute"]) == (6000, 60)
    (level,) = limit["buckets"]
    assert level["key_fingerprint"] == BUCKET.key_fingerprint
    # Buckets of 5,700 tokens and 57 requests (5% headroom), 600 tokens and a request taken.
    assert 5100 <= level["tokens_available"] < 5200 and level["requests_available"] == 56
    metrics = client.get("/metrics").text
    assert "outlast_rate_limit_requests_available{" in metrics
    assert KEY.get_secret_value() not in metrics + str(limit)
