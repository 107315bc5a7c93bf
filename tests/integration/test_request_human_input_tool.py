"""The request_human_input tool, run by LangGraph's ToolNode on the Postgres checkpointer:
the tool call interrupts as an input wait, and the answer comes back as the tool's result."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import Command

from db.connect import Pool
from outlast.human import wait_kind
from outlast.tools import request_human_input


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def model(state: Chat) -> dict[str, Any]:
    call = {"name": "request_human_input", "args": {"question": "Which colour?"}, "id": "call-1"}
    return {"messages": [AIMessage(content="", tool_calls=[call])]}


async def test_tool_call_waits_for_a_person_and_returns_the_answer(pool: Pool) -> None:
    graph = StateGraph(Chat)
    graph.add_node("model", model)
    graph.add_node("tools", ToolNode([request_human_input]))
    graph.add_edge(START, "model")
    graph.add_edge("model", "tools")
    graph.add_edge("tools", END)
    app = graph.compile(checkpointer=AsyncPostgresSaver(pool))
    config: Any = {"configurable": {"thread_id": str(uuid.uuid4())}}

    await app.ainvoke({"messages": []}, config, durability="sync")
    (pending,) = (await app.aget_state(config)).interrupts
    assert wait_kind(pending.value) == "input"
    assert pending.value["question"] == "Which colour?"

    await app.ainvoke(Command(resume={pending.id: "teal"}), config, durability="sync")
    last = (await app.aget_state(config)).values["messages"][-1]
    assert isinstance(last, ToolMessage)
    assert (last.content, last.tool_call_id) == ("teal", "call-1")
