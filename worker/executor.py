"""The executor: runs one claimed task's graph to its next resting point and records how the
attempt ended, with fenced writes only.

- The graph runs as LangGraph thread `task id`, checkpointing through the fenced saver with
  `durability="sync"`, so every node boundary is durable before the next node starts.
- A thread that already has a checkpoint resumes from it (input None): nodes already
  checkpointed do not run again. A redrive's resume point forks from the chosen checkpoint.
- A cancel request stops the run at the next node boundary; a lost lease stops it at once.
- An interrupt nobody has answered parks the task (`waiting_for_*`, lease released, slot freed);
  answers already given are resumed with `Command(resume={interrupt id: value})`.
- No database transaction is open while a node runs: each checkpoint write is its own short
  transaction.
- A function task (outlast/functions.py) is one call, no graph and no checkpoints; a cancel
  request stops an async function at once.
- A model call that does not fit a budget pauses the task before the call (BudgetPaused, a
  LeaseLost: the reserve statement already released the lease), and the run stops there.
- Completions go through the worker's group commit (worker/completions.py); the other outcomes
  (failure, cancel, park) are written one by one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.errors import InvalidUpdateError
from langgraph.types import Command, Interrupt, StateSnapshot

from db import agent as agents
from db import outcome, stream_chunk, thread, waits
from db.connect import Pool
from db.errors import BudgetPaused, LeaseLost, RateLimited
from db.graph_store import FencedStore
from db.lease import Claim
from db.llm_call import ReplaySource
from db.tasks import is_state_update, state_update_node
from db.waits import NewWait
from outlast import human, traces
from outlast.agents import PinnedAgent
from outlast.context import TaskContext
from outlast.errors import NonRetryable, TaskTimeout, UnfinishedRun
from outlast.functions import TaskFunction
from outlast.graphs.agent import RECURSION_LIMIT as AGENT_RECURSION_LIMIT
from outlast.jsonsafe import dumps_storable, to_storable_json
from outlast.models.journal import JOURNAL_KEY
from outlast.models.prices import PriceBook
from outlast.registry import Registry
from outlast.tool import TOOLS_KEY
from outlast.webhooks import WEBHOOK_GRAPH
from worker import spans
from worker.blocking import BlockingCalls
from worker.checkpointer import FencedSaver
from worker.completions import Completions
from worker.config import WorkerConfig
from worker.failures import describe_failure
from worker.journal import PgJournal
from worker.leases import Lease
from worker.ratelimits import RateLimiter
from worker.tools import PgToolRuntime
from worker.webhooks import WebhookSender

log = logging.getLogger(__name__)


def finished(snapshot: StateSnapshot) -> Any:
    """The values of a run that has ended; UnfinishedRun when the head still has `next` nodes."""
    if snapshot.next:
        raise UnfinishedRun(f"the graph stopped before {', '.join(snapshot.next)}")
    return snapshot.values


def run_config(
    claim: Claim,
    *,
    head: bool = False,
    journal: PgJournal | None = None,
    agent: PinnedAgent | None = None,
    tools: PgToolRuntime | None = None,
    nodes: spans.NodeTracer | None = None,
) -> RunnableConfig:
    """The run's config; at a redrive's chosen checkpoint unless `head` (the thread's newest).
    With `journal`, nodes' `outlast.models.call_model` journals their model calls in it; with
    `tools`, `outlast.toolcall.call_tool` records tool calls in its ledger; with `agent`, nodes
    read the task's pinned agent version (outlast.agents.pinned_agent); with `nodes` (tracing
    on), each node run has a span, the parent of the calls made in it."""
    configurable: dict[str, Any] = {"thread_id": str(claim.task_id)}
    configurable.update(TaskContext(claim.task_id, claim.attempt, claim.epoch).as_configurable())
    if journal is not None:
        configurable[JOURNAL_KEY] = journal
    if tools is not None:
        configurable[TOOLS_KEY] = tools
    if claim.resume_checkpoint_id and not head:
        configurable["checkpoint_id"] = claim.resume_checkpoint_id
    config: RunnableConfig = {"configurable": configurable}
    if nodes is not None:
        configurable[traces.SPANS_KEY] = nodes.spans
        config["callbacks"] = [nodes]
    if agent is None:
        return config
    configurable.update(agent.as_configurable())
    return {**config, "recursion_limit": AGENT_RECURSION_LIMIT}


@asynccontextmanager
async def attempt_timeout(claim: Claim) -> AsyncIterator[None]:
    """The attempt's `timeout_s` (none when unset): TaskTimeout when it runs past it."""
    try:
        async with asyncio.timeout(claim.timeout_s) as deadline:
            yield
    except TimeoutError as exc:
        if deadline.expired():
            message = f"attempt {claim.attempt} ran past timeout_s={claim.timeout_s}"
            raise TaskTimeout(message) from exc
        raise


class Executor:
    def __init__(
        self,
        pool: Pool,
        registry: Registry,
        worker_id: uuid.UUID,
        config: WorkerConfig,
        completions: Completions,
    ) -> None:
        self.pool = pool
        self.registry = registry
        self.worker_id = worker_id
        self.config = config
        self.completions = completions
        self.blocking = BlockingCalls(config.concurrency)  # plain `def` task functions
        self.prices = PriceBook(config.prices_file)
        # Built-in function tasks the worker runs itself, in place of the registry's entry:
        # a webhook delivery reads its webhook's secret from the database (worker/webhooks.py).
        guard = dataclasses.replace(config.tools.fetch, timeout_s=config.webhook_timeout_s)
        self.builtins = {WEBHOOK_GRAPH: WebhookSender(pool, guard).function()}

    async def execute(self, lease: Lease) -> None:
        """Run the task and record its outcome. Never raises for the task's own errors;
        LeaseLost ends the attempt silently (the task belongs to someone else now). Traced, the
        attempt is one span (worker/spans.py)."""
        if not traces.enabled():
            await self._execute(lease)
            return
        with spans.attempt(lease, self.worker_id):
            await self._execute(lease)

    async def _execute(self, lease: Lease) -> None:
        claim = lease.claim
        try:
            await self._run_and_record(lease)
        except BudgetPaused as paused:
            spans.outcome("budget_paused")
            log.info(
                "task paused on its budget before a model call",
                extra={"task_id": str(claim.task_id), "pause": paused.pause},
            )
        except RateLimited as limited:
            spans.outcome("rate_limited")
            log.info(
                "task given back to wait on a provider rate limit",
                extra={"task_id": str(claim.task_id), "wait_s": limited.wait_s},
            )
        except LeaseLost:
            spans.outcome("lease_lost")
            log.warning(
                "lease lost; attempt abandoned without writing",
                extra={"task_id": str(claim.task_id), "epoch": claim.epoch},
            )

    async def _run_and_record(self, lease: Lease) -> None:
        claim = lease.claim
        try:
            end = await self._run(lease)
        except LeaseLost:
            raise
        except Exception as exc:
            lease.recording = True
            ids = {"task_id": str(claim.task_id), "attempt": claim.attempt}
            log.info("attempt failed", extra={**ids, "error": repr(exc)})
            await self._fail(claim, describe_failure(exc))
            return
        lease.recording = True
        try:
            await self._record(claim, end)
        except psycopg.DataError as exc:
            # Postgres refused what the run produced, beyond what dumps_storable catches. It would
            # refuse it on every attempt: fail for good (DataError is deterministic), saying why.
            failure = describe_failure(exc)
            message = f"the attempt's outcome cannot be stored: {failure.message}"
            await self._fail(claim, dataclasses.replace(failure, message=message))

    async def _run(self, lease: Lease) -> RunEnd:
        """Run the function or graph; a completed run's result comes back as JSON text Postgres
        accepts (or the attempt fails with UnstorableValue, which is not retried)."""
        graph = lease.claim.graph
        function = self.builtins.get(graph) or self.registry.function(graph)
        if function is not None:
            end = await self._run_function(lease, function)
        else:
            end = await self._run_graph(lease)
        if end.cancelled or end.waits:
            return end
        # A new RunEnd, not dataclasses.replace: this runs once per task (py-spy: replace's
        # introspection was 3 % of a worker draining no-op tasks).
        return RunEnd(values=end.values, result_json=dumps_storable(end.values, "result"))

    async def _record(self, claim: Claim, end: RunEnd) -> None:
        if not end.cancelled and not end.waits:  # the common case first, with no log line
            await self.completions.complete(claim.task_id, claim.epoch, end.result_json)
            spans.outcome("completed")
            return
        ids = {"task_id": str(claim.task_id), "attempt": claim.attempt}
        if end.cancelled:
            await outcome.cancel_ack(self.pool, self.worker_id, claim.task_id, claim.epoch)
            spans.outcome("cancelled")
            log.info("task cancelled at a node boundary", extra=ids)
        else:
            state = await waits.park(
                self.pool,
                self.worker_id,
                claim.task_id,
                claim.epoch,
                end.waits,
                default_timeout_s=self.config.wait_timeout_s,
            )
            spans.outcome("waiting")
            log.info("task waits on a person", extra={**ids, "state": state})

    async def _fail(self, claim: Claim, failure: outcome.Failure) -> None:
        state, run_at = await outcome.fail(
            self.pool, self.worker_id, claim.task_id, claim.epoch, failure, self.config.retry
        )
        spans.outcome({"queued": "retrying", "cancelled": "cancelled"}.get(state, "failed"))
        log.info(
            "attempt recorded",
            extra={"task_id": str(claim.task_id), "state": state, "run_at": run_at.isoformat()},
        )

    async def _run_graph(self, lease: Lease) -> RunEnd:
        """Run until the graph ends, stops on interrupts nobody answered yet, or is cancelled.
        Interrupts already answered (the task was queued by the last decision) are resumed
        with Command(resume=...) right here, so one claim can pass several answered waits."""
        claim = lease.claim
        saver = FencedSaver(
            self.pool, claim.task_id, claim.epoch, consume_resume=claim.has_resume_point
        )
        store = (
            None
            if claim.tenant is None
            else FencedStore(self.pool, claim.task_id, claim.epoch, claim.tenant)
        )
        graph = self.registry.compiled(claim.graph, saver, store)
        agent, replay = await self._pinned(claim)
        limiter = RateLimiter(
            self.pool,
            self.worker_id,
            claim.task_id,
            claim.epoch,
            dict(self.config.provider_keys),
            self.config.model_rate_wait_max_s,
        )
        journal = PgJournal(self.pool, claim.task_id, claim.epoch, self.prices, replay, limiter)
        tools = PgToolRuntime(self.pool, claim.task_id, claim.epoch, self.config.tools, replay)
        nodes = spans.node_tracer()
        config = run_config(claim, journal=journal, agent=agent, tools=tools, nodes=nodes)
        graph_input = await self._first_input(graph, saver, config, claim)
        if graph_input is UPDATE_ONLY:  # a thread's state update: applied, nothing to run
            config = run_config(claim, head=True, journal=journal, agent=agent, tools=tools)
            return RunEnd(values=(await graph.aget_state(config)).values)
        async with attempt_timeout(claim):
            for _ in range(MAX_RESUMES_PER_CLAIM):
                if await self._stream(graph, graph_input, config, lease):
                    return RunEnd(cancelled=True)
                config = run_config(
                    claim, head=True, journal=journal, agent=agent, tools=tools, nodes=nodes
                )
                snapshot = await graph.aget_state(config)
                if not snapshot.interrupts:
                    return RunEnd(values=finished(snapshot))
                answered = await self._answers(claim, snapshot.interrupts)
                if not answered:
                    return RunEnd(waits=[as_wait(i) for i in snapshot.interrupts])
                graph_input = Command(resume=answered)
            raise NonRetryable(f"more than {MAX_RESUMES_PER_CLAIM} answered interrupts")

    async def _pinned(self, claim: Claim) -> tuple[PinnedAgent | None, ReplaySource | None]:
        """The agent version a task submitted to an agent pinned (read once per claim, never
        the agent's current version) and, for a replay, what it replays."""
        if claim.agent is None:
            return None, None
        row = await agents.pinned(self.pool, claim.task_id)
        if row is None:
            raise NonRetryable(f"the agent version task {claim.task_id} pinned is gone")
        agent = PinnedAgent.of(row["name"], row["version"], row["spec"], row["overrides"])
        if row["replay_of"] is None:
            return agent, None
        return agent, ReplaySource(row["replay_of"], row["replay_from_call"])

    async def _run_function(self, lease: Lease, function: TaskFunction) -> RunEnd:
        """Call the function once. A cancel request cancels the call (Lease.request_cancel);
        a lost lease cancels the runner as for a graph, and nothing is written."""
        claim = lease.claim
        if claim.resume_input is not None or claim.resume_patch is not None:
            raise NonRetryable(
                f"{claim.graph!r} is a function task: it has no thread to continue or patch"
            )
        context = TaskContext(claim.task_id, claim.attempt, claim.epoch)
        lease.cancel_at_once = True
        try:
            if lease.cancel_requested.is_set():
                return RunEnd(cancelled=True)
            # A plain `def` runs on its own thread, stopped through the context's event (taken
            # here, before the thread starts); an async function is cancelled and needs none.
            run_sync = (
                None
                if function.is_async
                else functools.partial(self.blocking.run, stop=context.stop)
            )
            if claim.timeout_s is None:
                return RunEnd(values=await function.call(claim.input, context, run_sync))
            async with attempt_timeout(claim):
                return RunEnd(values=await function.call(claim.input, context, run_sync))
        except asyncio.CancelledError:
            runner = asyncio.current_task()
            if lease.cancel_requested.is_set() and not lease.lost.is_set() and runner:
                runner.uncancel()
                return RunEnd(cancelled=True)
            raise
        finally:
            lease.cancel_at_once = False

    async def _first_input(
        self, graph: Any, saver: FencedSaver, config: RunnableConfig, claim: Claim
    ) -> Any:
        """What the claim starts the run with: a follow-up's input, the task's input on a new
        thread, answers to the interrupts the thread waits on, or None (resume)."""
        existing = await saver.aget_tuple(config)
        fresh = existing is None
        if fresh:
            existing = await self._continue_thread(saver, claim)
        else:  # a resumed run: its unfinished steps run again and write their chunks anew
            await stream_chunk.purge(self.pool, claim.task_id, claim.epoch)
        if claim.resume_patch is not None and existing is not None:
            try:
                as_node = state_update_node(claim.input)
                await graph.aupdate_state(config, claim.resume_patch, as_node=as_node)  # fenced
            except InvalidUpdateError as exc:
                raise NonRetryable(f"state_patch cannot be applied here: {exc}") from exc
        if is_state_update(claim.input):
            return UPDATE_ONLY
        if claim.resume_input is not None:
            return claim.resume_input
        if fresh:
            return claim.input
        pending = (await graph.aget_state(config)).interrupts
        answered = await self._answers(claim, pending) if pending else {}
        return Command(resume=answered) if answered else None

    async def _continue_thread(self, saver: FencedSaver, claim: Claim) -> CheckpointTuple | None:
        """A task on a named thread starts from the thread's state (ADR 0018): the head
        checkpoint of the last task before it on the thread is copied, as this task's first
        checkpoint, in a write fenced by this claim. Its LangGraph thread stays its own (the
        task id), so every checkpoint, transcript and fence keeps its one owner."""
        if claim.thread_id is None:
            return None
        before = await thread.previous(self.pool, claim.task_id)
        if before is None:
            return None
        head = await saver.aget_tuple({"configurable": {"thread_id": str(before)}})
        if head is None:
            return None
        target: RunnableConfig = {
            "configurable": {"thread_id": str(claim.task_id), "checkpoint_ns": ""}
        }
        metadata: Any = {**head.metadata, "source": "fork", "outlast_thread_from": str(before)}
        versions = dict(head.checkpoint["channel_versions"])
        await saver.aput_keeping_resume(target, head.checkpoint, metadata, versions)
        return await saver.aget_tuple(target)

    async def _answers(self, claim: Claim, pending: Sequence[Interrupt]) -> dict[str, Any]:
        return await waits.answers(self.pool, claim.task_id, [i.id for i in pending])

    async def _stream(
        self, graph: Any, graph_input: Any, config: RunnableConfig, lease: Lease
    ) -> bool:
        """Stream step by step; True when stopped at a node boundary by a cancel request.
        What nodes write to LangGraph's stream writer is stored as it comes (stream_chunks, the
        LangGraph API's `custom` mode, ADR 0027), each chunk placed after the checkpoint the
        stream announced last: LangGraph announces a checkpoint once it is saved (`durability
        ="sync"`) and before the next step's nodes run, so that is the step the chunk is of."""
        claim = lease.claim
        after: tuple[str, str] | None = None
        async for ns, mode, payload in graph.astream(
            graph_input, config, stream_mode=STREAM_MODES, subgraphs=True, durability="sync"
        ):
            if lease.lost.is_set():
                raise LeaseLost(claim.task_id, claim.epoch)
            if mode == "custom":
                data = dumps_storable(payload, "stream chunk")
                namespace = "|".join(ns)
                await stream_chunk.insert(
                    self.pool,
                    claim.task_id,
                    claim.epoch,
                    namespace=namespace,
                    data_json=data,
                    after=after,
                )
                continue
            if mode == "checkpoints":
                configurable = payload["config"]["configurable"]
                after = (configurable.get("checkpoint_ns", ""), configurable["checkpoint_id"])
                # The run's own checkpoint, saved, and the next step's nodes not run: a node
                # boundary, where a cancel request stops the run.
                if not ns and lease.cancel_requested.is_set():
                    return True
        return False


MAX_RESUMES_PER_CLAIM = 100
# The worker's own stream of a run: the checkpoints as they are saved (node boundaries, where
# a cancel stops it) and what nodes write to the stream writer (the LangGraph API's `custom`).
STREAM_MODES = ["checkpoints", "custom"]
# What _first_input answers for a task that only updates its thread's state.
UPDATE_ONLY = object()


@dataclass(frozen=True)
class RunEnd:
    """How a run stopped: completed with `values` (as storable JSON text in `result_json`),
    cancelled, or waiting on `waits`."""

    values: Any = None
    result_json: str = "null"
    cancelled: bool = False
    waits: list[NewWait] = field(default_factory=list)


ON_TIMEOUT = {"approval": {"fail", "reject"}, "input": {"fail", "default"}}


def as_wait(pending: Interrupt) -> NewWait:
    """A LangGraph interrupt as a wait: which kind, and its timeout and outcome if it set them."""
    payload = to_storable_json(pending.value, "interrupt's value")
    kind = human.wait_kind(payload)
    options = payload if isinstance(payload, dict) else {}
    on_timeout = options.get("on_timeout")
    if on_timeout is not None and on_timeout not in ON_TIMEOUT[kind]:
        allowed = ", ".join(sorted(ON_TIMEOUT[kind]))
        raise NonRetryable(f"on_timeout of an {kind} wait must be one of {allowed}")
    timeout_s = options.get("timeout_s")
    if timeout_s is not None and (not isinstance(timeout_s, int | float) or timeout_s <= 0):
        raise NonRetryable("timeout_s of a wait must be a positive number")
    return NewWait(pending.id, kind, payload, timeout_s, on_timeout)
