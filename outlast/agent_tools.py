"""The one seam between the agent graph and tools: `run_tool(config, name, arguments)`.

Every tool call of the built-in agent graph goes through here, and the allow-list is checked
here, at call time, against the pinned agent version's `allowed_tools`: a tool the agent is not
allowed, a tool this worker does not have, or arguments that are not a JSON object come back
as a tool error the model reads (`ToolOutcome(is_error=True)`), never as an exception that
fails the task. `request_human_input` asks a person (the task waits for the answer; the node
runs again when it comes, and the answer is the tool's result).

The tools of the catalogue beyond `request_human_input` (calculator, read_url, artifacts, MCP
servers) and their ledger arrive with the tools issue, behind this same function.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outlast.agents import pinned_agent
from outlast.human import request_input
from outlast.models import ToolSpec

__all__ = ["ToolOutcome", "run_tool", "tool_specs"]

SPECS: dict[str, ToolSpec] = {
    "request_human_input": ToolSpec(
        name="request_human_input",
        description="Ask a person a question and wait for their answer. Use it when you need a "
        "fact, a preference or a confirmation that only a person can give.",
        parameters={
            "type": "object",
            "properties": {"question": {"type": "string", "description": "What to ask."}},
            "required": ["question"],
        },
    ),
}


@dataclass(frozen=True)
class ToolOutcome:
    """A tool's result as the model reads it: text, and whether it is an error."""

    content: str
    is_error: bool = False


def tool_specs(names: Sequence[str]) -> tuple[ToolSpec, ...]:
    """The tools offered to the model: those of `names` this worker has."""
    return tuple(SPECS[name] for name in names if name in SPECS)


async def run_tool(config: Any, name: str, arguments: dict[str, Any] | None) -> ToolOutcome:
    """Run tool `name` with `arguments` for the agent in `config`. Raises only what a graph
    must see (a LangGraph interrupt while a person is asked, a lost lease)."""
    allowed = pinned_agent(config).allowed_tools
    if name not in allowed:
        listed = ", ".join(allowed) or "none"
        return ToolOutcome(f"tool {name!r} is not allowed for this agent (allowed: {listed})", True)
    if arguments is None:
        return ToolOutcome(f"the arguments of {name!r} are not a JSON object", True)
    if name == "request_human_input":
        return _ask(arguments)
    return ToolOutcome(f"tool {name!r} is not available", True)


def _ask(arguments: dict[str, Any]) -> ToolOutcome:
    question = arguments.get("question")
    if not isinstance(question, str) or not question.strip():
        return ToolOutcome("request_human_input needs a non-empty string `question`", True)
    answer = request_input(question)
    return ToolOutcome(answer if isinstance(answer, str) else json.dumps(answer))
