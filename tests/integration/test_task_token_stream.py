"""A running model call's tokens stream on its task's stream (ADR 0022): the worker's journal
streams the call through the real SDK (the fake provider sends the answer in pieces), writes the
text to llm_deltas as it arrives, and `GET /v1/tasks/{id}/stream` sends each piece as an
`event: token` whose id `E.D` resumes both the task events and the tokens; what the journal
records is the assembled answer, as without streaming."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from db import llm_delta
from db.connect import Pool
from outlast.models import (
    Link,
    ModelChain,
    ModelRequest,
    PriceBook,
    RetryPolicy,
    UserMessage,
    call_model,
)
from outlast.models.anthropic import AnthropicProvider
from outlast.models.openai import OpenAIProvider
from outlast.models.provider import Provider
from reaper.reaper import Reaper, ReaperConfig
from tests.support.api import live_server
from tests.support.fake_llm import ANTHROPIC, OPENAI, FakeLLM, Reply
from tests.support.keys import AUTH
from tests.support.queue import claim_one, count, new_worker, submit
from tests.support.sse import Event, events
from worker.journal import PgJournal

ANSWER = "The answer, worked out step by step, is forty-two."
NODE = {"metadata": {"langgraph_step": 1, "langgraph_checkpoint_ns": "agent:0e1f"}}


def provider(api: str, fake: FakeLLM) -> Provider:
    if api == OPENAI:
        return OpenAIProvider(SecretStr("sk-dummy"), base_url=f"{fake.url}/v1")
    return AnthropicProvider(SecretStr("sk-dummy"), base_url=fake.url)


def read(url: str, headers: dict[str, str], got: list[Event], stop: threading.Event) -> None:
    with (
        contextlib.suppress(httpx.HTTPError),
        httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(60)) as response,
    ):
        for event in events(response):
            got.append(event)
            if stop.is_set():
                return


def follow(url: str, headers: dict[str, str]) -> tuple[list[Event], threading.Event]:
    got: list[Event] = []
    stop = threading.Event()
    threading.Thread(target=read, args=(url, {**AUTH, **headers}, got, stop), daemon=True).start()
    return got, stop


async def until(predicate: Callable[[], bool], timeout: float = 30) -> None:
    """Wait for a condition the reader threads make true, without blocking the loop."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def tokens(got: list[Event]) -> list[Event]:
    return [e for e in got if e.event == "token"]


@pytest.mark.parametrize("api", [OPENAI, ANTHROPIC])
async def test_a_running_calls_tokens_stream_on_its_task(
    api: str, db_url: str, pool: Pool, fake: FakeLLM, tmp_path: Path
) -> None:
    fake.script(api, Reply(ANSWER))
    task_id = await submit(pool)
    claim = await claim_one(pool, await new_worker(pool))
    journal = PgJournal(pool, claim.task_id, claim.epoch, PriceBook())
    config = NODE | {"configurable": {"outlast_journal": journal}}
    model = "gpt-test" if api == OPENAI else "claude-test"
    chain = ModelChain([Link(provider(api, fake), model)], retry=RetryPolicy(attempts=1))
    with live_server(db_url, stream_poll_s=0.2) as base:
        url = f"{base}/v1/tasks/{task_id}/stream"
        got, stop = follow(url, {})
        await until(lambda: len(got) >= 2, 30)  # submitted, claimed: the stream is open
        try:
            request = ModelRequest(messages=(UserMessage(content="what is six times seven?"),))
            response = await call_model(config, request, chain)
        finally:
            await chain.aclose()
        assert response.content == ANSWER
        assert fake.requests(api)[-1].body.get("stream") is True  # the SDK streamed it
        await until(lambda: "".join(e.data["text"] for e in tokens(got)) == ANSWER, 30)
        stop.set()
        pieces = tokens(got)
        assert len(pieces) >= 2
        assert {e.data["call_id"] for e in pieces} == {
            (await llm_delta.task(pool, task_id, tenant="default", after=0, limit=9))[0]["call_id"]
        }
        # The journal holds the assembled answer, exactly as a call that did not stream.
        assert await count(pool, "SELECT count(*) FROM llm_calls WHERE status = 'completed'") == 1
        # Resume after the first token: the rest, once; then a plain E: every token still kept.
        again, stop_again = follow(url, {"Last-Event-ID": pieces[0].raw_id})
        await until(lambda: len(tokens(again)) >= len(pieces) - 1, 30)
        await asyncio.sleep(0.5)  # a duplicate would have arrived by now (poll every 0.2 s)
        stop_again.set()
        assert [e.data["id"] for e in tokens(again)] == [e.data["id"] for e in pieces[1:]]
        assert all(e.event == "token" for e in again)  # no task event came twice
        plain, stop_plain = follow(url, {"Last-Event-ID": str(pieces[0].id)})
        await until(lambda: len(tokens(plain)) >= len(pieces), 30)
        stop_plain.set()


def test_a_bad_task_stream_position_is_refused_naming_the_field(db_url: str) -> None:
    with live_server(db_url) as base:
        url = f"{base}/v1/tasks/00000000-0000-0000-0000-000000000000/stream"
        answer = httpx.get(url, headers={**AUTH, "Last-Event-ID": "1.x"})
        assert answer.status_code == 422
        assert "last-event-id" in answer.text.lower()


async def test_the_reaper_prunes_deltas_past_their_retention(pool: Pool) -> None:
    task_id = await submit(pool)
    assert await llm_delta.insert(pool, task_id, 1, [(1, "old "), (1, "text")]) == 2
    await pool_execute(pool, "UPDATE llm_deltas SET at = at - interval '1 hour'")
    assert await llm_delta.insert(pool, task_id, 2, [(1, "new")]) == 1
    reaper = Reaper(pool, ReaperConfig(token_retention_s=600))
    assert (await reaper.run_once()).tokens_pruned == 2
    rows = await llm_delta.task(pool, task_id, tenant="default", after=0, limit=10)
    assert [r["text"] for r in rows] == ["new"]
    # Another tenant reads none of the task's deltas.
    assert await llm_delta.task(pool, task_id, tenant="acme", after=0, limit=10) == []


async def pool_execute(pool: Pool, sql: str) -> None:
    async with pool.connection() as conn:
        await conn.execute(sql.encode())
