"""A graph whose one node runs tool calls through `outlast.toolcall.call_tool`, for the tool
tests. Input: `calls` (a list of `{tool, arguments}`), `allowed` (the allow-list, or absent for
none), and `gate` (a path: after the calls the node waits until that file exists, so a test can
kill the worker after the tools ran and before the node's checkpoint).

Besides the built-ins and tool servers it offers test tools: `effect` (not idempotent) and
`effect_idem` (idempotent) append `<idempotency key> <pid>` to the file `arguments.log` (the
effect a test counts), then, given `arguments.hold`, the n-th effect waits until the file
`<hold>.<n>` exists (a test kills the worker there: the effect happened, the outcome row was
never written); `garbage` returns
what JSON cannot hold; `boom` raises. With `question`, the node first asks the model
(`openai:gpt-test`, journaled through call_model) and keeps its answer."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from outlast.models import ModelRequest, UserMessage, call_model, chain
from outlast.toolcall import Tool, ToolContext, call_tool


class Tooled(TypedDict, total=False):
    calls: list[dict[str, Any]]
    allowed: list[str]
    gate: str
    question: str
    answer: str
    results: list[dict[str, Any]]


async def _wait_for(path: str) -> None:
    while not os.path.exists(path):
        await asyncio.sleep(0.05)


async def effect(arguments: dict[str, Any], context: ToolContext) -> Any:
    fd = os.open(arguments["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{context.idempotency_key} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    if arguments.get("hold"):  # the n-th effect holds until the file `<hold>.<n>` exists
        with open(arguments["log"]) as log:
            await _wait_for(f"{arguments['hold']}.{len(log.readlines())}")
    return {"done": True}


async def garbage(arguments: dict[str, Any], context: ToolContext) -> Any:
    return {"value": float("nan")}


async def boom(arguments: dict[str, Any], context: ToolContext) -> Any:
    raise RuntimeError("the tool broke")


ANY: dict[str, Any] = {"type": "object"}
TEST_TOOLS = {
    "effect": Tool("effect", "a side effect", ANY, effect, idempotent=False),
    "effect_idem": Tool("effect_idem", "an idempotent effect", ANY, effect, idempotent=True),
    "garbage": Tool("garbage", "returns NaN", ANY, garbage, idempotent=True),
    "boom": Tool("boom", "raises", ANY, boom, idempotent=True),
}


async def _ask(question: str, config: RunnableConfig) -> str:
    models = chain("openai:gpt-test")
    try:
        request = ModelRequest(messages=(UserMessage(content=question),))
        return (await call_model(config, request, models)).content
    finally:
        await models.aclose()


async def act(state: Tooled, config: RunnableConfig) -> dict[str, Any]:
    update: dict[str, Any] = {}
    if state.get("question"):
        update["answer"] = await _ask(state["question"], config)
    results = []
    for call in state.get("calls", []):
        result = await call_tool(
            config, call["tool"], call.get("arguments", {}),
            allowed=state.get("allowed"), tools=TEST_TOOLS,
        )  # fmt: skip
        results.append(
            {
                "name": result.name,
                "content": result.content,
                "error": result.error,
                "key": result.idempotency_key,
                "reused": result.reused,
            }
        )
    if state.get("gate"):
        await _wait_for(state["gate"])
    return {**update, "results": results}


tooled: StateGraph[Tooled] = StateGraph(Tooled)
tooled.add_node("act", act)
tooled.add_edge(START, "act")
tooled.add_edge("act", END)
