"""Bytes per step (ADR 0023, ADR 0025): versions are short; a superseded checkpoint's pending writes are
kept (a first cut dropped them, and the LangGraph API's `updates` stream lost its frames)."""

from __future__ import annotations

import uuid
from typing import Any

from langgraph.checkpoint.base import empty_checkpoint

from db.connect import Pool
from tests.integration.test_transcripts import chat, claimed
from tests.support.queue import count
from worker.checkpointer import FencedSaver


async def test_every_node_s_writes_are_kept(pool: Pool) -> None:
    """A superseded checkpoint's pending writes stay: the LangGraph API's `updates` stream and a
    thread's history read each node's output from them (ADR 0018, ADR 0023)."""
    task_id, epoch = await claimed(pool)
    saver = FencedSaver(pool, task_id, epoch)
    config: Any = {"configurable": {"thread_id": str(task_id), "checkpoint_ns": ""}}
    first = empty_checkpoint()
    written = await saver.aput(config, first, {"step": 0}, {})
    await saver.aput_writes(written, [("messages", ["x"]), ("__interrupt__", ["ask"])], "t1")
    second = {**empty_checkpoint(), "id": str(uuid.uuid4())}
    await saver.aput(written, second, {"step": 1}, {})
    kept = await count(
        pool,
        "SELECT count(*) FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_id = %s",
        str(task_id),
        first["id"],
    )
    assert kept == 2


async def test_versions_are_short(pool: Pool) -> None:
    """Versions and their uniqueness across branches: test_checkpoint_layout.py (ADR 0025)."""
    task_id, epoch = await claimed(pool)
    saver = FencedSaver(pool, task_id, epoch)
    await chat(pool, saver, task_id, range(2))
    longest = await count(
        pool,
        "SELECT max(length(version)) FROM checkpoint_blobs WHERE thread_id = %s",
        str(task_id),
    )
    assert longest == 1 + 1 + 5  # fewer than 10 steps: one digit
