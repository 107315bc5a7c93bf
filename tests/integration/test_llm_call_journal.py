"""The LLM-call journal against the real SDK and the fake model server: calls are journaled with
usage and cost, a re-run of the node under a new lease reuses them without a request reaching
the server, a changed request is called anew, and a lost lease writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from pydantic import SecretStr

from db import lease, llm_call
from db.errors import LeaseLost
from db.lease import Claim
from outlast.models import (
    Link,
    ModelChain,
    ModelRequest,
    PriceBook,
    RetryPolicy,
    UserMessage,
    call_model,
)
from outlast.models.openai import OpenAIProvider
from tests.support.fake_llm import OPENAI, FakeLLM, Reply
from tests.support.queue import claim_one, new_worker, submit
from worker.journal import PgJournal

FIRST = ModelRequest(messages=(UserMessage(content="plan the trip"),))
SECOND = ModelRequest(messages=(UserMessage(content="book the train"),))
CHANGED = ModelRequest(messages=(UserMessage(content="plan the trip, by boat"),))
# What a node's RunnableConfig holds that the step key is made of (outlast.models.journal).
NODE = {"metadata": {"langgraph_step": 1, "langgraph_checkpoint_ns": "agent:0e1f"}}


@pytest.fixture
def prices(tmp_path: Path) -> PriceBook:
    path = tmp_path / "prices.toml"
    path.write_text('[openai."gpt-test"]\ninput = 2\noutput = 10\n')
    return PriceBook(path)


def chain(fake: FakeLLM) -> ModelChain:
    provider = OpenAIProvider(SecretStr("sk-dummy"), base_url=f"{fake.url}/v1")
    return ModelChain([Link(provider, "gpt-test")], retry=RetryPolicy(attempts=1))


def node_config(tx: AsyncConnection[DictRow], claim: Claim, prices: PriceBook) -> dict[str, Any]:
    journal = PgJournal(tx, claim.task_id, claim.epoch, prices)
    return NODE | {"configurable": {"outlast_journal": journal}}


async def run_node(config: dict[str, Any], fake: FakeLLM, first: ModelRequest = FIRST) -> list[str]:
    """The node: two model calls, the second after the first."""
    models = chain(fake)
    try:
        one = await call_model(config, first, models)
        two = await call_model(config, SECOND, models)
    finally:
        await models.aclose()
    return [one.content, two.content]


async def reclaim(tx: AsyncConnection[DictRow], old: Claim) -> Claim:
    """The task given back and claimed again: a second attempt, under a new epoch."""
    worker = await new_worker(tx)
    assert await lease.release(tx, worker, old.task_id, old.epoch)
    new = await claim_one(tx, worker)
    assert (new.task_id, new.epoch) == (old.task_id, old.epoch + 1)
    return new


async def first_claim(tx: AsyncConnection[DictRow]) -> Claim:
    await submit(tx)
    return await claim_one(tx, await new_worker(tx))


async def test_calls_are_journaled_with_usage_and_cost(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices: PriceBook
) -> None:
    fake.script(OPENAI, Reply("a plan", input_tokens=100, output_tokens=20), Reply("booked"))
    claim = await first_claim(tx)
    assert await run_node(node_config(tx, claim, prices), fake) == ["a plan", "booked"]
    rows = await llm_call.list_(tx, claim.task_id, tenant="default")
    assert [(r["step_key"], r["seq"], r["status"]) for r in rows] == [
        ("1:agent:0e1f", 0, "completed"),
        ("1:agent:0e1f", 1, "completed"),
    ]
    first = rows[0]
    assert first["request_digest"] == FIRST.digest()
    assert (first["provider"], first["model"], first["lease_epoch"]) == ("openai", "gpt-test", 1)
    assert (first["input_tokens"], first["output_tokens"]) == (100, 20)
    assert first["cost_micro_usd"] == 100 * 2 + 20 * 10
    assert first["price_source"].startswith("override")
    assert first["response"]["content"] == "a plan"
    figures = await llm_call.figures(tx, claim.task_id, tenant="default")
    assert figures is not None
    assert (figures["calls"], figures["completed"], figures["in_flight_at_crash"]) == (2, 2, 0)
    assert figures["input_tokens"] == 110 and figures["cost_micro_usd"] == 200 + 200 + 20 + 50


async def test_rerun_of_the_node_reuses_every_completed_call(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices: PriceBook
) -> None:
    fake.script(OPENAI, Reply("a plan"), Reply("booked"))
    claim = await first_claim(tx)
    await run_node(node_config(tx, claim, prices), fake)
    fake.reset()
    again = await reclaim(tx, claim)
    assert await run_node(node_config(tx, again, prices), fake) == ["a plan", "booked"]
    assert fake.received == []
    assert len(await llm_call.list_(tx, claim.task_id, tenant="default")) == 2


async def test_changed_request_is_called_again_and_the_old_call_kept(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices: PriceBook
) -> None:
    fake.script(OPENAI, Reply("a plan"), Reply("booked"))
    claim = await first_claim(tx)
    await run_node(node_config(tx, claim, prices), fake)
    fake.reset()
    fake.script(OPENAI, Reply("a boat plan"))
    again = await reclaim(tx, claim)
    answers = await run_node(node_config(tx, again, prices), fake, first=CHANGED)
    assert answers == ["a boat plan", "booked"]  # the unchanged second call is still reused
    assert len(fake.received) == 1
    rows = await llm_call.list_(tx, claim.task_id, tenant="default")
    assert [(r["seq"], r["lease_epoch"], r["request_digest"]) for r in rows] == [
        (0, 1, FIRST.digest()),
        (1, 1, SECOND.digest()),
        (0, 2, CHANGED.digest()),
    ]
    figures = await llm_call.figures(tx, claim.task_id, tenant="default")
    assert figures is not None and figures["calls"] == 3


async def test_call_in_flight_at_a_crash_is_marked_and_counted(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices: PriceBook
) -> None:
    claim = await first_claim(tx)
    crashed = PgJournal(tx, claim.task_id, claim.epoch, prices)
    await crashed.begin("1:agent:0e1f", 0, FIRST)  # the worker died before the answer
    again = await reclaim(tx, claim)
    figures = await llm_call.figures(tx, claim.task_id, tenant="default")
    assert figures is not None and figures["in_flight_at_crash"] == 1
    await run_node(node_config(tx, again, prices), fake)
    assert len(fake.received) == 2
    rows = await llm_call.list_(tx, claim.task_id, tenant="default")
    assert [r["status"] for r in rows] == ["interrupted", "completed", "completed"]
    figures = await llm_call.figures(tx, claim.task_id, tenant="default")
    assert figures is not None
    assert (figures["calls"], figures["in_flight_at_crash"]) == (3, 1)


async def test_lost_lease_raises_and_writes_nothing(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices: PriceBook
) -> None:
    claim = await first_claim(tx)
    stale = PgJournal(tx, claim.task_id, claim.epoch, prices)
    entry = await stale.begin("1:agent:0e1f", 0, FIRST)
    await reclaim(tx, claim)
    models = chain(fake)
    response = await models.complete(FIRST)
    await models.aclose()
    with pytest.raises(LeaseLost):
        await stale.finish(entry, response, None)
    with pytest.raises(LeaseLost):
        await stale.begin("1:agent:0e1f", 1, SECOND)
    rows = await llm_call.list_(tx, claim.task_id, tenant="default")
    assert [(r["status"], r["response"]) for r in rows] == [("started", None)]


async def test_without_a_journal_the_call_goes_straight_to_the_chain(fake: FakeLLM) -> None:
    models = chain(fake)
    try:
        assert (await call_model(None, FIRST, models)).content == "hello"
    finally:
        await models.aclose()
    assert len(fake.received) == 1


async def test_node_run_again_within_one_claim_reuses_its_calls(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices: PriceBook
) -> None:
    """As after an interrupt answered in the same claim: the node runs again from its start,
    under the same journal, with a fresh config (LangGraph builds one per node execution)."""
    fake.script(OPENAI, Reply("a plan"), Reply("booked"))
    claim = await first_claim(tx)
    journal = PgJournal(tx, claim.task_id, claim.epoch, prices)
    await run_node(NODE | {"configurable": {"outlast_journal": journal}}, fake)
    fake.reset()
    again = await run_node(NODE | {"configurable": {"outlast_journal": journal}}, fake)
    assert again == ["a plan", "booked"]
    assert fake.received == []


async def test_a_row_holds_its_response_once_and_reads_it_whole(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices: PriceBook
) -> None:
    """The response's provider, model, latency and usage are in the row's columns only (ADR
    0025); a reuse and the API's list read the response whole, as does a row written before."""
    claim = await first_claim(tx)
    fake.script(OPENAI, Reply("a plan", input_tokens=12, output_tokens=5), Reply("booked"))
    await run_node(node_config(tx, claim, prices), fake)
    cur = await tx.execute(
        "SELECT response FROM llm_calls WHERE task_id = %s ORDER BY id", (claim.task_id,)
    )
    stored = [row["response"] for row in await cur.fetchall()]
    assert all(not {"usage", "provider", "model", "latency_ms"} & set(r) for r in stored)
    (first, _) = await llm_call.list_(tx, claim.task_id, tenant="default")
    whole = first["response"]
    assert whole["usage"] == {
        "input_tokens": 12,
        "output_tokens": 5,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
    }
    assert (whole["provider"], whole["model"], whole["content"]) == ("openai", "gpt-test", "a plan")
    assert whole["latency_ms"] == first["latency_ms"]
    # Reused after a crash: the same whole response, no request to the server.
    again = await reclaim(tx, claim)
    requests = len(fake.requests(OPENAI))
    assert await run_node(node_config(tx, again, prices), fake) == ["a plan", "booked"]
    assert len(fake.requests(OPENAI)) == requests
    # A row written before holds its response whole: read as it is.
    await tx.execute(
        "UPDATE llm_calls SET response = %s WHERE id = %s",
        (Jsonb({**whole, "usage": {**whole["usage"], "input_tokens": 99}}), first["id"]),
    )
    (old, _) = await llm_call.list_(tx, claim.task_id, tenant="default")
    assert old["response"]["usage"]["input_tokens"] == 99
