"""What nodes write to LangGraph's stream writer (stream_chunks, ADR 0027): written only under
the claimed epoch with a live lease, placed after the checkpoint the worker saw last, and the
chunks of a step an earlier attempt did not finish dropped when a later attempt resumes the run."""

from __future__ import annotations

from typing import Any

import pytest

from db import stream_chunk
from db.errors import LeaseLost
from tests.integration.test_fencing import expire_and_reclaim


async def _checkpoint(tx: Any, task_id: Any, ns: str, checkpoint_id: str, epoch: int) -> int:
    row = await (
        await tx.execute(
            "INSERT INTO checkpoint_order (tenant, thread_id, checkpoint_ns, checkpoint_id,"
            " lease_epoch) SELECT tenant, id::text, %s, %s, %s FROM tasks WHERE id = %s"
            " RETURNING seq",
            (ns, checkpoint_id, epoch, task_id),
        )
    ).fetchone()
    return int(row["seq"])


async def _chunks(tx: Any, task_id: Any) -> list[tuple[Any, ...]]:
    rows = await (
        await tx.execute(
            "SELECT lease_epoch, after_seq, namespace, data FROM stream_chunks"
            " WHERE task_id = %s ORDER BY id",
            (task_id,),
        )
    ).fetchall()
    return [(r["lease_epoch"], r["after_seq"], r["namespace"], r["data"]) for r in rows]


async def test_a_stale_epoch_writes_no_chunk_and_purges_nothing(tx: Any) -> None:
    _, old, _, new = await expire_and_reclaim(tx)
    with pytest.raises(LeaseLost):
        await stream_chunk.insert(
            tx, old.task_id, old.epoch, namespace="", data_json="1", after=None
        )
    with pytest.raises(LeaseLost):
        await stream_chunk.purge(tx, old.task_id, old.epoch)
    await stream_chunk.insert(tx, new.task_id, new.epoch, namespace="", data_json="2", after=None)
    assert [c[3] for c in await _chunks(tx, new.task_id)] == [2]


async def test_a_chunk_follows_the_checkpoint_seen_last_and_a_resume_drops_unfinished_steps(
    tx: Any,
) -> None:
    _, old, _, new = await expire_and_reclaim(tx)
    task_id = new.task_id
    # The first attempt's rows, as a zombie's history: step 1 finished, step 2 did not.
    first = await _checkpoint(tx, task_id, "", "c1", old.epoch)
    inner = await _checkpoint(tx, task_id, "inner:t", "s1", old.epoch)
    await tx.execute(
        "INSERT INTO stream_chunks (tenant, task_id, lease_epoch, after_seq, namespace, data)"
        " SELECT tenant, id, %s, %s, %s, %s::jsonb FROM tasks WHERE id = %s",
        (old.epoch, 0, "", '"step 1"', task_id),
    )
    second = await _checkpoint(tx, task_id, "", "c2", old.epoch)
    for after, ns, data in [(second, "", '"step 2, cut"'), (first, "inner:t", '"inner step"')]:
        await tx.execute(
            "INSERT INTO stream_chunks (tenant, task_id, lease_epoch, after_seq, namespace, data)"
            " SELECT tenant, id, %s, %s, %s, %s::jsonb FROM tasks WHERE id = %s",
            (old.epoch, after, ns, data, task_id),
        )
    assert inner > first
    assert (
        await stream_chunk.purge(tx, task_id, new.epoch) == 1
    )  # step 2's; the inner step's has a checkpoint after it
    assert [c[3] for c in await _chunks(tx, task_id)] == ["step 1", "inner step"]

    await stream_chunk.insert(
        tx, task_id, new.epoch, namespace="", data_json='"again"', after=("", "c1")
    )
    await stream_chunk.insert(tx, task_id, new.epoch, namespace="", data_json='"x"', after=None)
    placed = [(c[1], c[3]) for c in await _chunks(tx, task_id)][-2:]
    assert placed == [(first, "again"), (second, "x")]  # not found: after the newest
