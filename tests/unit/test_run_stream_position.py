"""A LangGraph API run stream's position `S.C.D` (api/runstream.py, ADR 0027)."""

from __future__ import annotations

from api.runstream import Position, _langchain


def test_a_position_parses_what_its_frame_ids_carry() -> None:
    assert Position.parse(None) == Position(0, 0, 0)
    assert Position.parse("7") == Position(7, 0, 0)  # a checkpoint seq alone
    assert Position.parse("7.3") == Position(7, 3, 0)
    assert Position.parse("7.3.9") == Position(7, 3, 9)
    assert str(Position(7, 3, 9)) == "7.3.9"


def test_outlast_messages_are_sent_in_langchains_shape() -> None:
    call = {"id": "c1", "name": "calculator", "args": {"x": 1}}
    ai = _langchain({"role": "assistant", "content": "hi", "tool_calls": [call]})
    assert ai["type"] == "ai" and ai["tool_calls"][0]["name"] == "calculator"
    tool = _langchain({"role": "tool", "tool_call_id": "c1", "content": "2", "is_error": True})
    assert (tool["type"], tool["status"]) == ("tool", "error")
    langchain = {"type": "human", "content": "x"}
    assert _langchain(langchain) is langchain
