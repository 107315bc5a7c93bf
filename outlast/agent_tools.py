"""The one seam between the agent graph and tools: `offered_tools(config)` (what the model is
told it may call) and `run_tool(config, name, arguments)`.

Every tool call of the built-in agent graph goes through `run_tool`, which hands it to
`outlast.toolcall.call_tool` with the pinned agent version's `allowed_tools` as the allow-list:
the two-phase ledger (docs/adr/0014-tool-ledger.md), the idempotency key, the time and size caps
all apply. A tool the agent is not allowed, a tool this worker does not have, arguments that are
not a JSON object or a tool that fails come back as a tool error the model reads
(`ToolOutcome(is_error=True)`), never as an exception that fails the task.

Tools of MCP servers are named `server.tool`; the vendors' APIs allow only letters, digits, `_`
and `-` in a tool name, so the model sees `server__tool` and `run_tool` maps it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outlast.agents import pinned_agent
from outlast.models import ToolSpec
from outlast.toolcall import call_tool, describe_tools
from outlast.toolservers import SEPARATOR

__all__ = ["ToolOutcome", "offered_tools", "run_tool"]

WIRE_SEPARATOR = "__"


@dataclass(frozen=True)
class ToolOutcome:
    """A tool's result as the model reads it: text, and whether it is an error."""

    content: str
    is_error: bool = False


def wire_name(name: str) -> str:
    """A tool's name as the model sees it (`server.tool` -> `server__tool`)."""
    return name.replace(SEPARATOR, WIRE_SEPARATOR, 1)


def tool_name(wire: str) -> str:
    """The tool a name the model called stands for (`server__tool` -> `server.tool`)."""
    return wire if SEPARATOR in wire else wire.replace(WIRE_SEPARATOR, SEPARATOR, 1)


async def offered_tools(config: Any) -> tuple[ToolSpec, ...]:
    """The tools offered to the model: those of the agent's allow-list this worker has (a
    server's `server.*` expands to its discovered tools)."""
    specs = await describe_tools(config, pinned_agent(config).allowed_tools)
    return tuple(
        ToolSpec(
            name=wire_name(spec["name"]),
            description=spec["description"],
            parameters=spec["parameters"],
        )
        for spec in specs
    )


async def run_tool(config: Any, name: str, arguments: dict[str, Any] | None) -> ToolOutcome:
    """Run the tool the model called `name` with `arguments` for the agent in `config`. Raises
    only what a graph must see (a LangGraph interrupt while a person is asked, a lost lease)."""
    result = await call_tool(
        config, tool_name(name), arguments, allowed=pinned_agent(config).allowed_tools
    )
    return ToolOutcome(result.text(), result.is_error)
