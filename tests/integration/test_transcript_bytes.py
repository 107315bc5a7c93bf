"""Bytes per step (ADR 0023): a superseded checkpoint's pending writes are dropped when the
checkpoint that applies them is written, LangGraph's own channels kept, and every checkpoint reads
back as it did with them; versions are short."""

from __future__ import annotations

import uuid
from typing import Any

from langgraph.checkpoint.base import empty_checkpoint

from db.connect import Pool
from db.saver import TranscriptSaver
from tests.integration.test_transcripts import TURNS, chat, claimed, thread
from tests.support import chat_graph
from tests.support.queue import count
from worker.checkpointer import FencedSaver


class KeepingSaver(FencedSaver):
    """The fenced saver as it was: every pending write kept."""

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        configurable = {k: v for k, v in config["configurable"].items() if k != "checkpoint_id"}
        return await super().aput(
            {**config, "configurable": configurable}, checkpoint, metadata, new_versions
        )


async def left_writes(pool: Pool, task_id: uuid.UUID) -> int:
    return await count(
        pool, "SELECT count(*) FROM checkpoint_writes WHERE thread_id = %s", str(task_id)
    )


async def states(pool: Pool, task_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """What GET .../checkpoints/{cp} shows of each checkpoint, oldest first."""
    graph = chat_graph.build().compile(checkpointer=TranscriptSaver(pool))
    shown = []
    async for snapshot in graph.aget_state_history(thread(task_id)):
        config = snapshot.config
        one = await graph.aget_state(config)
        messages = [m.content for m in one.values.get("messages", [])]
        shown.append((messages, one.next, one.interrupts, one.metadata.get("step")))
    return shown[::-1]


async def test_superseded_writes_go_and_every_checkpoint_reads_the_same(pool: Pool) -> None:
    kept_id, kept_epoch = await claimed(pool)
    await chat(pool, KeepingSaver(pool, kept_id, kept_epoch), kept_id, range(TURNS))
    kept_writes = await count(
        pool, "SELECT count(*) FROM checkpoint_writes WHERE thread_id = %s", str(kept_id)
    )
    task_id, epoch = await claimed(pool)
    await chat(pool, FencedSaver(pool, task_id, epoch), task_id, range(TURNS))
    assert kept_writes >= 3 * TURNS
    # At most the last step's: one may commit just after the final checkpoint.
    assert await left_writes(pool, task_id) <= 3
    assert await states(pool, task_id) == await states(pool, kept_id)


async def test_langgraph_s_own_writes_are_kept(pool: Pool) -> None:
    task_id, epoch = await claimed(pool)
    saver = FencedSaver(pool, task_id, epoch)
    config: Any = {"configurable": {"thread_id": str(task_id), "checkpoint_ns": ""}}
    first = empty_checkpoint()
    written = await saver.aput(config, first, {"step": 0}, {})
    await saver.aput_writes(
        written, [("messages", ["x"]), ("__interrupt__", ["ask"]), ("__error__", "boom")], "t1"
    )
    second = {**empty_checkpoint(), "id": str(uuid.uuid4())}
    await saver.aput(written, second, {"step": 1}, {})
    left = await count(
        pool,
        "SELECT count(*) FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_id = %s"
        " AND channel LIKE '\\_\\_%%'",
        str(task_id),
        first["id"],
    )
    assert left == 2
    assert (
        await count(pool, "SELECT count(*) FROM checkpoint_writes WHERE channel = 'messages'") == 0
    )


async def test_versions_are_short_and_a_stock_thread_keeps_its_format(pool: Pool) -> None:
    task_id, epoch = await claimed(pool)
    saver = FencedSaver(pool, task_id, epoch)
    assert saver.get_next_version(None, None) == "0000000001"
    assert saver.get_next_version("0000000009", None) == "0000000010"
    stock = saver.get_next_version("00000000000000000000000000000005.0.25", None)
    assert stock.startswith("00000000000000000000000000000006.") and len(stock) > 32
    await chat(pool, saver, task_id, range(2))
    longest = await count(
        pool,
        "SELECT max(length(version)) FROM checkpoint_blobs WHERE thread_id = %s",
        str(task_id),
    )
    assert longest == 10
