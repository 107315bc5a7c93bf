"""Fails on demand, to show retries, dead letters and crash recovery.

`input.fail_times` N: the `act` node raises on the first N attempts. `input.permanent`: it raises
NonRetryable instead (dead-lettered at once). `input.crash_at` (a node name): on the first attempt
the worker process kills itself with SIGKILL in that node. `input.delay_s` pauses in each node.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from outlast.context import task_context
from outlast.errors import NonRetryable


class FlakyState(TypedDict, total=False):
    fail_times: int
    permanent: bool
    crash_at: str
    delay_s: float
    trail: list[str]


class FlakyError(RuntimeError):
    """The failure `flaky` was asked to produce."""


async def _enter(node: str, state: FlakyState, config: RunnableConfig) -> int:
    delay = float(state.get("delay_s") or 0)
    if delay > 0:
        await asyncio.sleep(min(delay, 60.0))
    attempt = task_context(config).attempt
    if state.get("crash_at") == node and attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return attempt


def _trail(state: FlakyState, entry: str) -> dict[str, Any]:
    return {"trail": [*state.get("trail", []), entry]}


async def prepare(state: FlakyState, config: RunnableConfig) -> dict[str, Any]:
    attempt = await _enter("prepare", state, config)
    return _trail(state, f"prepare@{attempt}")


async def act(state: FlakyState, config: RunnableConfig) -> dict[str, Any]:
    attempt = await _enter("act", state, config)
    if attempt <= int(state.get("fail_times") or 0):
        if state.get("permanent"):
            raise NonRetryable(f"act refused on attempt {attempt} (permanent)")
        raise FlakyError(f"act failed on attempt {attempt} of the first {state['fail_times']}")
    return _trail(state, f"act@{attempt}")


async def finish(state: FlakyState, config: RunnableConfig) -> dict[str, Any]:
    attempt = await _enter("finish", state, config)
    return _trail(state, f"finish@{attempt}")


graph: StateGraph[FlakyState] = StateGraph(FlakyState)
graph.add_node("prepare", prepare)
graph.add_node("act", act)
graph.add_node("finish", finish)
graph.add_edge(START, "prepare")
graph.add_edge("prepare", "act")
graph.add_edge("act", "finish")
graph.add_edge("finish", END)
