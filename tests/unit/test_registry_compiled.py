"""Registry.compiled: a builder is compiled once; every caller gets its own checkpointer."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import StateGraph

from outlast.registry import Registry


async def test_a_builder_is_compiled_once_and_each_copy_has_its_checkpointer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = Registry.from_spec()
    calls = []
    original = StateGraph.compile

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StateGraph, "compile", counting)
    first, second = InMemorySaver(), InMemorySaver()
    a = registry.compiled("pipeline", first)
    b = registry.compiled("pipeline", second)
    assert len(calls) == 1
    assert (a.checkpointer, b.checkpointer) == (first, second)
    config: Any = {"configurable": {"thread_id": "t"}}
    result = await a.ainvoke({"text": "One. Two."}, config)
    assert result["report"]["sentences"] == 2
    assert first.get_tuple(config) is not None and second.get_tuple(config) is None
