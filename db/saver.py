"""LangGraph's Postgres checkpointer, storing message lists once (ADR 0012).

The stock saver writes a channel's whole value as a blob at every version: a chat graph's
`messages` channel is rewritten at every step, and a run's checkpoints grow with the square of
its length. Here a channel value that is a list of messages (LangChain messages, pydantic models
or dicts, each encoded by the serializer as msgpack) is stored as a chain of nodes in
transcript_messages (db/transcripts.py) and its blob is the chain's head digest, 32 bytes, with
the type `outlast-transcript`; only the nodes not stored yet are written. Any other value is
stored as the stock saver stores it.

Reading resolves the heads (one query per checkpoint, on the connection the checkpoint was read
on) in the tenant of the task whose thread it is, so `aget_tuple`, `alist` and `aget_state` see
the full lists. The read side is `TranscriptSaver`, used by the API; the worker's fenced saver
(worker/checkpointer.py) extends it and writes through `TranscriptWriter`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any, cast

from langchain_core.messages import BaseMessage
from langgraph.checkpoint.base import ChannelVersions, CheckpointTuple
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection, AsyncCursor, AsyncPipeline
from psycopg.rows import DictRow
from pydantic import BaseModel

from db import transcripts
from db.transcripts import Node

TRANSCRIPT_TYPE = "outlast-transcript"
ENCODING = "msgpack"
_TYPE_BYTES = TRANSCRIPT_TYPE.encode()


def is_message_list(value: object) -> bool:
    """A non-empty list whose elements are all messages: LangChain's, pydantic models or dicts
    (the shapes a chat graph's `messages` channel holds)."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, BaseMessage | BaseModel | dict) for v in value)
    )


class TranscriptSaver(AsyncPostgresSaver):
    """Reads checkpoints whose message lists are stored as transcript chains."""

    _reading: AsyncConnection[DictRow] | None = None

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        # The stock saver loads a checkpoint inside its cursor block, holding the saver's lock
        # and a connection: the transcript is read on that connection, not a second one from
        # the pool (which, with every connection held by such a block, would never come).
        async with super()._cursor(pipeline=pipeline) as cur:
            self._reading = cast(AsyncConnection[DictRow], cur.connection)
            try:
                yield cur
            finally:
                self._reading = None

    async def _load_checkpoint_tuple(self, value: DictRow) -> CheckpointTuple:
        entries = value["channel_values"] or []
        heads = {
            bytes(channel).decode(): bytes(blob)
            for channel, type_, blob in entries
            if bytes(type_) == _TYPE_BYTES
        }
        if not heads:
            return await super()._load_checkpoint_tuple(value)
        stock = [e for e in entries if bytes(e[1]) != _TYPE_BYTES]
        loaded = await super()._load_checkpoint_tuple({**value, "channel_values": stock})
        db = self._reading or self.conn
        lists = await transcripts.read(db, uuid.UUID(value["thread_id"]), heads.values())
        self._stored_now(lists)
        decoded = await asyncio.to_thread(self._decode, heads, lists)
        loaded.checkpoint["channel_values"].update(decoded)
        return loaded

    def _decode(self, heads: dict[str, bytes], lists: dict[bytes, list[bytes]]) -> dict[str, Any]:
        return {
            channel: [self.serde.loads_typed((ENCODING, element)) for element in lists[head]]
            for channel, head in heads.items()
        }

    def _stored_now(self, lists: dict[bytes, list[bytes]]) -> None:
        """Called with every list read: a writer learns which nodes are stored already."""


class TranscriptWriter(AsyncPostgresSaver):
    """The stock saver for one write, whose message lists become chain heads. The nodes it did
    not find in `stored` are left in `new_nodes`, for the caller to insert in the same
    transaction as the checkpoint (db.transcripts.insert)."""

    def __init__(
        self,
        conn: AsyncConnection[DictRow],
        *,
        pipe: AsyncPipeline | None,
        serde: Any,
        stored: Collection[bytes],
    ) -> None:
        super().__init__(conn, pipe=pipe, serde=serde)
        self.stored = stored
        self.new_nodes: dict[bytes, Node] = {}

    def _dump_blobs(
        self,
        thread_id: str,
        checkpoint_ns: str,
        values: dict[str, Any],
        versions: ChannelVersions,
    ) -> list[tuple[str, str, str, str, str, bytes | None]]:
        rows = []
        for channel, version in versions.items():
            head = self._transcribe(values[channel]) if channel in values else None
            if head is None:
                rows += super()._dump_blobs(thread_id, checkpoint_ns, values, {channel: version})
            else:
                row = (thread_id, checkpoint_ns, channel, str(version), TRANSCRIPT_TYPE, head)
                rows.append(row)
        return rows

    def _transcribe(self, value: Any) -> bytes | None:
        """The head digest of `value` stored as a chain, or None to store it as a blob."""
        if not is_message_list(value):
            return None
        encoded = [self.serde.dumps_typed(element) for element in value]
        if any(type_ != ENCODING for type_, _ in encoded):
            return None
        nodes = transcripts.chain([blob for _, blob in encoded], ENCODING)
        for node in nodes:
            if node.digest not in self.stored:
                self.new_nodes.setdefault(node.digest, node)
        return nodes[-1].digest
