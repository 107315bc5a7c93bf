"""The agent a task runs as, as a graph node sees it: the spec of the version the task pinned
at submit (with a replay's overrides applied), put in the node's config by the worker.

A node calls `pinned_agent(config)` to read it, `agent_chain(agent)` for its model and
fallbacks, and `agent_request(agent, messages, tools)` for a request with its system prompt,
temperature and max tokens. The built-in agent graph (outlast/graphs/agent.py) does exactly
this; a custom graph named by an agent can too, and calling the model through
`outlast.models.call_model` gets the journal and accounting. Guide:
docs/howto/agents-and-models.md, "Agent tasks".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outlast.models import (
    Message,
    ModelChain,
    ModelRequest,
    Params,
    SystemMessage,
    ToolSpec,
    chain,
)

__all__ = ["AGENT_KEY", "PinnedAgent", "agent_chain", "agent_request", "pinned_agent"]

# The configurable key the worker puts the pinned agent under (a dict, so LangGraph does not
# copy it into checkpoint metadata).
AGENT_KEY = "outlast_agent"
DEFAULT_MAX_TOKENS = 1024


@dataclass(frozen=True)
class PinnedAgent:
    """An agent at the version its task pinned: `spec` holds AgentSpec's fields (provider,
    model, fallbacks, system_prompt, temperature, max_tokens, allowed_tools, graph, ...), with
    `overrides` (a replay's) already applied."""

    name: str
    version: int
    spec: dict[str, Any]
    overrides: dict[str, Any]

    @property
    def allowed_tools(self) -> tuple[str, ...]:
        return tuple(self.spec.get("allowed_tools") or ())

    def as_configurable(self) -> dict[str, Any]:
        return {
            AGENT_KEY: {
                "name": self.name,
                "version": self.version,
                "spec": self.spec,
                "overrides": self.overrides,
            }
        }

    @classmethod
    def of(
        cls, name: str, version: int, spec: dict[str, Any], overrides: dict[str, Any] | None
    ) -> PinnedAgent:
        """The pinned version's `spec` with `overrides` applied over it."""
        overrides = overrides or {}
        return cls(name, version, {**spec, **overrides}, dict(overrides))


def pinned_agent(config: Any) -> PinnedAgent:
    """The agent the worker put in a node's `config`; LookupError when the task was not
    submitted to an agent (or the node runs outside a worker)."""
    try:
        raw = config["configurable"][AGENT_KEY]
    except (KeyError, TypeError) as exc:
        raise LookupError("this task was not submitted to an agent") from exc
    return PinnedAgent(raw["name"], int(raw["version"]), raw["spec"], raw.get("overrides") or {})


def agent_chain(agent: PinnedAgent) -> ModelChain:
    """The agent's model then its fallbacks, as a failover chain (close it when done)."""
    spec = agent.spec
    return chain([f"{spec['provider']}:{spec['model']}", *(spec.get("fallbacks") or ())])


def agent_request(
    agent: PinnedAgent, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()
) -> ModelRequest:
    """`messages` asked of the agent's model: its system prompt first (when it has one), its
    temperature and max tokens."""
    spec = agent.spec
    prompt = spec.get("system_prompt") or ""
    system: tuple[Message, ...] = (SystemMessage(content=prompt),) if prompt else ()
    params = Params(
        temperature=spec.get("temperature"),
        max_tokens=spec.get("max_tokens") or DEFAULT_MAX_TOKENS,
    )
    return ModelRequest(messages=(*system, *messages), tools=tuple(tools), params=params)
