"""Graphs for tests. `counted` is the pipeline with every node execution appended to the file
named by `input.log`: an execution count kept outside the graph state, so a test can see which
nodes ran again after a crash. With `input.gate` (a path) and `input.gate_at` (a node name), that
node waits until the file exists before it runs: a test holds the task mid-graph for as long as
it needs to make a fault land there, instead of racing the task to its end."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from outlast.graphs import pipeline
from outlast.human import request_approval


class CountedDocument(pipeline.Document, total=False):
    log: str
    gate: str
    gate_at: str


GATE_POLL_S = 0.02


async def _pass_gate(state: CountedDocument, node: str) -> None:
    if state.get("gate_at") == node:
        while not os.path.exists(state["gate"]):
            await asyncio.sleep(GATE_POLL_S)  # a cancellation point, as a real node's I/O is


def _counting(step: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    # No functools.wraps: LangGraph reads a node's input schema from its annotations, and the
    # wrapped step's (Document) would filter out `log`.
    async def run(state: CountedDocument) -> Any:
        await _pass_gate(state, step.__name__)
        update = await step(state)
        # O_APPEND writes of one short line are atomic, so concurrent workers never interleave.
        fd = os.open(state["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{step.__name__} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
        return update

    run.__name__ = step.__name__
    return run


counted: StateGraph[CountedDocument] = StateGraph(CountedDocument)
for step in pipeline.STEPS:
    counted.add_node(step.__name__, _counting(step))
counted.add_edge(START, pipeline.STEPS[0].__name__)
for before, after in itertools.pairwise(pipeline.STEPS):
    counted.add_edge(before.__name__, after.__name__)
counted.add_edge(pipeline.STEPS[-1].__name__, END)


class Review(TypedDict, total=False):
    legal: dict[str, Any]
    finance: dict[str, Any]
    verdict: str


def _reviewer(area: str) -> Callable[[Review], dict[str, Any]]:
    def review(state: Review) -> dict[str, Any]:
        answer = request_approval(f"{area}-signoff", {"area": area})
        return {area: {"approved": answer.approved, "by": answer.decided_by}}

    review.__name__ = f"review_{area}"
    return review


def _verdict(state: Review) -> dict[str, Any]:
    both = state["legal"]["approved"] and state["finance"]["approved"]
    return {"verdict": "go" if both else "stop"}


# Two approvals asked in parallel branches, each needing its own decision, then a join.
review: StateGraph[Review] = StateGraph(Review)
review.add_node("legal", _reviewer("legal"))
review.add_node("finance", _reviewer("finance"))
review.add_node("verdict", _verdict)
review.add_edge(START, "legal")
review.add_edge(START, "finance")
review.add_edge(["legal", "finance"], "verdict")
review.add_edge("verdict", END)
