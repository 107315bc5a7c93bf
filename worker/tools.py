"""The worker's side of tool calls: `outlast.tool.ToolRuntime` over db/, one per claim.

Built with the task id and the lease epoch the claim holds, so every ledger row and artifact
it writes is fenced by that lease; put in the run's config by the executor, where
`outlast.toolcall.call_tool` finds it. Each write is its own short statement on the pool: no
transaction is open while a tool runs. A tool server's token is read here, for the call, and
goes nowhere else (not the ledger, not the checkpoint, not a log line).
"""

from __future__ import annotations

import uuid
from typing import Any

from db import artifact, tool_call, tool_server
from db.connect import Db
from db.llm_call import ReplaySource
from outlast.tool import Decision, LedgerEntry, ServerInfo, ToolIntent, ToolLimits


class PgToolRuntime:
    """With `replay` (a task replaying another from its N-th model call), a tool call made
    before the replay's N-th model call takes the original's recorded outcome and does not run
    (db tool_call_replay, ADR 0023)."""

    def __init__(
        self,
        pool: Db,
        task_id: uuid.UUID,
        epoch: int,
        limits: ToolLimits,
        replay: ReplaySource | None = None,
    ) -> None:
        self.pool = pool
        self.task_id = task_id
        self.epoch = epoch
        self.limits = limits
        self.replay = replay

    async def begin(
        self, intent: ToolIntent, decision: Decision | None = None, result: Any = None
    ) -> LedgerEntry:
        row = tool_call.Intent(
            intent.step_key,
            intent.seq,
            intent.tool,
            intent.idempotent,
            intent.key,
            intent.digest,
            intent.arguments,
        )
        begun = None
        if self.replay is not None and decision is None:
            begun = await tool_call.replay(self.pool, self.task_id, self.epoch, row, self.replay)
        if begun is None:
            begun = await tool_call.begin(
                self.pool, self.task_id, self.epoch, row, decision=decision, result=result
            )
        return LedgerEntry(begun.outcome, begun.call_id, begun.status, begun.result, begun.error)

    async def finish(self, call_id: int, result: Any, error: str | None) -> None:
        await tool_call.finish(
            self.pool, self.task_id, self.epoch, call_id, result=result, error=error
        )

    async def server(self, name: str) -> ServerInfo | None:
        row = await tool_server.lookup(self.pool, self.task_id, name)
        if row is None:
            return None
        return ServerInfo(row["name"], row["url"], row["token"], list(row["tools"]))

    async def put_artifact(self, name: str, content_type: str, content: str, key: str) -> None:
        await artifact.put(
            self.pool,
            self.task_id,
            self.epoch,
            name=name,
            content_type=content_type,
            content=content,
            key=key,
        )
