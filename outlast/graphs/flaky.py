"""Fails on demand, to show retries, dead letters and crash recovery.

`input.fail_times` N: the `act` node raises on the task's first N runs (runs count every claim
and, unlike attempts, do not restart when a dead letter is redriven: a redrive after the "outage"
succeeds). `input.permanent`: it raises NonRetryable instead (dead-lettered at once, no retry).
`input.crash_at` (a node name): on the first run the worker process kills itself with SIGKILL in
that node. `input.delay_s` pauses in each node.
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
    run = task_context(config).run
    if state.get("crash_at") == node and run == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return run


def _trail(state: FlakyState, entry: str) -> dict[str, Any]:
    return {"trail": [*state.get("trail", []), entry]}


async def prepare(state: FlakyState, config: RunnableConfig) -> dict[str, Any]:
    run = await _enter("prepare", state, config)
    return _trail(state, f"prepare@{run}")


async def act(state: FlakyState, config: RunnableConfig) -> dict[str, Any]:
    run = await _enter("act", state, config)
    if run <= int(state.get("fail_times") or 0):
        if state.get("permanent"):
            raise NonRetryable(f"act refused on run {run} (permanent)")
        raise FlakyError(f"act failed on run {run}: set to fail the first {state['fail_times']}")
    return _trail(state, f"act@{run}")


async def finish(state: FlakyState, config: RunnableConfig) -> dict[str, Any]:
    run = await _enter("finish", state, config)
    return _trail(state, f"finish@{run}")


graph: StateGraph[FlakyState] = StateGraph(FlakyState)
graph.add_node("prepare", prepare)
graph.add_node("act", act)
graph.add_node("finish", finish)
graph.add_edge(START, "prepare")
graph.add_edge("prepare", "act")
graph.add_edge("act", "finish")
graph.add_edge("finish", END)
