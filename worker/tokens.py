"""A running model call's streamed text, written to llm_deltas as it arrives (ADR 0022), so the
task stream (GET /v1/tasks/{id}/stream) shows the tokens live.

`PgJournal.tokens(entry)` gives `outlast.models.call_model` one `TokenWriter` per started call.
It batches: the first delta after a quiet spell goes at once, later ones every `flush_s` or
`flush_chars`, each batch one short autocommit statement (no transaction is open across the
call). A write that fails is logged and dropped: the deltas are a live view, the journal's row is
the record, so a full pool or a lost connection never fails the model call.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import psycopg

from db import llm_delta
from db.connect import Db
from outlast.models.failover import StreamDelta

log = logging.getLogger("outlast.worker")


@dataclass
class TokenWriter:
    db: Db
    task_id: uuid.UUID
    call_id: int
    flush_s: float = 0.1
    flush_chars: int = 1024
    _pieces: list[tuple[int, str]] = field(default_factory=list)
    _chars: int = 0
    _flushed_at: float = float("-inf")

    async def __call__(self, delta: StreamDelta) -> None:
        if not delta.text:
            return
        self._pieces.append((delta.attempt, delta.text))
        self._chars += len(delta.text)
        due = time.monotonic() - self._flushed_at >= self.flush_s
        if due or self._chars >= self.flush_chars:
            await self.flush()

    async def flush(self) -> None:
        if not self._pieces:
            return
        pieces, self._pieces, self._chars = self._pieces, [], 0
        self._flushed_at = time.monotonic()
        try:
            await llm_delta.insert(self.db, self.task_id, self.call_id, pieces)
        except psycopg.Error as exc:  # PoolTimeout too: a live view is not worth a failed call
            log.warning("token deltas dropped", extra={"error": type(exc).__name__})


@asynccontextmanager
async def writer(db: Db, task_id: uuid.UUID, call_id: int) -> AsyncIterator[TokenWriter]:
    """A call's writer; what it still holds is written when the call ends, however it ends."""
    tokens = TokenWriter(db, task_id, call_id)
    try:
        yield tokens
    finally:
        await tokens.flush()
