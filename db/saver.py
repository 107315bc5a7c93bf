"""LangGraph's Postgres checkpointer, storing message lists and texts once (ADR 0012).

The stock saver writes a channel's whole value as a blob at every version: a chat graph's
`messages` channel is rewritten at every step, and a run's checkpoints grow with the square of
its length. Here:

- a channel value that is a list of messages (LangChain messages, pydantic models or dicts,
  each encoded by the serializer as msgpack) is stored as a chain of nodes in
  transcript_messages (db/transcripts.py) and its blob is the chain's head digest, 32 bytes,
  with the type `outlast-transcript`; only the nodes not stored yet are written;
- a LangChain message's text of `INTERN_MIN` characters or more (db/transcripts.py), wherever
  it is (a list, the graph's input, a node's pending write), is stored once as a text node and
  replaced by a marker in what is serialized, so the same answer in a pending write, a list
  and the journal is one node. A text that looks like a marker is stored as a node too, so
  it reads back as itself.

Any other value is stored as the stock saver stores it. Reading resolves the heads and the
markers (on the connection the checkpoint was read on) in the tenant of the task whose thread it
is, so `aget_tuple`, `alist` and `aget_state` see whole values. The read side is
`TranscriptSaver`, used by the API; the worker's fenced saver (worker/checkpointer.py) extends
it and writes through `TranscriptWriter`.
"""

from __future__ import annotations

import asyncio
import secrets
import string
import uuid
from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager
from typing import Any, cast

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection, AsyncCursor, AsyncPipeline
from psycopg.rows import DictRow
from pydantic import BaseModel

from db import transcripts
from db.lean import LEAN_TYPE, LeanSerde
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


def _walk(value: Any, on_message: Any) -> Any:
    """`value` with each LangChain message inside it (in lists, tuples and dicts) replaced by
    `on_message(message)`; the same object when nothing changed."""
    if isinstance(value, BaseMessage):
        return on_message(value)
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        items = [_walk(v, on_message) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        pairs = {k: _walk(v, on_message) for k, v in value.items()}
        if all(pairs[k] is v for k, v in value.items()):
            return value
        return pairs
    return value


def _marker_digests(values: Iterable[Any]) -> set[bytes]:
    found: set[bytes] = set()

    def note(message: BaseMessage) -> BaseMessage:
        if (digest := transcripts.marked(message.content)) is not None:
            found.add(digest)
        return message

    for value in values:
        _walk(value, note)
    return found


def _task(row: DictRow) -> uuid.UUID:
    """The task whose thread a checkpoint row is on (its tenant owns the thread's nodes)."""
    return uuid.UUID(row["thread_id"])


class _Interning:
    """The saver's serializer, with long message texts replaced by markers on the way out; the
    text nodes not in `stored` are left in `new`."""

    def __init__(self, inner: Any, stored: Collection[bytes]) -> None:
        self.inner = inner
        self.stored = stored
        self.new: dict[bytes, Node] = {}

    def _intern(self, message: BaseMessage) -> BaseMessage:
        content = message.content
        if not isinstance(content, str) or not transcripts.interned(content):
            return message
        node = transcripts.text_node(content)
        if node.digest not in self.stored:
            self.new.setdefault(node.digest, node)
        return message.model_copy(update={"content": transcripts.mark(node)})

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        dumped: tuple[str, bytes] = self.inner.dumps_typed(_walk(obj, self._intern))
        return dumped

    def dumps_stock(self, obj: Any) -> tuple[str, bytes]:
        """`dumps_typed`, messages stored as the stock serializer stores them (not lean)."""
        inner = self.inner.inner if isinstance(self.inner, LeanSerde) else self.inner
        dumped: tuple[str, bytes] = inner.dumps_typed(_walk(obj, self._intern))
        return dumped

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return self.inner.loads_typed(data)


# A channel version (ADR 0025): a letter giving the count's number of digits ('a' for 1),
# the count, then SUFFIX random characters. Strings of this form sort as their counts, and above
# the zero-padded digits of ADR 0023 and the stock saver's "%032d.%016f" (a letter sorts after
# a digit), so a thread continues from either. The random part is what the stock saver's random
# fraction is for: two branches of one thread (an update_state or a redrive from an older
# checkpoint) take the same count for a channel, and a blob's primary key is (thread, namespace,
# channel, version), so without it the second branch's value would be dropped as a conflict and
# the first's read in its place.
SUFFIX = 5
_ALPHABET = string.digits + string.ascii_letters


def version_count(version: str | int | None) -> int:
    """The count a channel version carries, in any of the formats a thread may hold."""
    if version is None or version == "":
        return 0
    if isinstance(version, int):
        return version
    if version[0].isalpha():
        return int(version[1 : 2 + ord(version[0]) - ord("a")])
    return int(version.split(".")[0])


def next_version(current: str | int | None) -> str:
    digits = str(version_count(current) + 1)
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(SUFFIX))
    return chr(ord("a") + len(digits) - 1) + digits + suffix


# A checkpoint's JSON without the entries every checkpoint LangGraph writes today holds alike
# (ADR 0025, amended): `v` when it is 4 and `channel_values` when it is empty (it holds only the
# channels whose values are inline: None, a str or a number). The write leaves them out (the
# stock saver's statement, its checkpoint parameter passed through `_LEAN_JSON`); every read
# (`aget_tuple`, `alist`: the stock saver's select) puts them back as defaults under the row's
# own JSON, so a row written before, holding them, reads as it is, and a read gives back what was
# written. The stock saver reads `v` from the row before any hook of ours, hence SQL.
_DEFAULTS = '\'{"v": 4, "channel_values": {}}\'::jsonb'
_LEAN_JSON = (
    "(SELECT j - array_remove(ARRAY[CASE WHEN j -> 'v' = '4' THEN 'v' END,"
    " CASE WHEN j -> 'channel_values' = '{}' THEN 'channel_values' END], NULL)"
    " FROM (SELECT %s::jsonb) AS p (j))"
)


def _replaced(sql: str, old: str, new: str) -> str:
    """`sql` with `old` replaced once: a LangGraph whose statement changed fails at import."""
    if sql.count(old) != 1:
        raise RuntimeError(f"langgraph-checkpoint-postgres changed its SQL: {old!r}")
    return sql.replace(old, new)


_SELECT_SQL = _replaced(
    AsyncPostgresSaver.SELECT_SQL,
    "\n    checkpoint,\n",
    f"\n    {_DEFAULTS} || checkpoint AS checkpoint,\n",
)
_UPSERT_CHECKPOINTS_SQL = _replaced(
    AsyncPostgresSaver.UPSERT_CHECKPOINTS_SQL,
    "VALUES (%s, %s, %s, %s, %s, %s)",
    f"VALUES (%s, %s, %s, %s, {_LEAN_JSON}, %s)",
)


class TranscriptSaver(AsyncPostgresSaver):
    """Reads checkpoints whose message lists and texts are stored as transcript nodes."""

    _reading: AsyncConnection[DictRow] | None = None
    SELECT_SQL = _SELECT_SQL

    def __init__(self, conn: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(conn, *args, **kwargs)
        self.serde = LeanSerde(self.serde)  # reads (and the fenced saver writes) lean messages

    def get_next_version(self, current: str | None, channel: None) -> str:
        """A channel's next version (`next_version`): at most 10 characters for the first
        billion steps of a thread, where the stock saver's are 49, repeated in every checkpoint
        (its versions, the versions each node saw) and blob row."""
        return next_version(current)

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
        # The id is in its column only (ADR 0025); a checkpoint written before holds it too.
        value = {**value, "checkpoint": {"id": value["checkpoint_id"], **value["checkpoint"]}}
        entries = value["channel_values"] or []
        heads = {
            bytes(channel).decode(): bytes(blob)
            for channel, type_, blob in entries
            if bytes(type_) == _TYPE_BYTES
        }
        stock = [e for e in entries if bytes(e[1]) != _TYPE_BYTES]
        loaded = await super()._load_checkpoint_tuple({**value, "channel_values": stock})
        db = self._reading or self.conn
        channel_values = loaded.checkpoint["channel_values"]
        if heads:
            lists = await transcripts.read(db, _task(value), heads.values())
            self._stored_now(
                node.digest
                for encoding, elements in lists.values()
                for node in transcripts.chain(elements, encoding)
            )
            channel_values.update(await asyncio.to_thread(self._decode, heads, lists))
        writes = loaded.pending_writes or []
        digests = _marker_digests([*channel_values.values(), *(w[2] for w in writes)])
        if not digests:
            return loaded
        texts = await transcripts.texts(db, _task(value), digests)
        self._stored_now(texts)

        def restore(message: BaseMessage) -> BaseMessage:
            digest = transcripts.marked(message.content)
            if digest is not None:
                message.content = texts[digest]  # a fresh object, decoded just now
            return message

        for channel_value in channel_values.values():
            _walk(channel_value, restore)
        for write in writes:
            _walk(write[2], restore)
        return loaded

    def _decode(
        self, heads: dict[str, bytes], lists: dict[bytes, tuple[str, list[bytes]]]
    ) -> dict[str, Any]:
        decoded = {}
        for channel, head in heads.items():
            encoding, elements = lists[head]
            decoded[channel] = [self.serde.loads_typed((encoding, e)) for e in elements]
        return decoded

    def _stored_now(self, digests: Iterable[bytes]) -> None:
        """Called with the digest of every node read: a writer learns which are stored."""


class _WithoutId(dict[str, Any]):
    """A checkpoint whose copy, the one the stock saver stores as the row's JSON, leaves out its
    id: the row's checkpoint_id column holds it, and a read puts it back (ADR 0025)."""

    def copy(self) -> dict[str, Any]:
        copied = dict(self)
        copied.pop("id", None)
        return copied


class TranscriptWriter(AsyncPostgresSaver):
    """The stock saver for one write, whose message lists become chain heads and whose long
    message texts become text nodes. The nodes it did not find in `stored` are left in
    `new_nodes` (lists, by encoding) and `new_texts`, for the caller to insert in the same
    transaction as the checkpoint or writes (db.transcripts.insert)."""

    UPSERT_CHECKPOINTS_SQL = _UPSERT_CHECKPOINTS_SQL

    def __init__(
        self,
        conn: AsyncConnection[DictRow],
        *,
        pipe: AsyncPipeline | None,
        serde: Any,
        stored: Collection[bytes],
    ) -> None:
        interning = _Interning(serde, stored)
        super().__init__(conn, pipe=pipe, serde=cast(Any, interning))
        self.interning = interning
        self.stored = stored
        self.new_nodes: dict[str, dict[bytes, Node]] = {}  # by encoding, then digest

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        without_id = cast(Checkpoint, _WithoutId(checkpoint))
        return await super().aput(config, without_id, metadata, new_versions)

    @property
    def new_texts(self) -> list[Node]:
        return list(self.interning.new.values())

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
        encoding = encoded[0][0]
        if encoding != LEAN_TYPE or any(type_ != encoding for type_, _ in encoded):
            # Not every element lean: the whole list as the stock serializer stores it.
            encoded = [self.interning.dumps_stock(element) for element in value]
            encoding = ENCODING
            if any(type_ != encoding for type_, _ in encoded):
                return None
        nodes = transcripts.chain([blob for _, blob in encoded], encoding)
        for node in nodes:
            if node.digest not in self.stored:
                self.new_nodes.setdefault(encoding, {}).setdefault(node.digest, node)
        return nodes[-1].digest
