"""Messages stored lean (db/lean.py, ADR 0025): fewer bytes, read back equal, and never a user's
value taken for a message."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from db.lean import LEAN_KEY, LEAN_TYPE, STOCK_TYPE, LeanSerde

STOCK = JsonPlusSerializer()
LEAN = LeanSerde(STOCK)

MESSAGES: list[Any] = [
    HumanMessage(content="hello", id="h1"),
    HumanMessage(content=[{"type": "text", "text": "hi"}], name="ann"),
    SystemMessage(content="be brief"),
    AIMessage(
        content="",
        id="lc_run--1",
        tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "call_1", "type": "tool_call"}],
        usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        response_metadata={"model_name": "m"},
    ),
    ToolMessage(content="found", tool_call_id="call_1", status="error", artifact={"k": [1, 2]}),
]


def test_messages_read_back_equal_in_fewer_bytes() -> None:
    for message in MESSAGES:
        type_, data = LEAN.dumps_typed(message)
        assert type_ == LEAN_TYPE
        assert len(data) < len(STOCK.dumps_typed(message)[1]) - 60
        back = LEAN.loads_typed((type_, data))
        assert back == message and type(back) is type(message)
    value = {"messages": MESSAGES, "n": 1}
    assert LEAN.loads_typed(LEAN.dumps_typed(value)) == value


def test_a_user_s_dict_with_the_key_is_stored_as_the_stock_serializer_stores_it() -> None:
    value = {"messages": [HumanMessage(content="x")], "mine": {LEAN_KEY: ["human", "y", None, {}]}}
    type_, data = LEAN.dumps_typed(value)
    assert type_ == STOCK_TYPE
    assert LEAN.loads_typed((type_, data)) == value
    assert LEAN.dumps_typed({LEAN_KEY: 1}) == STOCK.dumps_typed({LEAN_KEY: 1})


def test_other_classes_and_values_are_stored_as_before() -> None:
    chunk = AIMessageChunk(content="part")
    assert LEAN.dumps_typed(chunk) == STOCK.dumps_typed(chunk)
    assert LEAN.dumps_typed([1, "a"]) == STOCK.dumps_typed([1, "a"])
    # A value the lean form would not read back equal (a tuple becomes a list) is not lean: it
    # reads back as the stock serializer's does.
    odd = ToolMessage(content="x", tool_call_id="c", artifact=(1, 2))
    assert LEAN.dumps_typed(odd) == STOCK.dumps_typed(odd)
