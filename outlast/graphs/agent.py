"""The built-in agent graph (`outlast.agent`): the model and the tools, in a loop, for a task
submitted to an agent whose spec names no graph of its own.

`input`: `{"messages": [{"role": "user", "content": "..."}], "max_steps": 25}` (max_steps
optional, 1-200). The `model` node asks the pinned agent's model (its system prompt,
temperature, max tokens and fallbacks; outlast/agents.py) through `outlast.models.call_model`,
so every call is journaled and priced. When the answer calls tools, the `tools` node runs each
through the one seam (outlast/agent_tools.py `run_tool`, which checks the allow-list) and hands
the results back to the model. It stops when the model calls no tool (`stop_reason` "done") or
after `max_steps` model calls since the last user message ("max_steps"). The result carries the
whole conversation (`messages`, each a JSON object as outlast.models writes it), the last answer
(`output`) and `stop_reason`.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from pydantic import TypeAdapter, ValidationError

from outlast.agent_tools import ToolOutcome, offered_tools, run_tool
from outlast.agents import agent_chain, agent_request, pinned_agent
from outlast.errors import NonRetryable
from outlast.models import AssistantMessage, Message, ToolResultMessage, call_model

DEFAULT_MAX_STEPS = 25
MAX_STEPS = 200
# LangGraph's recursion limit for an agent task: two supersteps per model call, and room.
RECURSION_LIMIT = 2 * MAX_STEPS + 10
MESSAGES: TypeAdapter[list[Message]] = TypeAdapter(list[Message])


class AgentState(TypedDict, total=False):
    messages: Annotated[list[dict[str, Any]], operator.add]
    max_steps: int
    stop_reason: Literal["done", "max_steps"] | None
    output: str


def conversation(state: AgentState) -> list[Message]:
    """The state's messages as model messages; NonRetryable when the input is not a
    conversation (it would fail the same way on every attempt)."""
    try:
        messages = MESSAGES.validate_python(state.get("messages") or [])
    except ValidationError as exc:
        raise NonRetryable(f"input.messages is not a list of messages: {exc}") from None
    if not messages:
        raise NonRetryable("input.messages is empty: give the agent a user message")
    return messages


def steps_since_user(messages: list[Message]) -> int:
    """Model answers since the last user message: the steps of the current turn."""
    count = 0
    for message in reversed(messages):
        if message.role == "user":
            break
        count += message.role == "assistant"
    return count


def max_steps(state: AgentState) -> int:
    wanted = state.get("max_steps", DEFAULT_MAX_STEPS)
    if not isinstance(wanted, int) or not 1 <= wanted <= MAX_STEPS:
        raise NonRetryable(f"input.max_steps must be an integer from 1 to {MAX_STEPS}")
    return wanted


async def model(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    try:
        agent = pinned_agent(config)
    except LookupError as exc:
        raise NonRetryable(
            f"the agent graph runs only tasks submitted to an agent: {exc}"
        ) from None
    messages = conversation(state)
    request = agent_request(agent, messages, await offered_tools(config))
    models = agent_chain(agent)
    try:
        response = await call_model(config, request, models)
    finally:
        await models.aclose()
    answer = response.message()
    update: dict[str, Any] = {
        "messages": [answer.model_dump(mode="json")],
        "output": answer.content,
    }
    if not answer.tool_calls:
        update["stop_reason"] = "done"
    elif steps_since_user(messages) + 1 >= max_steps(state):
        update["stop_reason"] = "max_steps"
    else:
        update["stop_reason"] = None
    return update


async def tools(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
    last = AssistantMessage.model_validate(state["messages"][-1])
    results = []
    for call in last.tool_calls:
        if call.error is not None:  # malformed arguments: tell the model, run nothing
            outcome = ToolOutcome(f"malformed tool call: {call.error}", True)
        else:
            outcome = await run_tool(config, call.name, call.args)
        result = ToolResultMessage(
            tool_call_id=call.id, content=outcome.content, is_error=outcome.is_error
        )
        results.append(result.model_dump(mode="json"))
    return {"messages": results}


def route(state: AgentState) -> str:
    return END if state.get("stop_reason") else "tools"


graph: StateGraph[AgentState] = StateGraph(AgentState)
graph.add_node("model", model)
graph.add_node("tools", tools)
graph.add_edge(START, "model")
graph.add_conditional_edges("model", route, ["tools", END])
graph.add_edge("tools", "model")
