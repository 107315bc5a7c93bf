"""Retention takes a pruned task's transcript nodes with it (ADR 0023), but never a node another
task stored too, nor one a fork of it may read."""

from __future__ import annotations

import uuid

from db import checkpoints, tasks
from db.connect import Pool, connect
from db.saver import TranscriptSaver
from reaper.reaper import Reaper, ReaperConfig
from tests.integration.test_transcripts import chat, thread
from tests.support import chat_graph
from tests.support.queue import claim_one, complete, count, new_worker, submit
from worker.checkpointer import FencedSaver

DAY_S = 86_400.0


async def owned(pool: Pool, task_id: uuid.UUID) -> int:
    return await count(pool, "SELECT count(*) FROM transcript_messages WHERE owner = %s", task_id)


async def messages(pool: Pool, task_id: uuid.UUID) -> list[str]:
    graph = chat_graph.build().compile(checkpointer=TranscriptSaver(pool))
    state = await graph.aget_state(thread(task_id))
    return [m.content for m in state.values["messages"]]


async def test_a_pruned_task_s_own_nodes_go_and_shared_ones_stay(pool: Pool, db_url: str) -> None:
    worker_id = await new_worker(pool)
    await submit(pool)
    old = await claim_one(pool, worker_id)
    await chat(pool, FencedSaver(pool, old.task_id, old.epoch), old.task_id, range(3))
    await complete(pool, worker_id, old.task_id, old.epoch, {})
    # Another task sends the same first question (the same text node, now shared).
    await submit(pool)
    other = await claim_one(pool, worker_id)
    await chat(pool, FencedSaver(pool, other.task_id, other.epoch), other.task_id, range(1))
    # A task nobody shares anything with owns what it stored, and takes it when pruned.
    await submit(pool)
    alone = await claim_one(pool, worker_id)
    saver = FencedSaver(pool, alone.task_id, alone.epoch)
    await (
        chat_graph.build()
        .compile(checkpointer=saver)
        .ainvoke(chat_graph.turn(77), thread(alone.task_id), durability="sync")
    )
    await complete(pool, worker_id, alone.task_id, alone.epoch, {})
    # Its question (a list node and a text) and its answer's list node: the answer's text is
    # the old task's first answer too, so shared.
    mine = await owned(pool, alone.task_id)
    assert mine == 3
    before = await count(pool, "SELECT count(*) FROM transcript_messages")

    # And a fork of the old task reads its first turn.
    (first, *_) = [
        c["checkpoint_id"]
        for c in reversed(await checkpoints.list_(pool, old.task_id, tenant="default", limit=99))
        if c["step"] == 1
    ]
    fork = await tasks.fork(pool, old.task_id, first, None, tenant="default")
    fork_messages = await messages(pool, fork["id"])
    other_messages = await messages(pool, other.task_id)
    assert await owned(pool, old.task_id) == 0  # a fork may read them all: shared

    conn = await connect(db_url)
    async with conn:
        await conn.execute(
            "SELECT set_config('outlast.now', (clock_timestamp() + interval '31 days')::text, false)"
        )
        result = await Reaper(conn, ReaperConfig(retention_s=30 * DAY_S)).run_once()
    assert result.tasks_pruned == 2  # the old task and the lone one
    assert await owned(pool, alone.task_id) == 0
    assert await count(pool, "SELECT count(*) FROM transcript_messages") == before - mine
    # What the others read is all there.
    assert await messages(pool, fork["id"]) == fork_messages
    assert await messages(pool, other.task_id) == other_messages
