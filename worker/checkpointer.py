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

Order (ADR 0007): LangGraph's checkpoint ids come from the writing process's wall clock, and the
stock saver reads a thread's newest checkpoint as its highest id. Each `aput` therefore also
numbers its checkpoint in `checkpoint_order`, in the same fenced transaction, and `aget_tuple`
without a checkpoint id reads the last one written; no worker's clock decides the head.

Transcripts (ADR 0012): message lists are stored once, as chains of nodes (db/saver.py); the
nodes a checkpoint adds are queued in its fenced transaction too, so a zombie stores none. The
saver remembers which nodes it has seen committed (written by it, or read back on resume) and
sends only the others.

Superseded writes (ADR 0023): a checkpoint's pending writes are kept after the next checkpoint
supersedes them (the LangGraph API's streams and history read them).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any, cast

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
)
from opentelemetry.trace import SpanKind
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from db import checkpoints, lease, transcripts
from db.connect import Pool
from db.errors import LeaseLost
from db.saver import TranscriptSaver, TranscriptWriter
from outlast import traces


class _SyncAtTheEnd:
    """Handed to the stock saver as its pipeline. The saver calls `sync()` once it has queued a
    write; here that does nothing, so the write stays uncommitted until the fence is queued
    behind it and the fenced block's own Sync ends both together."""

    async def sync(self) -> None:
        return None


class FencedSaver(TranscriptSaver):
    """A checkpointer bound to one claim: (task id, lease epoch)."""

    def __init__(
        self, pool: Pool, task_id: uuid.UUID, epoch: int, *, consume_resume: bool = False
    ) -> None:
        super().__init__(pool)
        self.pool = pool
        self.task_id = task_id
        self.epoch = epoch
        self._consume_resume = consume_resume
        self._stored: set[bytes] = set()  # transcript nodes known to be committed

    @asynccontextmanager
    async def _fenced(self) -> AsyncIterator[tuple[AsyncConnection[DictRow], TranscriptWriter]]:
        if self._consume_resume:
            async with self.pool.connection() as conn, conn.transaction():
                await lease.fence(conn, self.task_id, self.epoch, consume_resume=True)
                yield conn, self._writer(conn, None)
            self._consume_resume = False
            return
        try:
            async with self.pool.connection() as conn, conn.pipeline():
                try:
                    yield conn, self._writer(conn, cast(Any, _SyncAtTheEnd()))
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
        if not traces.enabled():
            return await self._aput(config, checkpoint, metadata, new_versions)
        with self._span("checkpoint put", {"outlast.checkpoint.id": checkpoint["id"]}):
            return await self._aput(config, checkpoint, metadata, new_versions)

    async def _aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        # Which claim wrote the checkpoint is its checkpoint_order row's lease_epoch (the
        # metadata held it too until ADR 0025): history shows who wrote what after a crash.
        thread_id = str(config["configurable"]["thread_id"])
        checkpoint_ns = str(config["configurable"].get("checkpoint_ns", ""))
        async with self._fenced() as (conn, writer):
            written = await writer.aput(config, checkpoint, metadata, new_versions)
            nodes = await self._insert_new(conn, writer)
            await checkpoints.order_insert(
                conn, thread_id, checkpoint_ns, checkpoint["id"], self.epoch
            )
        self._stored.update(node.digest for node in nodes)  # committed: the block ended
        return written

    async def aput_keeping_resume(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """`aput`, fenced, without consuming the task's resume point: the write that follows
        (a state patch) does, so a crash between the two applies the patch on the next attempt."""
        consume, self._consume_resume = self._consume_resume, False
        try:
            return await self.aput(config, checkpoint, metadata, new_versions)
        finally:
            self._consume_resume = consume

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if not traces.enabled():
            await self._aput_writes(config, writes, task_id, task_path)
            return
        with self._span("checkpoint put_writes", {"outlast.checkpoint.writes": len(writes)}):
            await self._aput_writes(config, writes, task_id, task_path)

    async def _aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> None:
        async with self._fenced() as (conn, writer):
            await writer.aput_writes(config, writes, task_id, task_path)
            nodes = await self._insert_new(conn, writer)
        self._stored.update(node.digest for node in nodes)

    def _span(self, name: str, attributes: dict[str, Any]) -> AbstractContextManager[Any]:
        """A fenced write's span (traced only), under the attempt's."""
        return traces.span(
            name,
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": "postgresql",
                "outlast.task.id": str(self.task_id),
                "outlast.lease.epoch": self.epoch,
                **attributes,
            },
        )

    async def _insert_new(
        self, conn: AsyncConnection[DictRow], writer: TranscriptWriter
    ) -> list[transcripts.Node]:
        """Queue the transcript nodes `writer` found new, before the fence: they commit with
        the checkpoint or writes that refer to them, or not at all."""
        texts = writer.new_texts
        await transcripts.insert(conn, self.task_id, texts, transcripts.TEXT)
        lists: list[transcripts.Node] = []
        for encoding, nodes in writer.new_nodes.items():
            await transcripts.insert(conn, self.task_id, list(nodes.values()), encoding)
            lists += nodes.values()
        return lists + texts

    def _writer(self, conn: AsyncConnection[DictRow], pipe: Any) -> TranscriptWriter:
        return TranscriptWriter(conn, pipe=pipe, serde=self.serde, stored=self._stored)

    def _stored_now(self, digests: Iterable[bytes]) -> None:
        self._stored.update(digests)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint `config` names or, when it names none, the thread's last one written
        (the stock saver would take the highest id, which a skewed clock can make an old one)."""
        if not get_checkpoint_id(config):
            configurable = config["configurable"]
            thread_id = str(configurable["thread_id"])
            head = await checkpoints.head(
                self.pool, thread_id, str(configurable.get("checkpoint_ns", ""))
            )
            if head is None:
                return None
            config = {**config, "configurable": {**configurable, "checkpoint_id": head}}
        return await super().aget_tuple(config)
