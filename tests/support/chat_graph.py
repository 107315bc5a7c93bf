"""A chat-style graph for the transcript tests and the bench: each run appends the user's message
(the input) and one assistant answer of a fixed size to `messages`, as a chat agent does at every
turn. The answer is made up here, or comes from `call_model` when the config holds a chain."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import StateGraph
from langgraph.graph.message import add_messages

ANSWER_BYTES = 1000


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def text(seed: str, size: int) -> str:
    """`size` characters that do not compress (hex of a hash chain), so stored bytes are honest."""
    out, block = [], seed.encode()
    while sum(map(len, out)) < size:
        block = hashlib.sha256(block).digest()
        out.append(block.hex())
    return "".join(out)[:size]


async def answer(state: ChatState) -> dict[str, Any]:
    turn = len(state["messages"])
    return {"messages": [AIMessage(content=text(f"answer {turn}", ANSWER_BYTES))]}


def build() -> Any:
    graph = StateGraph(ChatState)
    graph.add_node("answer", answer)
    graph.set_entry_point("answer")
    graph.set_finish_point("answer")
    return graph


def turn(n: int, size: int = 500) -> dict[str, Any]:
    return {"messages": [HumanMessage(content=text(f"question {n}", size))]}


graph = build()
