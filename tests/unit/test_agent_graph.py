"""The built-in agent graph with the offline model, outside a worker (no journal): the pinned
spec reaches the request, the loop stops when the model calls no tool or after max_steps, a tool
outside the allow-list is a tool error the model reads, and request_human_input waits."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from outlast.agent_tools import run_tool
from outlast.agents import PinnedAgent, agent_request, pinned_agent
from outlast.errors import NonRetryable
from outlast.graphs.agent import graph
from outlast.models import UserMessage

SPEC = {"provider": "offline", "model": "offline", "system_prompt": "Be kind.", "temperature": 0.1}


def config(spec: dict[str, Any], thread: str = "t") -> dict[str, Any]:
    agent = PinnedAgent.of("helper", 3, spec, None)
    return {"configurable": {"thread_id": thread, **agent.as_configurable()}}


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_a_plain_answer_ends_the_run() -> None:
    run = graph.compile(checkpointer=InMemorySaver())
    out = await run.ainvoke(user("hello"), config(SPEC))
    assert out["stop_reason"] == "done" and out["output"] == "offline reply: hello"
    assert [m["role"] for m in out["messages"]] == ["user", "assistant"]


def test_the_request_carries_the_pinned_spec_and_overrides() -> None:
    agent = PinnedAgent.of("helper", 3, {**SPEC, "max_tokens": 77}, {"system_prompt": "Other."})
    request = agent_request(agent, [UserMessage(content="hi")])
    assert request.messages[0].content == "Other." and request.params.max_tokens == 77
    assert request.params.temperature == 0.1
    assert pinned_agent(config(SPEC)).version == 3


async def test_a_tool_not_allowed_is_an_error_the_model_reads() -> None:
    outcome = await run_tool(config(SPEC), "calculator", {"expression": "1+1"})
    assert outcome.is_error and "not allowed" in outcome.content
    allowed = config({**SPEC, "allowed_tools": ["calculator"]})
    outcome = await run_tool(allowed, "calculator", {"expression": "1+1"})
    assert not outcome.is_error and outcome.content == '{"value": 2}'
    outcome = await run_tool(allowed, "calculator", None)
    assert outcome.is_error and "JSON object" in outcome.content


async def test_request_human_input_waits_for_a_person() -> None:
    spec = {**SPEC, "allowed_tools": ["request_human_input"]}
    run = graph.compile(checkpointer=InMemorySaver())
    asked = user('/tool request_human_input {"question": "which city?"}')
    await run.ainvoke(asked, config(spec, "ask"))
    state = await run.aget_state(config(spec, "ask"))
    assert state.next == ("tools",)
    assert state.interrupts[0].value["question"] == "which city?"


async def test_max_steps_stops_a_tool_loop() -> None:
    spec = {**SPEC, "allowed_tools": ["request_human_input"]}
    run = graph.compile(checkpointer=InMemorySaver())
    asked = {**user('/tool request_human_input {"question": "q"}'), "max_steps": 1}
    out = await run.ainvoke(asked, config(spec, "max"))
    assert out["stop_reason"] == "max_steps"


async def test_bad_input_fails_for_good() -> None:
    run = graph.compile(checkpointer=InMemorySaver())
    with pytest.raises(NonRetryable, match=r"input\.messages"):
        await run.ainvoke({"messages": [{"role": "robot"}]}, config(SPEC, "bad"))
    with pytest.raises(NonRetryable, match="submitted to an agent"):
        await run.ainvoke(user("hi"), {"configurable": {"thread_id": "none"}})
