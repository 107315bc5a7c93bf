"""Transcripts stored once (ADR 0012): a chat graph's message list is stored as a chain of
content-addressed nodes, each message once, while every read (the checkpointer's, the API's)
sees the whole list; a zombie's checkpoint stores no node; a digest resolves only in its own
tenant."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from pydantic import SecretStr

from db import checkpoints, lease, llm_call, tasks, transcripts, workers
from db.connect import Pool
from db.errors import LeaseLost, NotFound
from db.lean import LEAN_TYPE
from db.saver import TRANSCRIPT_TYPE, TranscriptSaver
from outlast.models import (
    AssistantMessage,
    Link,
    ModelChain,
    ModelRequest,
    PriceBook,
    RetryPolicy,
    ToolSpec,
    UserMessage,
    call_model,
)
from outlast.models.openai import OpenAIProvider
from tests.integration.test_fence_pipelined import taken_over
from tests.support import chat_graph
from tests.support.api import api_client, on_app_loop
from tests.support.api import submit as submit_via_api
from tests.support.fake_llm import OPENAI, FakeLLM, Reply
from tests.support.queue import NO_BACKOFF, claim_one, count, new_worker, submit
from worker.checkpointer import FencedSaver
from worker.journal import PgJournal, request_of

TURNS = 6


def thread(task_id: uuid.UUID) -> Any:
    return {"configurable": {"thread_id": str(task_id)}}


async def chat(pool: Pool, saver: Any, task_id: uuid.UUID, turns: range) -> Any:
    return await chat_turns(saver, task_id, turns)


async def chat_turns(saver: Any, task_id: uuid.UUID, turns: range) -> Any:
    graph = chat_graph.build().compile(checkpointer=saver)
    result = None
    for n in turns:
        result = await graph.ainvoke(chat_graph.turn(n), thread(task_id), durability="sync")
    return result


async def claimed(pool: Pool) -> tuple[uuid.UUID, int]:
    task_id = await submit(pool)
    claim = await claim_one(pool, await new_worker(pool))
    return task_id, claim.epoch


async def nodes(pool: Pool, encoding: str | None = None) -> int:
    """Transcript nodes stored, of one encoding or all."""
    sql = "SELECT count(*) FROM transcript_messages WHERE %s::text IS NULL OR encoding = %s"
    return await count(pool, sql, encoding, encoding)


async def test_each_message_is_stored_once_and_read_back_whole(pool: Pool) -> None:
    task_id, epoch = await claimed(pool)
    result = await chat(pool, FencedSaver(pool, task_id, epoch), task_id, range(TURNS))
    assert len(result["messages"]) == 2 * TURNS
    # One list node per message, none twice; and each text once, though every answer is in a
    # pending write and a list too, and every question in the graph's input as well.
    assert await nodes(pool, LEAN_TYPE) == 2 * TURNS
    assert await nodes(pool, "text") == 2 * TURNS
    assert await count(pool, "SELECT count(*) FROM checkpoint_writes") > 0
    long_blobs = await count(
        pool,
        "SELECT count(*) FROM (SELECT blob FROM checkpoint_blobs UNION ALL"
        " SELECT blob FROM checkpoint_writes UNION ALL SELECT content FROM transcript_messages"
        " WHERE encoding <> 'text') AS b (blob) WHERE octet_length(blob) > 400",
    )
    assert long_blobs == 0  # no text outside its own node
    blobs = await count(
        pool,
        "SELECT count(*) FROM checkpoint_blobs WHERE thread_id = %s AND channel = 'messages'"
        " AND type = %s AND octet_length(blob) = 32",
        str(task_id),
        TRANSCRIPT_TYPE,
    )
    assert blobs == await count(
        pool, "SELECT count(*) FROM checkpoint_blobs WHERE channel = 'messages'"
    )
    # The API's reader, and the history: every checkpoint's list, whole.
    graph = chat_graph.build().compile(checkpointer=TranscriptSaver(pool))
    state = await graph.aget_state(thread(task_id))
    assert [m.content for m in state.values["messages"]] == [m.content for m in result["messages"]]
    sizes = [
        len(s.values.get("messages", [])) async for s in graph.aget_state_history(thread(task_id))
    ]
    assert max(sizes) == 2 * TURNS and 1 in sizes


async def test_a_new_claim_resumes_the_list_and_adds_only_new_messages(pool: Pool) -> None:
    task_id, epoch = await claimed(pool)
    await chat(pool, FencedSaver(pool, task_id, epoch), task_id, range(2))
    # A fresh saver of the same claim (as after a restart) knows nothing it has not read.
    result = await chat(pool, FencedSaver(pool, task_id, epoch), task_id, range(2, 4))
    assert len(result["messages"]) == 8
    assert await nodes(pool, LEAN_TYPE) == 8
    assert await nodes(pool, "text") == 8


async def test_the_stock_saver_stores_the_list_at_every_step(pool: Pool) -> None:
    """What the chains save: stock, the messages blobs hold the square of the turns."""
    task_id, _ = await claimed(pool)
    await chat(pool, AsyncPostgresSaver(pool), task_id, range(TURNS))
    stock = await count(
        pool,
        "SELECT sum(octet_length(blob)) FROM checkpoint_blobs WHERE channel = 'messages'",
    )
    assert stock > TURNS * (TURNS + 1) / 2 * chat_graph.ANSWER_BYTES


async def test_a_zombie_stores_no_message(pool: Pool) -> None:
    old, new = await taken_over(pool)
    with pytest.raises(LeaseLost):
        await chat(pool, FencedSaver(pool, old.task_id, old.epoch), old.task_id, range(1))
    assert await nodes(pool) == 0
    await chat(pool, FencedSaver(pool, new.task_id, new.epoch), new.task_id, range(1))
    assert await nodes(pool) == 4  # two messages, each a list node and a text


async def test_a_digest_resolves_only_in_its_own_tenant(pool: Pool) -> None:
    task_id, epoch = await claimed(pool)
    await chat(pool, FencedSaver(pool, task_id, epoch), task_id, range(1))
    other = await submit(pool)
    async with pool.connection() as conn:
        await conn.execute("UPDATE tasks SET tenant = 'other' WHERE id = %s", (other,))
        cur = await conn.execute(
            "SELECT blob FROM checkpoint_blobs WHERE thread_id = %s AND type = %s LIMIT 1",
            (str(task_id), TRANSCRIPT_TYPE),
        )
        row = await cur.fetchone()
    assert row is not None
    head = bytes(row["blob"])
    assert len((await transcripts.read(pool, task_id, [head]))[head][1]) >= 1
    with pytest.raises(NotFound):
        await transcripts.read(pool, other, [head])


TOOLS = (ToolSpec(name="search", description="look it up"),)


async def converse(
    pool: Pool, fake: FakeLLM, task_id: uuid.UUID, epoch: int, calls: int
) -> list[str]:
    """A chat agent's calls: each one sends the whole conversation so far, plus the tools."""
    provider = OpenAIProvider(SecretStr("sk-dummy"), base_url=f"{fake.url}/v1")
    models = ModelChain([Link(provider, "gpt-test")], retry=RetryPolicy(attempts=1))
    journal = PgJournal(pool, task_id, epoch, PriceBook(None))
    history: list[Any] = []
    answers = []
    try:
        for n in range(calls):
            history.append(UserMessage(content=chat_graph.text(f"question {n}", 500)))
            request = ModelRequest(messages=tuple(history), tools=TOOLS)
            config = {
                "metadata": {"langgraph_step": n, "langgraph_checkpoint_ns": "agent:1"},
                "configurable": {"outlast_journal": journal},
            }
            response = await call_model(config, request, models)
            history.append(response.message())
            answers.append(response.content)
    finally:
        await models.aclose()
    return answers


async def test_the_journal_stores_each_message_once_and_its_requests_read_back(
    pool: Pool, fake: FakeLLM
) -> None:
    answers = [chat_graph.text(f"answer {n}", 1000) for n in range(5)]
    fake.script(OPENAI, *(Reply(answer) for answer in answers))
    task_id, epoch = await claimed(pool)
    await converse(pool, fake, task_id, epoch, 5)
    # 5 questions and the 4 answers sent back (the last answer is not sent yet), and one tool;
    # each text once, though every answer is in a response and in the next requests.
    assert await nodes(pool, "json-message") == 5 + 4
    assert await nodes(pool, "json-tool") == 1
    assert await nodes(pool, "text") == 5 + 5
    rows = await llm_call.list_(pool, task_id, tenant="default")
    assert [row["response"]["content"] for row in rows] == answers
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT request, request_digest FROM llm_calls WHERE task_id = %s ORDER BY id",
            (task_id,),
        )
        stored = await cur.fetchall()
    last = stored[-1]
    assert last["request"]["messages"]["count"] == 9
    assert len(str(last["request"])) < 400  # references, not the messages
    rebuilt = await request_of(pool, task_id, last["request"])
    assert rebuilt.digest() == last["request_digest"]
    assert isinstance(rebuilt.messages[1], AssistantMessage) and rebuilt.tools == TOOLS


async def test_a_zombie_journals_no_message(pool: Pool, fake: FakeLLM) -> None:
    old, _ = await taken_over(pool)
    with pytest.raises(LeaseLost):
        await converse(pool, fake, old.task_id, old.epoch, 1)
    assert await nodes(pool) == 0


def test_the_api_shows_a_checkpoint_s_whole_list(db_url: str) -> None:
    graphs = "test-chat=tests.support.chat_graph:graph"
    with api_client(db_url, graphs=graphs) as client:
        task = submit_via_api(client, "test-chat")
        task_id = uuid.UUID(task["id"])

        async def run(pool: Pool) -> None:
            worker_id = uuid.uuid4()
            chat = ("test-chat",)
            await workers.register(pool, worker_id, hostname="t", pid=1, concurrency=1, graphs=chat)
            (claim,) = await lease.claim_many(pool, worker_id, limit=1, ttl_s=60, graphs=chat)
            await chat_turns(FencedSaver(pool, task_id, claim.epoch), task_id, range(3))

        on_app_loop(client, run)
        listed = client.get(f"/v1/tasks/{task_id}/checkpoints").json()
        newest = listed["items"][0]["checkpoint_id"]
        state = client.get(f"/v1/tasks/{task_id}/checkpoints/{newest}")
        assert state.status_code == 200, state.text
        messages = state.json()["values"]["messages"]
        assert len(messages) == 6
        assert messages[-1]["content"] == chat_graph.text("answer 5", chat_graph.ANSWER_BYTES)


async def test_a_reused_answer_comes_back_whole(pool: Pool, fake: FakeLLM) -> None:
    answers = [chat_graph.text(f"answer {n}", 1000) for n in range(2)]
    fake.script(OPENAI, *(Reply(answer) for answer in answers))
    task_id, epoch = await claimed(pool)
    assert await converse(pool, fake, task_id, epoch, 2) == answers
    fake.reset()
    async with pool.connection() as conn:
        await conn.execute("UPDATE tasks SET lease_expires_at = clock_timestamp()")
    await lease.reap_expired(pool, batch=10, retry=NO_BACKOFF)
    again = await claim_one(pool, await new_worker(pool))
    assert await converse(pool, fake, task_id, again.epoch, 2) == answers
    assert fake.received == []


async def test_a_fork_reads_the_lists_it_copied(pool: Pool) -> None:
    """A fork copies a checkpoint's rows in SQL; its references resolve in the same tenant."""
    task_id, epoch = await claimed(pool)
    await chat(pool, FencedSaver(pool, task_id, epoch), task_id, range(2))
    head = await checkpoints.head(pool, str(task_id))
    assert head is not None
    fork = await tasks.fork(pool, task_id, head, None, tenant="default")
    graph = chat_graph.build().compile(checkpointer=TranscriptSaver(pool))
    state = await graph.aget_state(thread(uuid.UUID(str(fork["id"]))))
    assert len(state.values["messages"]) == 4


async def test_a_text_that_looks_like_a_marker_is_read_back_as_it_is(pool: Pool) -> None:
    forged = transcripts.MARK + "ab" * 32
    task_id, epoch = await claimed(pool)
    graph = chat_graph.build().compile(checkpointer=FencedSaver(pool, task_id, epoch))
    await graph.ainvoke({"messages": [HumanMessage(content=forged)]}, thread(task_id))
    reader = chat_graph.build().compile(checkpointer=TranscriptSaver(pool))
    state = await reader.aget_state(thread(task_id))
    assert state.values["messages"][0].content == forged
