"""A graph whose one node makes a journaled model call (outlast.models.call_model) through the
provider chain the worker's settings name (`openai:gpt-test`, pointed at the fake model server
by OPENAI_BASE_URL), then holds until the file `input.gate` exists: a test kills the worker after
the model answered and before the node's checkpoint, however slow the machine is."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from outlast.models import ModelRequest, UserMessage, call_model, chain


class Asked(TypedDict, total=False):
    question: str
    gate: str
    answer: str


async def ask(state: Asked, config: RunnableConfig) -> dict[str, Any]:
    models = chain("openai:gpt-test")
    try:
        request = ModelRequest(messages=(UserMessage(content=state["question"]),))
        response = await call_model(config, request, models)
    finally:
        await models.aclose()
    while not os.path.exists(state["gate"]):
        await asyncio.sleep(0.05)
    return {"answer": response.content}


journaled: StateGraph[Asked] = StateGraph(Asked)
journaled.add_node("ask", ask)
journaled.add_edge(START, "ask")
journaled.add_edge("ask", END)
