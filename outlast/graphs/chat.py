"""A conversational task that needs no model: it answers each user message with a summary of
the conversation so far. Continue a completed chat with `POST /v1/tasks/{id}/messages`.

`input`: `{"messages": [{"role": "user", "content": "..."}]}`.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def reply(state: Chat) -> dict[str, Any]:
    said = [m for m in state["messages"] if isinstance(m, HumanMessage)]
    last = said[-1].content if said else ""
    text = f"Message {len(said)} received: {last!s}. So far you said: " + " | ".join(
        str(m.content) for m in said
    )
    return {"messages": [AIMessage(content=text)]}


graph: StateGraph[Chat] = StateGraph(Chat)
graph.add_node("reply", reply)
graph.add_edge(START, "reply")
graph.add_edge("reply", END)
