"""The checkpoint layout of ADR 0025: channel versions short and still unique across a thread's
branches; text markers short (the longer ones written before still read); a checkpoint's id and
its writer's epoch stored once, in their columns; a checkpoint's constant entries (`v`, an empty
`channel_values`) left out; every read still whole."""

from __future__ import annotations

import uuid
from typing import Any, cast

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import empty_checkpoint

from db import llm_call, transcripts
from db.connect import Pool
from db.saver import TranscriptSaver
from tests.integration.test_transcripts import chat, claimed, thread
from tests.support import chat_graph
from tests.support.queue import count
from worker.checkpointer import FencedSaver

MARK_BYTES = transcripts.MARK.encode()


async def test_versions_are_short_ordered_and_continue_older_formats(pool: Pool) -> None:
    saver = TranscriptSaver(pool)
    one = saver.get_next_version(None, None)
    assert one.startswith("a1") and len(one) == 2 + 5
    ten = saver.get_next_version(saver.get_next_version("a9zzzzz", None), None)
    assert ten.startswith("b11")
    # Any new version is above the formats a thread may already hold, and continues their count.
    after_padded = saver.get_next_version("0000000012", None)
    after_stock = saver.get_next_version("00000000000000000000000000000012.0.25", None)
    assert after_padded.startswith("b13") and after_stock.startswith("b13")
    assert after_padded > "0000000012" and after_stock > "00000000000000000000000000000012.0.25"
    # Totally ordered as strings (LangGraph compares them so, across channels too).
    chain = [saver.get_next_version(None, None)]
    for _ in range(1200):
        chain.append(saver.get_next_version(chain[-1], None))
    assert chain == sorted(chain) and len(set(chain)) == len(chain)
    assert max(len(v) for v in chain) == 1 + 4 + 5
    # Two branches from one version do not share the next (a blob's primary key).
    assert len({saver.get_next_version("a7abcde", None) for _ in range(50)}) == 50


async def test_a_branch_from_an_older_checkpoint_reads_its_own_values(pool: Pool) -> None:
    """update_state from an older checkpoint makes a sibling branch on the same thread: its blob
    for `messages` must not take the version (and so the primary key, and the value) of the
    branch it forks from."""
    task_id, epoch = await claimed(pool)
    saver = FencedSaver(pool, task_id, epoch)
    graph = chat_graph.build().compile(checkpointer=saver)
    await chat(pool, saver, task_id, range(1))
    fork_point = (await graph.aget_state(thread(task_id))).config
    await chat(pool, saver, task_id, range(1, 2))
    # Two updates on the fork: the second takes the count the original branch's `messages`
    # took after its `__start__` step.
    forked = await graph.aupdate_state(
        fork_point, {"messages": [HumanMessage(content="a question", id="one")]}
    )
    forked = await graph.aupdate_state(
        forked, {"messages": [HumanMessage(content="another question", id="other")]}
    )
    state = await graph.aget_state(forked)
    assert [m.content for m in state.values["messages"]][-2:] == ["a question", "another question"]
    assert len(state.values["messages"]) == 4
    head = await graph.aget_state(thread(task_id))
    assert head.values["messages"][-1].content == "another question"


async def test_markers_are_short_and_old_ones_still_read(pool: Pool) -> None:
    long = "x" * 300
    node = transcripts.text_node(long)
    marker = transcripts.mark(node)
    assert len(marker) == 1 + 43
    assert transcripts.marked(marker) == node.digest
    old = "\ue000outlast-text:" + node.digest.hex()
    assert transcripts.marked(old) == node.digest
    assert transcripts.interned(old) and transcripts.interned("\ue000short")
    task_id, epoch = await claimed(pool)
    await chat(pool, FencedSaver(pool, task_id, epoch), task_id, range(2))
    legacy = b"outlast-text:"
    assert (
        await count(
            pool,
            "SELECT count(*) FROM transcript_messages WHERE position(%s in content) > 0",
            legacy,
        )
        == 0
    )
    assert (
        await count(
            pool, "SELECT count(*) FROM checkpoint_writes WHERE position(%s in blob) > 0", legacy
        )
        == 0
    )
    assert (
        await count(
            pool,
            "SELECT count(*) FROM checkpoint_writes WHERE position(%s in blob) > 0",
            MARK_BYTES,
        )
        > 0
    )
    reader = TranscriptSaver(pool)
    state = await chat_graph.build().compile(checkpointer=reader).aget_state(thread(task_id))
    assert all(not str(m.content).startswith(transcripts.MARK) for m in state.values["messages"])
    # A text a row holds under the longer marker, written before, reads back whole.
    async with pool.connection() as conn, conn.transaction():
        await transcripts.insert(conn, task_id, [node], transcripts.TEXT)
    item = {"role": "user", "content": old}
    assert await llm_call.resolve_texts(pool, task_id, [item]) == [{**item, "content": long}]


async def test_a_checkpoint_s_id_and_epoch_are_in_their_columns_only(pool: Pool) -> None:
    task_id, epoch = await claimed(pool)
    saver = FencedSaver(pool, task_id, epoch)
    await chat(pool, saver, task_id, range(2))
    assert (
        await count(
            pool,
            "SELECT count(*) FROM checkpoints WHERE thread_id = %s"
            " AND (checkpoint ? 'id' OR metadata ? 'outlast_epoch')",
            str(task_id),
        )
        == 0
    )
    assert await count(
        pool,
        "SELECT count(*) FROM checkpoint_order WHERE thread_id = %s AND lease_epoch = %s",
        str(task_id),
        epoch,
    ) == await count(pool, "SELECT count(*) FROM checkpoints WHERE thread_id = %s", str(task_id))
    reader = TranscriptSaver(pool)
    listed = [t async for t in reader.alist(thread(task_id))]
    assert listed and all(
        t.checkpoint["id"] == t.config["configurable"]["checkpoint_id"] for t in listed
    )
    head = await FencedSaver(pool, task_id, epoch).aget_tuple(thread(task_id))
    assert (
        head is not None and head.checkpoint["id"] == head.config["configurable"]["checkpoint_id"]
    )
    assert len(head.checkpoint["channel_values"]["messages"]) == 4


async def test_a_checkpoint_s_constant_entries_are_left_out_and_read_back(pool: Pool) -> None:
    """`v` (4) and an empty `channel_values` are not stored (ADR 0025, amended); every read has
    them, a row that holds them (written before) reads as it is, and what is read is what was
    written."""
    task_id, epoch = await claimed(pool)
    saver = FencedSaver(pool, task_id, epoch)
    config = {"configurable": {"thread_id": str(task_id), "checkpoint_ns": ""}}
    plain = {**empty_checkpoint(), "v": 4, "id": str(uuid.uuid4())}
    inline = {**plain, "id": str(uuid.uuid4()), "channel_values": {"flag": "on"}}
    inline["channel_versions"] = {"flag": saver.get_next_version(None, None)}
    written = await saver.aput(config, cast(Any, plain), {"step": 0}, {})
    written = await saver.aput(written, cast(Any, inline), {"step": 1}, inline["channel_versions"])
    stored = await count(
        pool,
        "SELECT count(*) FROM checkpoints WHERE thread_id = %s AND NOT checkpoint ? 'v'"
        " AND (checkpoint ? 'channel_values') = (checkpoint_id = %s)",
        str(task_id),
        inline["id"],
    )
    assert stored == 2
    # A row written before the change, whole: it reads as it is.
    async with pool.connection() as conn:
        await conn.execute(
            'UPDATE checkpoints SET checkpoint = checkpoint || \'{"v": 3, "channel_values": {}}\''
            " WHERE thread_id = %s AND checkpoint_id = %s",
            (str(task_id), plain["id"]),
        )
    listed = {t.checkpoint["id"]: t.checkpoint async for t in TranscriptSaver(pool).alist(config)}
    assert listed[inline["id"]]["v"] == 4 and listed[inline["id"]]["channel_values"] == {
        "flag": "on"
    }
    assert listed[plain["id"]]["v"] == 3 and listed[plain["id"]]["channel_values"] == {}
    head = await saver.aget_tuple(config)
    assert head is not None and head.checkpoint == inline
