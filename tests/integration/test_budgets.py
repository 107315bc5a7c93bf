"""Budgets against the real journal and the fake model server: a call reserves its worst case
and settles to its cost in the journal's transaction; a call that does not fit pauses the task
before it reaches the provider; resume refuses while still over and queues once raised; an
hourly pause resumes by itself when the hour turns (test clock); a reservation left by a crash
is charged at its worst case when the lease goes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from psycopg import AsyncConnection
from psycopg.rows import DictRow
from pydantic import SecretStr

from db import agent, budget
from db.errors import BudgetPaused, Conflict, NotFound, UnpricedModel
from db.lease import Claim
from outlast.models import Link, ModelChain, PriceBook, RetryPolicy, call_model
from outlast.models.openai import OpenAIProvider
from reaper.reaper import Reaper, ReaperConfig
from tests.support.budgeted import MAX_TOKENS, PRICES, prompt_tokens, request, worst_case
from tests.support.fake_llm import OPENAI, FakeLLM, Reply
from tests.support.queue import NO_BACKOFF, claim_one, count, new_worker, submit
from worker.journal import PgJournal

NODE = {"metadata": {"langgraph_step": 1, "langgraph_checkpoint_ns": "ask:0e1f"}}
QUESTION = "how much?"


@pytest.fixture
def prices_file(tmp_path: Path) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(PRICES)
    return path


@pytest.fixture
def worst(prices_file: Path) -> int:
    return worst_case(QUESTION, prices_file)


def full_cost() -> Reply:
    """An answer that costs exactly the call's worst case."""
    return Reply("spent", input_tokens=prompt_tokens(QUESTION), output_tokens=MAX_TOKENS)


async def at(tx: AsyncConnection[DictRow], moment: str) -> None:
    await tx.execute(f"SET LOCAL outlast.now = '{moment}'")


async def make_agent(tx: AsyncConnection[DictRow], name: str, **budgets: int) -> None:
    spec = {"provider": "openai", "model": "gpt-test", "budgets": budgets}
    await agent.create(tx, "default", name, spec, created_by="test")


async def raise_budget(tx: AsyncConnection[DictRow], name: str, **budgets: int) -> None:
    current = await agent.get(tx, "default", name)
    spec = {**current["spec"], "budgets": budgets}
    await agent.update(
        tx, "default", name, spec, from_version=current["version"], created_by="test"
    )


async def agent_task(tx: AsyncConnection[DictRow], name: str) -> uuid.UUID:
    task_id = await submit(tx)
    await tx.execute(
        "UPDATE tasks SET agent = %s, agent_version = 1 WHERE id = %s", (name, task_id)
    )
    return task_id


async def claim(tx: AsyncConnection[DictRow]) -> Claim:
    return await claim_one(tx, await new_worker(tx))


async def ask(
    tx: AsyncConnection[DictRow], claimed: Claim, fake: FakeLLM, prices_file: Path
) -> str:
    journal = PgJournal(tx, claimed.task_id, claimed.epoch, PriceBook(prices_file))
    provider = OpenAIProvider(SecretStr("sk-dummy"), base_url=f"{fake.url}/v1")
    models = ModelChain([Link(provider, "gpt-test")], retry=RetryPolicy(attempts=1))
    config: dict[str, Any] = NODE | {"configurable": {"outlast_journal": journal}}
    try:
        return (await call_model(config, request(QUESTION), models)).content
    finally:
        await models.aclose()


async def windows(tx: AsyncConnection[DictRow]) -> dict[str, tuple[int, int]]:
    cur = await tx.execute(
        "SELECT scope, spent_micro_usd, reserved_micro_usd FROM budget_windows ORDER BY scope"
    )
    return {
        r["scope"]: (r["spent_micro_usd"], r["reserved_micro_usd"]) for r in await cur.fetchall()
    }


async def task_row(tx: AsyncConnection[DictRow], task_id: uuid.UUID) -> dict[str, Any]:
    cur = await tx.execute("SELECT * FROM tasks WHERE id = %s", (task_id,))
    row = await cur.fetchone()
    assert row is not None
    return row


async def test_a_call_reserves_its_worst_case_and_settles_to_its_cost(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices_file: Path, worst: int
) -> None:
    await make_agent(tx, "spender", per_task_micro_usd=10 * worst, per_hour_micro_usd=10 * worst)
    await agent_task(tx, "spender")
    claimed = await claim(tx)
    fake.script(OPENAI, Reply("cheap", input_tokens=3, output_tokens=2))
    assert await ask(tx, claimed, fake, prices_file) == "cheap"
    assert await windows(tx) == {"agent_hour": (5, 0), "task": (5, 0)}
    assert await count(tx, "SELECT count(*) FROM budget_reservations") == 0
    assert await count(tx, "SELECT sum(cost_micro_usd) FROM llm_calls") == 5


async def test_a_task_without_budgets_reserves_nothing(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices_file: Path
) -> None:
    await submit(tx)
    assert await ask(tx, await claim(tx), fake, prices_file) == "hello"
    assert await windows(tx) == {}
    assert await count(tx, "SELECT count(*) FROM budget_reservations") == 0


async def test_a_call_over_budget_pauses_the_task_before_the_call(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices_file: Path, worst: int
) -> None:
    await make_agent(tx, "spender", per_task_micro_usd=worst - 1)
    task_id = await agent_task(tx, "spender")
    claimed = await claim(tx)
    with pytest.raises(BudgetPaused) as paused:
        await ask(tx, claimed, fake, prices_file)
    assert fake.received == []  # nothing reached the provider
    row = await task_row(tx, task_id)
    assert (row["state"], row["worker_id"], row["attempts"]) == ("paused", None, 0)
    assert row["pause"] == paused.value.pause
    assert row["pause"]["reason"] == "budget" and row["pause"]["scope"] == "task"
    assert (row["pause"]["limit_micro_usd"], row["pause"]["needed_micro_usd"]) == (worst - 1, worst)
    assert await count(tx, "SELECT count(*) FROM llm_calls") == 0
    kinds = await tx.execute(
        "SELECT kind, to_state FROM task_events WHERE task_id = %s ORDER BY id", (task_id,)
    )
    assert [tuple(r.values()) for r in await kinds.fetchall()][-1] == ("paused", "paused")

    (item,) = await budget.list_paused(tx, tenant="default", limit=10)
    assert item["task_id"] == task_id and item["spent_micro_usd"] == 0
    assert await budget.list_paused(tx, tenant="other", limit=10) == []

    with pytest.raises(Conflict, match="still over budget"):
        await budget.resume(tx, task_id, tenant="default", by="test")
    with pytest.raises(NotFound):
        await budget.resume(tx, task_id, tenant="other", by="test")
    await raise_budget(tx, "spender", per_task_micro_usd=worst)
    await budget.resume(tx, task_id, tenant="default", by="test")
    row = await task_row(tx, task_id)
    assert (row["state"], row["pause"]) == ("queued", None)
    with pytest.raises(Conflict, match="not paused"):
        await budget.resume(tx, task_id, tenant="default", by="test")

    fake.script(OPENAI, full_cost())
    assert await ask(tx, await claim(tx), fake, prices_file) == "spent"
    assert await windows(tx) == {"task": (worst, 0)}


async def test_an_hourly_pause_resumes_by_itself_when_the_spend_ages_out(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices_file: Path, worst: int
) -> None:
    """The hour is a rolling one (ADR 0023): spend counts for 3600 s after it was charged,
    whatever the clock hour."""
    await at(tx, "2030-01-01T10:30:00Z")
    await make_agent(tx, "hourly", per_hour_micro_usd=worst)
    await agent_task(tx, "hourly")
    await agent_task(tx, "hourly")
    fake.script(OPENAI, full_cost())
    first = await claim(tx)
    assert await ask(tx, first, fake, prices_file) == "spent"
    paused = await claim(tx)
    second = paused.task_id
    with pytest.raises(BudgetPaused):
        await ask(tx, paused, fake, prices_file)
    pause = (await task_row(tx, second))["pause"]
    assert pause["scope"] == "agent_hour"
    assert (pause["window_start"], pause["window_end"]) == (
        "2030-01-01T09:30:00+00:00",
        "2030-01-01T10:30:00+00:00",
    )
    assert (await task_row(tx, first.task_id))["state"] == "running"

    await at(tx, "2030-01-01T11:00:00Z")  # a clock hour would have let it go here
    assert await budget.resume_due(tx, batch=10) == 0
    await at(tx, "2030-01-01T11:29:59Z")
    assert await budget.resume_due(tx, batch=10) == 0
    await at(tx, "2030-01-01T11:30:00Z")  # the 10:30 charge is 3600 s old: out of the hour
    assert await budget.resume_due(tx, batch=10) == 1
    assert (await task_row(tx, second))["state"] == "queued"
    fake.script(OPENAI, full_cost())
    resumed = await claim(tx)
    assert resumed.task_id == second
    assert await ask(tx, resumed, fake, prices_file) == "spent"
    cur = await tx.execute("SELECT charged_at, amount_micro_usd FROM budget_spend ORDER BY 1")
    assert [tuple(r.values()) for r in await cur.fetchall()] == [
        (datetime(2030, 1, 1, 10, 30, tzinfo=UTC), worst),
        (datetime(2030, 1, 1, 11, 30, tzinfo=UTC), worst),
    ]


async def test_the_rolling_hour_counts_what_was_charged_in_the_last_3600_s(
    tx: AsyncConnection[DictRow], worst: int
) -> None:
    await make_agent(tx, "rolling", per_hour_micro_usd=3 * worst)
    for _ in range(4):
        await agent_task(tx, "rolling")

    async def charge(moment: str) -> None:
        await at(tx, moment)
        claimed = await claim(tx)
        held = await budget.reserve(tx, claimed.task_id, claimed.epoch, worst)
        assert held.reservation_id is not None
        await budget.settle(tx, claimed.task_id, held.reservation_id, worst)

    await charge("2030-01-01T10:50:00Z")
    await charge("2030-01-01T11:10:00Z")
    await charge("2030-01-01T11:40:00Z")
    await at(tx, "2030-01-01T11:49:59Z")  # all three within the last 3600 s: full
    fourth = await claim(tx)
    with pytest.raises(BudgetPaused):
        await budget.reserve(tx, fourth.task_id, fourth.epoch, worst)
    await at(tx, "2030-01-01T11:50:00Z")  # the 10:50 charge has aged out
    assert await budget.resume_due(tx, batch=10) == 1


async def test_the_tenant_day_applies_to_every_task_of_the_tenant(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices_file: Path, worst: int
) -> None:
    await budget.tenant_set(tx, tenant="default", per_day_micro_usd=worst, updated_by="test")
    await submit(tx)
    await submit(tx)
    fake.script(OPENAI, full_cost())
    await ask(tx, await claim(tx), fake, prices_file)
    with pytest.raises(BudgetPaused) as paused:
        await ask(tx, await claim(tx), fake, prices_file)
    assert paused.value.pause is not None and paused.value.pause["scope"] == "tenant_day"
    today = await budget.tenant_get(tx, tenant="default")
    assert (today["per_day_micro_usd"], today["spent_today_micro_usd"]) == (worst, worst)


async def test_a_reservation_left_by_a_crash_is_charged_when_the_lease_goes(
    tx: AsyncConnection[DictRow], worst: int
) -> None:
    await at(tx, "2029-12-31T23:59:00Z")
    await make_agent(tx, "spender", per_hour_micro_usd=10 * worst)
    await agent_task(tx, "spender")
    claimed = await claim(tx)
    held = await budget.reserve(tx, claimed.task_id, claimed.epoch, worst)
    assert held.reservation_id is not None
    assert await budget.expire(tx, batch=10) == 0  # the lease is live: the call may settle
    await at(tx, "2030-01-01T00:00:00Z")  # the worker died: its lease has run out
    result = await Reaper(tx, ReaperConfig(retry=NO_BACKOFF)).run_once()
    assert (result.requeued, result.reservations_expired) == (1, 1)
    assert await windows(tx) == {"agent_hour": (worst, 0)}  # charged at its worst case


async def test_the_reaper_prunes_windows_past_the_retention(
    tx: AsyncConnection[DictRow], fake: FakeLLM, prices_file: Path, worst: int
) -> None:
    await at(tx, "2030-01-01T10:30:00Z")
    await make_agent(tx, "spender", per_task_micro_usd=worst, per_hour_micro_usd=worst)
    task_id = await agent_task(tx, "spender")
    fake.script(OPENAI, full_cost())
    await ask(tx, await claim(tx), fake, prices_file)
    charges = "SELECT count(*) FROM budget_spend"
    await at(tx, "2030-01-01T12:30:00Z")
    assert await budget.prune(tx, retention_s=3600, batch=10) == 0
    assert await count(tx, charges) == 1  # left the rolling hour only 3600 s ago
    await at(tx, "2030-01-01T12:30:01Z")
    assert await budget.prune(tx, retention_s=3600, batch=10) == 0  # the agent's hour stays
    assert await count(tx, charges) == 0
    await tx.execute("DELETE FROM tasks WHERE id = %s", (task_id,))
    assert await budget.prune(tx, retention_s=3600, batch=10) == 1  # the task's window
    assert await windows(tx) == {"agent_hour": (worst, 0)}


async def test_a_budgeted_call_to_an_unpriced_model_is_refused_naming_it(
    tx: AsyncConnection[DictRow], fake: FakeLLM, tmp_path: Path
) -> None:
    """ADR 0023: a model with no known price would reserve 0 and let the budget be passed."""
    unpriced = tmp_path / "none.toml"
    unpriced.write_text("")  # no override: gpt-test has no price anywhere
    await make_agent(tx, "spender", per_task_micro_usd=1_000_000)
    await agent_task(tx, "spender")
    with pytest.raises(UnpricedModel, match="openai:gpt-test") as refused:
        await ask(tx, await claim(tx), fake, unpriced)
    assert refused.value.models == ["openai:gpt-test"]
    assert fake.requests(OPENAI) == []  # refused before the call
    assert await count(tx, "SELECT count(*) FROM budget_reservations") == 0
    # Without a budget the same model is called (its cost shows as unpriced).
    await submit(tx)
    assert await ask(tx, await claim(tx), fake, unpriced) == "hello"
