"""LangGraph's Postgres checkpointer, fenced by the task's lease.

Every checkpoint write (`aput`) and pending-writes batch (`aput_writes`) runs in one transaction
that opens with the lease fence (db.lease.fence): the task row is locked FOR SHARE if and only if
this worker still holds it under the claimed epoch. If not, LeaseLost is raised and the
transaction rolls back, so a zombie worker can run but never commits. Reads are not fenced.

The stock saver runs its statements in autocommit pipeline mode; here they run inside the
fenced transaction, so a checkpoint and its blobs also land together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from db import lease
from db.connect import Pool


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
        async with self.pool.connection() as conn, conn.transaction():
            await lease.fence(conn, self.task_id, self.epoch, consume_resume=self._consume_resume)
            yield AsyncPostgresSaver(conn, serde=self.serde)
        self._consume_resume = False

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
