"""`call_tool(config, name, arguments)`: how a graph node runs a tool so that no side effect
runs twice. docs/adr/0014-tool-ledger.md holds the semantics; in short:

1. A tool outside `allowed` (when given) is refused: a tool error for the model, not raised.
2. In a worker (a ToolRuntime in the node config under TOOLS_KEY), the call is keyed like the
   model journal's calls: the node run's step key and the call's index in it (0, 1, ...). Its
   idempotency key is derived from the task id and that key, so a re-run of the node after a
   crash, by this worker or another, hands the tool the same key.
3. Before the tool runs an intent row commits under the lease fence; after, the outcome. A
   re-run that finds an outcome returns it (`reused`) without running the tool. One that finds
   an intent without outcome runs the tool again when it is idempotent; otherwise the task
   parks in the inbox (`waiting_for_approval`, kind `unknown_tool_outcome`, the arguments
   shown) until a person decides: approve = run it again, reject = skip it (the model gets a
   tool error), approve with `edited_args: {"result": ...}` = record it as done with that
   result.
4. The tool runs with a timeout; whatever goes wrong in it (an exception, a timeout, a result
   that is not JSON) comes back as a ToolResult with `error` set. call_tool raises only what a
   node must not swallow: LeaseLost, LangGraph's interrupts, cancellation.

Outside a worker there is no ledger: the tool just runs (built-ins only; artifacts and tool
servers need the worker's runtime).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import uuid
from collections.abc import Collection, MutableMapping
from typing import Any, cast

from langgraph.errors import GraphBubbleUp
from langgraph.types import interrupt
from opentelemetry.trace import Span, Status, StatusCode

from outlast import traces
from outlast.builtin_tools import BUILTINS
from outlast.errors import LeaseLost, ToolError, UnstorableValue
from outlast.human import MARKER
from outlast.jsonsafe import to_storable_json
from outlast.models.journal import step_key
from outlast.tool import (
    TOOLS_KEY,
    LedgerEntry,
    Tool,
    ToolContext,
    ToolIntent,
    ToolLimits,
    ToolResult,
    ToolRuntime,
)
from outlast.toolservers import SEPARATOR, server_tool

__all__ = [
    "TOOLS_KEY",
    "UNKNOWN_OUTCOME",
    "Tool",
    "ToolContext",
    "ToolResult",
    "call_tool",
    "describe_tools",
    "is_allowed",
]

# The node run's tool-call counter, fresh for every execution of a node (as the journal's).
SEQ_KEY = "outlast_tool_seq"
UNKNOWN_OUTCOME = "unknown_tool_outcome"


def runtime_of(config: Any) -> ToolRuntime | None:
    configurable = (config or {}).get("configurable") or {}
    runtime: ToolRuntime | None = configurable.get(TOOLS_KEY)
    return runtime


def is_allowed(name: str, allowed: Collection[str] | None) -> bool:
    """`allowed` None allows everything; `server.*` allows every tool of that server."""
    if allowed is None or name in allowed:
        return True
    server, sep, _ = name.partition(SEPARATOR)
    return bool(sep) and f"{server}{SEPARATOR}*" in allowed


async def call_tool(
    config: Any,
    name: str,
    arguments: Any,
    *,
    allowed: Collection[str] | None = None,
    tools: dict[str, Tool] | None = None,
) -> ToolResult:
    """Run tool `name` with `arguments` (a JSON object) for a graph node; see the module's
    docstring. `config` is the node's RunnableConfig; `allowed` the agent's allow-list
    (built-in names and `server.tool` / `server.*`); `tools` extra Tool objects by name (they
    win over the built-ins and tool servers). Never raises for a tool's failure. Traced, the
    call is a span `execute_tool {name}` under its node's (GenAI semantic conventions)."""
    if not traces.enabled():
        return await _call(config, name, arguments, allowed, tools)
    with traces.span(
        f"execute_tool {name}",
        context=traces.node_context(config),
        attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name},
        not_failures=(GraphBubbleUp,),  # parked for a person to decide: no failure
    ) as span:
        if traces.capture_content():
            span.set_attribute("gen_ai.tool.call.arguments", traces.content(arguments))
        result = await _call(config, name, arguments, allowed, tools)
        _traced(span, result)
        return result


def _traced(span: Span, result: ToolResult) -> None:
    """The call's outcome on its span; the result, or the error's text, only when captured
    (a tool's error message may quote what it read)."""
    span.set_attribute("outlast.tool.reused", result.reused)
    if result.idempotency_key is not None:
        span.set_attribute("gen_ai.tool.call.id", result.idempotency_key)
    if result.error is not None:
        span.set_attribute("error.type", "tool_error")
        message = result.error if traces.capture_content() else None
        span.set_status(Status(StatusCode.ERROR, message))
    elif traces.capture_content():
        span.set_attribute("gen_ai.tool.call.result", traces.content(result.content))


async def _call(
    config: Any,
    name: str,
    arguments: Any,
    allowed: Collection[str] | None,
    tools: dict[str, Tool] | None,
) -> ToolResult:
    runtime = runtime_of(config)
    limits = runtime.limits if runtime is not None else ToolLimits()
    if not is_allowed(name, allowed):
        return ToolResult(name, error=f"tool {name!r} is not allowed for this agent")
    if not isinstance(arguments, dict):
        return ToolResult(name, error="the arguments must be a JSON object")
    tool = await _resolve(name, tools or {}, runtime, limits)
    if isinstance(tool, str):
        return ToolResult(name, error=tool)
    if runtime is None or config is None or not tool.journaled:
        key = f"olt_{uuid.uuid4().hex}" if runtime is None else _key(config, runtime, "-")
        return await _run(tool, arguments, ToolContext(key, limits, runtime))
    seq = next(
        cast("itertools.count[int]", config["configurable"].setdefault(SEQ_KEY, itertools.count()))
    )
    try:
        intent = _intent(config, runtime, tool, arguments, seq)
    except UnstorableValue:
        return ToolResult(name, error="the arguments cannot be stored as JSON")
    return await _ledgered(runtime, intent, tool, arguments, limits)


async def describe_tools(config: Any, allowed: Collection[str]) -> list[dict[str, Any]]:
    """Name, description and JSON Schema of each allowed tool, for the model's tool list
    (`server.*` expands to the server's discovered tools); unknown names are left out."""
    runtime = runtime_of(config)
    limits = runtime.limits if runtime is not None else ToolLimits()
    specs = []
    for name in allowed:
        server, sep, tool_name = name.partition(SEPARATOR)
        if sep and tool_name == "*":
            info = await runtime.server(server) if runtime is not None else None
            names = [f"{server}{SEPARATOR}{t['name']}" for t in (info.tools if info else [])]
        else:
            names = [name]
        for each in names:
            tool = await _resolve(each, {}, runtime, limits)
            if not isinstance(tool, str):
                specs.append(tool.spec())
    return specs


async def _resolve(
    name: str, extra: dict[str, Tool], runtime: ToolRuntime | None, limits: ToolLimits
) -> Tool | str:
    """The tool, or why there is none (a message for the model)."""
    if name in extra:
        return extra[name]
    if name in BUILTINS:
        return BUILTINS[name]
    server_name, sep, tool_name = name.partition(SEPARATOR)
    if not sep:
        return f"there is no tool {name!r}"
    if runtime is None:
        return "tools on tool servers run only in a worker"
    server = await runtime.server(server_name)
    if server is None:
        return f"there is no tool server {server_name!r}"
    tool = server_tool(server, tool_name, limits.fetch)
    return tool if tool is not None else f"tool server {server_name!r} has no tool {tool_name!r}"


def _key(config: MutableMapping[str, Any], runtime: ToolRuntime, seq: int | str) -> str:
    """The idempotency key: a digest of the task id, the node run's step key and the call's
    index, the same for every re-run of the call."""
    material = f"{runtime.task_id}|{step_key(config)}|{seq}"
    return "olt_" + hashlib.sha256(material.encode()).hexdigest()[:40]


def _intent(
    config: MutableMapping[str, Any], runtime: ToolRuntime, tool: Tool, arguments: Any, seq: int
) -> ToolIntent:
    canonical = json.dumps([tool.name, arguments], sort_keys=True, separators=(",", ":"))
    return ToolIntent(
        step_key=step_key(config),
        seq=seq,
        tool=tool.name,
        idempotent=tool.idempotent,
        key=_key(config, runtime, seq),
        digest=hashlib.sha256(canonical.encode()).hexdigest(),
        arguments=to_storable_json(arguments, "tool arguments"),
    )


async def _ledgered(
    runtime: ToolRuntime, intent: ToolIntent, tool: Tool, arguments: Any, limits: ToolLimits
) -> ToolResult:
    entry = await runtime.begin(intent)
    asked = 0
    while entry.outcome == "unknown":
        decision, result = _ask(intent, entry, asked)
        asked += 1
        if decision is not None:
            entry = await runtime.begin(intent, decision, result)
    if entry.outcome == "mismatch":
        message = f"idempotency key {intent.key} was used before with other arguments"
        return ToolResult(tool.name, error=message, idempotency_key=intent.key)
    if entry.outcome == "recorded":
        return _recorded(tool.name, entry, intent.key)
    result = await _run(tool, arguments, ToolContext(intent.key, limits, runtime))
    await runtime.finish(entry.call_id or 0, result.content, result.error)
    return result


def _ask(intent: ToolIntent, entry: LedgerEntry, asked: int) -> tuple[Any, Any]:
    """Park the task for a person to decide about a call whose outcome is unknown (LangGraph's
    interrupt), and read their decision: ('retry' | 'skip' | 'done', result). (None, None)
    when the answer was about an earlier unknown call of this key (a retry that crashed
    again): then the next `interrupt()` of this node run asks anew."""
    args = {
        "call_id": entry.call_id,
        "tool": intent.tool,
        "arguments": intent.arguments,
        "idempotency_key": intent.key,
    }
    answer = interrupt(
        {
            MARKER: "approval",
            "kind": UNKNOWN_OUTCOME,
            "action": UNKNOWN_OUTCOME,
            "args": args,
            "summary": (
                f"{intent.tool} was running when its worker stopped; whether it took effect "
                "is unknown. Approve to run it again, reject to skip it, or approve with "
                'edited_args {"result": ...} to record it as done with that result.'
            ),
        }
    )
    decided = answer if isinstance(answer, dict) else {}
    args_given = decided.get("args")
    chosen: dict[str, Any] = args_given if isinstance(args_given, dict) else {}
    if "call_id" in chosen and chosen["call_id"] != entry.call_id:
        return None, None
    if not decided.get("approved"):
        return "skip", None
    if "result" in chosen:
        return "done", chosen["result"]
    return "retry", None


def _recorded(name: str, entry: LedgerEntry, key: str) -> ToolResult:
    if entry.status == "completed":
        return ToolResult(name, content=entry.result, idempotency_key=key, reused=True)
    error = entry.error or f"the call was {entry.status}"
    return ToolResult(name, error=error, idempotency_key=key, reused=True)


async def _run(tool: Tool, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
    limits = context.limits
    key = context.idempotency_key
    try:
        async with asyncio.timeout(limits.timeout_s):
            value = await tool.run(arguments, context)
        content = _capped(to_storable_json(value, "the tool's result"), limits.result_max_chars)
    except (GraphBubbleUp, LeaseLost):
        raise
    except TimeoutError:
        return ToolResult(
            tool.name, error=f"timed out after {limits.timeout_s:g}s", idempotency_key=key
        )
    except ToolError as exc:
        return ToolResult(tool.name, error=str(exc), idempotency_key=key)
    except UnstorableValue:
        return ToolResult(
            tool.name, error="the tool returned something that is not JSON", idempotency_key=key
        )
    except Exception as exc:
        return ToolResult(
            tool.name, error=f"{type(exc).__name__}: {exc}"[:500], idempotency_key=key
        )
    return ToolResult(tool.name, content=content, idempotency_key=key)


def _capped(value: Any, max_chars: int) -> Any:
    """`value`, or its text cut at `max_chars` with a note, when it is longer."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= max_chars:
        return value
    return text[:max_chars] + f"\n[cut: the result was {len(text)} characters]"
