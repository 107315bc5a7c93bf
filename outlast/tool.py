"""What a tool is, what it gets and what it returns, and the seam to the worker's ledger.

A `Tool` is a name, a description, a JSON Schema of its arguments, an async function and
whether it is idempotent (running it twice with the same idempotency key has the effect of
running it once). `outlast.toolcall.call_tool` runs tools; this module only defines the shapes,
so the built-ins (outlast/builtin_tools.py) and tool servers (outlast/toolservers.py) can be
written against them. Like the model journal's seam, nothing here knows the database: the
worker's runtime (worker/tools.py) implements `ToolRuntime` over db/.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from outlast.netguard import GuardConfig

Decision = Literal["retry", "skip", "done"]
# Where the worker puts its ToolRuntime in a node's config (configurable), as JOURNAL_KEY.
TOOLS_KEY = "outlast_tools"


@dataclass(frozen=True)
class ToolLimits:
    """How long a tool call may take, how much of its result the model gets, and where a
    fetch may go (OUTLAST_TOOL_TIMEOUT_S, OUTLAST_TOOL_RESULT_MAX_CHARS, OUTLAST_FETCH_*,
    OUTLAST_NET_ALLOW)."""

    timeout_s: float = 30.0
    result_max_chars: int = 100_000
    fetch: GuardConfig = field(default_factory=GuardConfig)

    @classmethod
    def from_settings(cls, settings: Any) -> ToolLimits:
        fetch = GuardConfig(
            allow=GuardConfig.parse_allow(settings.net_allow),
            timeout_s=settings.fetch_timeout_s,
            max_bytes=settings.fetch_max_bytes,
        )
        return cls(settings.tool_timeout_s, settings.tool_result_max_chars, fetch)


@dataclass(frozen=True)
class ServerInfo:
    """A registered tool server as the worker sees it: its token only travels in here."""

    name: str
    url: str
    token: str | None = field(repr=False)
    tools: list[dict[str, Any]]


@dataclass(frozen=True)
class ToolIntent:
    """A call about to run, as the ledger records it (see db/tool_call.py's Intent)."""

    step_key: str
    seq: int
    tool: str
    idempotent: bool
    key: str
    digest: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger answered (db/tool_call.py's Begun, field for field)."""

    outcome: Literal["started", "recorded", "unknown", "mismatch"]
    call_id: int | None
    status: str | None = None
    result: Any = None
    error: str | None = None


class ToolRuntime(Protocol):
    """The worker's side of tool calls, one per claim, in the node config under TOOLS_KEY."""

    limits: ToolLimits
    task_id: Any

    async def begin(
        self, intent: ToolIntent, decision: Decision | None = None, result: Any = None
    ) -> LedgerEntry:
        """The ledger's answer for this intent (db.tool_call.begin). Raises LeaseLost."""
        ...

    async def finish(self, call_id: int, result: Any, error: str | None) -> None:
        """The outcome of a started call. Raises LeaseLost."""
        ...

    async def server(self, name: str) -> ServerInfo | None:
        """The task's tenant's tool server `name`, with its token."""
        ...

    async def put_artifact(self, name: str, content_type: str, content: str, key: str) -> None:
        """Store a text artifact of the task. Raises LeaseLost."""
        ...


@dataclass(frozen=True)
class ToolContext:
    """What a tool gets besides its arguments: the call's idempotency key (stable across
    retries and crashes: pass it on to whatever the tool changes), the limits, and the
    worker's runtime (None outside a worker)."""

    idempotency_key: str
    limits: ToolLimits
    runtime: ToolRuntime | None = None


ToolFunction = Callable[[dict[str, Any], ToolContext], Awaitable[Any]]


@dataclass(frozen=True)
class Tool:
    """A tool a model can call. `journaled` False: the call is not in the ledger (only
    `request_human_input`, whose answer is already durable as the task's wait)."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: ToolFunction
    idempotent: bool
    journaled: bool = True

    def spec(self) -> dict[str, Any]:
        """Name, description and JSON Schema, as a model's tool list wants them."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@dataclass(frozen=True)
class ToolResult:
    """What a tool call gave the model: `content` (JSON) or `error` (a message for the model;
    the task goes on). `reused`: the ledger's recorded outcome, the tool did not run again."""

    name: str
    content: Any = None
    error: str | None = None
    idempotency_key: str | None = None
    reused: bool = False

    @property
    def is_error(self) -> bool:
        return self.error is not None

    def text(self) -> str:
        """The result as the text of a tool message."""
        if self.error is not None:
            return f"error: {self.error}"
        if isinstance(self.content, str):
            return self.content
        return json.dumps(self.content, ensure_ascii=False)
