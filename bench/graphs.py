"""The tasks the benchmark runs, registered with workers through OUTLAST_GRAPHS.

`noop_function` is a function task that does nothing but count: the queue core's no-op task.
`noop` is one node that does nothing but count. `chain10` is ten
such nodes in a row. Both are plain StateGraph builders, compiled by the worker with the fenced
checkpointer exactly as any user graph is. `sleeper` waits in one node for `input.sleep_s`, the
way a node waits on slow I/O (an LLM call, an HTTP request) without using the CPU. `agent` is a
chat agent's turn: one node that sends the whole conversation to a model through
`outlast.models.call_model` (so through the journal in a worker) and appends the answer; its
model is OpenAI-compatible, at BENCH_MODEL_URL (the bench's fake server), or the chain a run puts
in its config under `bench_models`.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from pydantic import SecretStr

from outlast.models import (
    AssistantMessage,
    Link,
    ModelChain,
    ModelRequest,
    RetryPolicy,
    UserMessage,
    call_model,
)
from outlast.models.openai import OpenAIProvider


class Count(TypedDict, total=False):
    n: int
    sleep_s: float


def _step(state: Count) -> dict[str, Any]:
    return {"n": state.get("n", 0) + 1}


async def _sleep(state: Count) -> dict[str, Any]:
    await asyncio.sleep(float(state.get("sleep_s", 1.0)))
    return {"n": state.get("n", 0) + 1}


def chain(nodes: int) -> StateGraph[Count]:
    """`nodes` no-op nodes in a row: `nodes` node boundaries, each checkpointed."""
    builder: StateGraph[Count] = StateGraph(Count)
    names = [f"step_{i}" for i in range(nodes)]
    for name in names:
        builder.add_node(name, _step)
    builder.add_edge(START, names[0])
    for before, after in itertools.pairwise(names):
        builder.add_edge(before, after)
    builder.add_edge(names[-1], END)
    return builder


async def noop_function(task_input: dict[str, Any]) -> dict[str, Any]:
    """The queue core's no-op task: a function task (no graph, no checkpoint) that counts."""
    return {"n": int(task_input.get("n", 0)) + 1}


noop = chain(1)
chain10 = chain(10)

sleeper: StateGraph[Count] = StateGraph(Count)
sleeper.add_node("wait", _sleep)
sleeper.add_edge(START, "wait")
sleeper.add_edge("wait", END)


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def models(url: str) -> ModelChain:
    """A chain to the OpenAI-compatible server at `url` (the bench's fake one), no retries."""
    provider = OpenAIProvider(SecretStr("sk-bench"), base_url=f"{url}/v1")
    return ModelChain([Link(provider, "gpt-bench")], retry=RetryPolicy(attempts=1))


@functools.cache
def _env_models() -> ModelChain:
    return models(os.environ["BENCH_MODEL_URL"])


def _as_model_message(message: AnyMessage) -> UserMessage | AssistantMessage:
    text = str(message.content)
    return (
        UserMessage(content=text)
        if isinstance(message, HumanMessage)
        else AssistantMessage(content=text)
    )


async def _answer(state: Chat, config: RunnableConfig) -> dict[str, Any]:
    chain = config.get("configurable", {}).get("bench_models") or _env_models()
    request = ModelRequest(messages=tuple(_as_model_message(m) for m in state["messages"]))
    response = await call_model(config, request, chain)
    return {"messages": [AIMessage(content=response.content)]}


agent: StateGraph[Chat] = StateGraph(Chat)
agent.add_node("answer", _answer)
agent.add_edge(START, "answer")
agent.add_edge("answer", END)

# name -> import path, as OUTLAST_GRAPHS takes them.
REGISTERED = {
    "bench-noop-fn": "bench.graphs:noop_function",
    "bench-noop": "bench.graphs:noop",
    "bench-chain10": "bench.graphs:chain10",
    "bench-sleeper": "bench.graphs:sleeper",
    "bench-agent": "bench.graphs:agent",
}


def graphs_env() -> str:
    return ",".join(f"{name}={path}" for name, path in REGISTERED.items())
