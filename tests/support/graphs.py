"""Graphs for tests. `counted` is the pipeline with every node execution appended to the file
named by `input.log`: an execution count kept outside the graph state, so a test can see which
nodes ran again after a crash. With `input.gate` (a path) and `input.gate_at` (a node name), that
node waits until the file exists before it runs: a test holds the task mid-graph for as long as
it needs to make a fault land there, instead of racing the task to its end."""

from __future__ import annotations

import asyncio
import itertools
import operator
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph, add_messages
from langgraph.store.base import BaseStore
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
        # `<gate>.waiting` says the node has started and waits: a test that must act while the
        # node runs (not at the boundary before it) waits for this file first.
        with open(state["gate"] + ".waiting", "w"):
            pass
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


class Gate(TypedDict, total=False):
    started: str
    go: str
    fail: bool
    done: bool


async def _gated_work(state: Gate) -> dict[str, Any]:
    """Note in the file `started` that the node runs, then hold until the file `go` exists (a
    test's signal); then raise if `fail`, else finish. Never finishes without the signal."""
    fd = os.open(state["started"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, b"started\n")
    os.close(fd)
    while not os.path.exists(state["go"]):
        await asyncio.sleep(0.05)
    if state.get("fail"):
        raise RuntimeError("the attempt failed after its cancel was requested")
    return {"done": True}


# One node held by a test: it lets a test cancel a task mid-node, then choose how it leaves.
gated: StateGraph[Gate] = StateGraph(Gate)
gated.add_node("work", _gated_work)
gated.add_edge(START, "work")
gated.add_edge("work", END)


class Ask(TypedDict, total=False):
    timeout_s: float
    verdict: str


def _ask(state: Ask) -> dict[str, Any]:
    answer = request_approval("pay", {"amount": 1}, timeout_s=state["timeout_s"])
    return {"verdict": "go" if answer.approved else "stop"}


# One approval with the wait timeout the input names (a huge one Postgres cannot add to a time).
asking: StateGraph[Ask] = StateGraph(Ask)
asking.add_node("ask", _ask)
asking.add_edge(START, "ask")
asking.add_edge("ask", END)


class SignedDocument(CountedDocument, total=False):
    approved_by: str | None


async def sign_off(state: SignedDocument) -> SignedDocument:
    answer = request_approval("publish", {"keywords": state["keywords"]})
    return {"approved_by": answer.decided_by}


# `counted` with a person's sign-off between two nodes: every node (the sign-off once it has its
# answer) appended to `input.log`, so a test sees which ran, in what order, and whether the wait
# was honoured.
SIGNED_NODES = [s.__name__ for s in pipeline.STEPS[:4]] + ["sign_off"]
SIGNED_NODES += [s.__name__ for s in pipeline.STEPS[4:]]
signed: StateGraph[SignedDocument] = StateGraph(SignedDocument)
for step in [*pipeline.STEPS[:4], sign_off, *pipeline.STEPS[4:]]:
    signed.add_node(step.__name__, _counting(step))
signed.add_edge(START, SIGNED_NODES[0])
for before_name, after_name in itertools.pairwise(SIGNED_NODES):
    signed.add_edge(before_name, after_name)
signed.add_edge(SIGNED_NODES[-1], END)


class Notes(TypedDict, total=False):
    notes: Annotated[list[str], operator.add]
    note: str
    steps: int
    sleep_s: float
    gate: str
    gate_at: int
    done: int


async def _note(state: Notes) -> dict[str, Any]:
    """Append `note` (`note-i` for the i-th of `steps` steps), after `sleep_s`. With `gate` (a
    path) and `gate_at` (a step index), that step waits until the file exists."""
    done = state.get("done", 0)
    if state.get("gate") and state.get("gate_at") == done:
        while not os.path.exists(state["gate"]):
            await asyncio.sleep(GATE_POLL_S)
    await asyncio.sleep(state.get("sleep_s", 0))
    steps = state.get("steps", 1)
    note = state.get("note", "")
    return {"notes": [note if steps == 1 else f"{note}-{done}"], "done": done + 1}


def _again(state: Notes) -> str:
    return "note" if state.get("done", 0) < state.get("steps", 1) else END


# Runs on a LangGraph API thread: each run appends to `notes`, so a run sees the ones before it.
# `done` counts a run's steps; a run's input sets it back to 0.
notes: StateGraph[Notes] = StateGraph(Notes)
notes.add_node("note", _note)
notes.add_edge(START, "note")
notes.add_conditional_edges("note", _again, ["note", END])


class Talk(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]


def _reply(state: Talk) -> dict[str, Any]:
    """Answer the last message with `echo <its text>` (no model: the stream is under test)."""
    last = state["messages"][-1]
    return {"messages": [AIMessage(content=f"echo {last.content}")]}


# A chat-shaped graph for the LangGraph API's messages-tuple stream.
talk: StateGraph[Talk] = StateGraph(Talk)
talk.add_node("reply", _reply)
talk.add_edge(START, "reply")
talk.add_edge("reply", END)


# `notes` as a subgraph: the LangGraph API's `mode|namespace` frames.
nested: StateGraph[Notes] = StateGraph(Notes)
nested.add_node("inner", notes.compile())
nested.add_edge(START, "inner")
nested.add_edge("inner", END)


class Memo(TypedDict, total=False):
    user: str
    fact: str
    seen: list[str]
    counted: int


async def _remember(state: Memo, *, store: BaseStore) -> dict[str, Any]:
    """Read the user's facts from the store (LangGraph's `store`), then add `fact`."""
    space = ("memories", state["user"])
    before = sorted(i.value["fact"] for i in await store.asearch(space))
    await store.aput(space, f"fact-{len(before)}", {"fact": state["fact"]})
    return {"seen": before}


def _count(state: Memo, *, store: BaseStore) -> dict[str, Any]:
    """A sync node's store (LangGraph runs it in a thread): the facts there are now."""
    return {"counted": len(store.search(("memories", state["user"])))}


# A graph with memory across threads: the store the worker gives it (db/graph_store.py).
remember: StateGraph[Memo] = StateGraph(Memo)
remember.add_node("remember", _remember)
remember.add_node("count", _count)
remember.add_edge(START, "remember")
remember.add_edge("remember", "count")
remember.add_edge("count", END)


async def _progress(state: Notes) -> dict[str, Any]:
    """`_note`, telling its progress to LangGraph's stream writer (the API's `custom` mode): part
    0 when the step starts, part 1 before it ends. With `gate`/`gate_at`, that step waits for the
    file between the two (a kill lands after part 0 was written)."""
    write = get_stream_writer()
    done = state.get("done", 0)
    write({"step": done, "part": 0})
    if state.get("gate") and state.get("gate_at") == done:
        with open(state["gate"] + ".waiting", "w"):
            pass
        while not os.path.exists(state["gate"]):
            await asyncio.sleep(GATE_POLL_S)
    write({"step": done, "part": 1})
    return {"notes": [f"{state.get('note', '')}-{done}"], "done": done + 1}


# `notes` whose steps write to the stream writer: the LangGraph API's `custom` stream mode.
progress: StateGraph[Notes] = StateGraph(Notes)
progress.add_node("note", _progress)
progress.add_edge(START, "note")
progress.add_conditional_edges("note", _again, ["note", END])
