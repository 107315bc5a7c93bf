"""The LLM-call journal seam: `call_model(config, request, chain)` is how a graph node calls a
model so the call survives a crash.

The worker puts a `Journal` in the node's RunnableConfig (configurable key `outlast_journal`).
Each call gets a key: the node run's step key (the LangGraph step and the node's task path, both
from the config's metadata; a re-run of the node from the same checkpoint has the same ones) and
its sequence within that node run (0, 1, ...). Before the request goes out the journal is asked
for a completed call recorded under that key with the same request digest: if there is one, its
response is returned and nothing reaches the network. Otherwise the call is journaled as started,
made through the chain (retries, failover), and its response, usage and cost are recorded.
Before a call is journaled as started, its worst-case cost is reserved against the task's
budgets (docs/howto/budgets-and-limits.md); a call that does not fit pauses the task instead.

A recorded call whose request digest differs (the agent or the code changed) is not reused: the
call is made again and recorded as a new call under the same key, the old one kept (and still
counted). Outside a worker (no journal in the config) `call_model` is `chain.complete`.

This module knows no database and no LangGraph: the journal that talks to Postgres is the
worker's (worker/journal.py), and the config is read as a plain mapping.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, MutableMapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, cast

from outlast import traces
from outlast.models.failover import AttemptGate, ModelChain, OnDelta, StreamDelta
from outlast.models.messages import ModelRequest, ModelResponse
from outlast.models.provider import ModelRef
from outlast.models.spans import model_span, recorded, responded

JOURNAL_KEY = "outlast_journal"
# The node run's call counter, kept in its own configurable: LangGraph builds a fresh one for
# every execution of a node (a re-run after a crash or an answered interrupt starts at 0 again,
# even within one claim), and a counter in the journal would keep counting across them.
SEQ_KEY = "outlast_journal_seq"


@dataclass(frozen=True)
class JournalEntry:
    """What `Journal.begin` found: a `recorded` response to reuse, or the started call's id."""

    call_id: int
    recorded: ModelResponse | None = None
    # The budget reservation the call holds until finish settles it (None: no budget applies).
    reservation_id: int | None = None


class Journal(Protocol):
    async def begin(
        self, step_key: str, seq: int, request: ModelRequest, models: Sequence[ModelRef] = ()
    ) -> JournalEntry:
        """The completed call recorded under (step_key, seq) with this request's digest, or a
        new call journaled as started, its worst-case cost on `models` (the chain's) reserved
        against the task's budgets first. Raises LeaseLost when the task's lease is gone, and
        BudgetPaused (a LeaseLost) when the call does not fit a budget: the task is paused."""
        ...

    async def finish(
        self, entry: JournalEntry, response: ModelResponse | None, error: BaseException | None
    ) -> None:
        """Record how the started call ended: its response (usage, cost) or its error."""
        ...


# A journal may also take a started call's streamed text (the worker's writes it to llm_deltas
# for the task stream, ADR 0022): `tokens(entry)` opens a sink for the call's deltas. With one,
# the call streams (the SDK's streaming); what is journaled is the same assembled response.
TokenSink = Callable[[JournalEntry], AbstractAsyncContextManager[OnDelta]]


def _both(first: OnDelta, second: OnDelta) -> OnDelta:
    async def both(delta: StreamDelta) -> None:
        await first(delta)
        await second(delta)

    return both


def journal_of(config: Any) -> Journal | None:
    """The journal the worker put in a node's config, if any."""
    configurable = (config or {}).get("configurable") or {}
    journal: Journal | None = configurable.get(JOURNAL_KEY)
    return journal


def step_key(config: MutableMapping[str, Any]) -> str:
    """`<langgraph_step>:<checkpoint namespace>`; the namespace is `node:task id` (with its
    parents' for a subgraph), and LangGraph derives the task id from the checkpoint the step
    started from, the step, the node and its path, so a re-run of the node after a crash has
    the same key and a later step or another node a different one."""
    metadata = config.get("metadata") or {}
    configurable = config.get("configurable") or {}
    namespace = metadata.get("langgraph_checkpoint_ns") or configurable.get("checkpoint_ns", "")
    return f"{metadata.get('langgraph_step', '')}:{namespace}"


def next_seq(config: MutableMapping[str, Any]) -> int:
    """The sequence of the node run's next call: 0, 1, 2, ... Taken before any await, so calls
    started together (asyncio.gather) are numbered in the order they were created."""
    counter = config["configurable"].setdefault(SEQ_KEY, itertools.count())
    return next(cast("itertools.count[int]", counter))


async def call_model(
    config: Any,
    request: ModelRequest,
    chain: ModelChain,
    *,
    on_text: OnDelta | None = None,
) -> ModelResponse:
    """`chain.complete(request)`, journaled when the node runs in a worker: a call already
    completed with the same request (before a crash) returns its recorded response and makes
    no network call. Raises what the chain raises, or LeaseLost. `config` is the node's
    RunnableConfig, typed Any as in `task_context` (this layer imports no LangChain, and to
    mypy a TypedDict is no MutableMapping). Traced, the call is a span (outlast.models.spans)."""
    if traces.enabled():
        with model_span(config, request, chain) as span:
            response = await _journaled(config, request, chain, on_text)
            responded(span, response)
            return response
    return await _journaled(config, request, chain, on_text)


async def _journaled(
    config: Any, request: ModelRequest, chain: ModelChain, on_text: OnDelta | None
) -> ModelResponse:
    journal = journal_of(config)
    if journal is None or config is None:
        return await chain.complete(request, on_text=on_text)
    key = step_key(config)
    refs = [link.ref for link in chain.links]
    entry = await journal.begin(key, next_seq(config), request, refs)
    if entry.recorded is not None:
        recorded()
        return entry.recorded
    gate: AttemptGate | None = getattr(journal, "gate", None)  # the worker's rate limits
    tokens: TokenSink | None = getattr(journal, "tokens", None)  # the worker's live tokens
    try:
        if tokens is None:
            response = await chain.complete(request, on_text=on_text, gate=gate)
        else:
            async with tokens(entry) as record:
                sink = record if on_text is None else _both(on_text, record)
                response = await chain.complete(request, on_text=sink, gate=gate)
    except Exception as exc:
        await journal.finish(entry, None, exc)
        raise
    await journal.finish(entry, response, None)
    return response
