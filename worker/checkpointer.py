"""LangGraph's Postgres checkpointer, fenced by the task's lease.

Every checkpoint write (`aput`) and pending-writes batch (`aput_writes`) commits only together
with the lease fence: the task row locked FOR SHARE if and only if this worker still holds it
under the claimed epoch. If not, LeaseLost is raised and nothing of the write commits, so a zombie
worker can run but never commits. Reads are not fenced.

How (ADR 0005): the stock saver queues its statements on one connection in pipeline mode; its
`sync()` is deferred, the fence (`lease_fence_last`, which raises when the lease is lost) is
queued behind them, and the one Sync that ends the pipeline commits the whole implicit transaction
or, on a lost lease, none of it: one round trip, as the unfenced saver takes. A write that fails
or is cancelled before its fence is queued is never synced: its connection is closed, so the
server rolls it back. The first write after a redrive, fork or follow-up also consumes the task's
resume point, in an explicit transaction that opens with `lease_fence_resume` (ADR 0001's shape).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from db import lease
from db.connect import Pool
from db.errors import LeaseLost


class _SyncAtTheEnd:
    """Handed to the stock saver as its pipeline. The saver calls `sync()` once it has queued a
    write; here that does nothing, so the write stays uncommitted until the fence is queued
    behind it and the fenced block's own Sync ends both together."""

    async def sync(self) -> None:
        return None


class FencedSaver(AsyncPostgresSaver):
    """A checkpointer bound to one claim: (task id, lease epoch)."""

    def __init__(
        self, pool: Pool, task_id: uuid.UUID, epoch: int, *, consume_resume: bool = False
    ) -> None:
        super().__init__(pool)
        self.pool = pool
        self.task_id = task_id
        self.epoch = epoch
        self._consume_resume = consume_resume

    @asynccontextmanager
    async def _fenced(self) -> AsyncIterator[AsyncPostgresSaver]:
        if self._consume_resume:
            async with self.pool.connection() as conn, conn.transaction():
                await lease.fence(conn, self.task_id, self.epoch, consume_resume=True)
                yield AsyncPostgresSaver(conn, serde=self.serde)
            self._consume_resume = False
            return
        try:
            async with self.pool.connection() as conn, conn.pipeline():
                try:
                    pipe = cast(Any, _SyncAtTheEnd())
                    yield AsyncPostgresSaver(conn, pipe=pipe, serde=self.serde)
                    await lease.fence_last(conn, self.task_id, self.epoch)
                except BaseException:
                    await conn.close()  # never Sync a write whose fence is not queued behind it
                    raise
        except psycopg.Error as exc:
            if lease.is_lease_lost(exc):
                raise LeaseLost(self.task_id, self.epoch) from None
            raise

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        # Record which claim wrote the checkpoint: history shows who wrote what after a crash.
        stamped: Any = {**metadata, "outlast_epoch": self.epoch}
        async with self._fenced() as saver:
            return await saver.aput(config, checkpoint, stamped, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        async with self._fenced() as saver:
            await saver.aput_writes(config, writes, task_id, task_path)
