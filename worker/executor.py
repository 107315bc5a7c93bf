"""The executor: runs one claimed task's graph to its next resting point and records how the
attempt ended, with fenced writes only.

- The graph runs as LangGraph thread `task id`, checkpointing through the fenced saver with
  `durability="sync"`, so every node boundary is durable before the next node starts.
- A thread that already has a checkpoint resumes from it (input None): nodes already
  checkpointed do not run again. A redrive's resume point forks from the chosen checkpoint.
- A cancel request stops the run at the next node boundary; a lost lease stops it at once.
- No database transaction is open while a node runs: each checkpoint write is its own short
  transaction.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import uuid
from typing import Any

from langchain_core.runnables import RunnableConfig

from db import outcome
from db.connect import Pool
from db.errors import LeaseLost
from db.lease import Claim
from outlast.context import TaskContext
from outlast.errors import NonRetryable
from outlast.registry import Registry
from worker.checkpointer import FencedSaver
from worker.config import WorkerConfig
from worker.leases import Lease
from worker.results import to_json

log = logging.getLogger(__name__)


class TaskTimeout(Exception):
    """The attempt ran past the task's timeout_s (retryable, like any attempt failure)."""


def compile_graph(graph: Any, saver: FencedSaver) -> Any:
    """A runnable graph that checkpoints through `saver`."""
    if hasattr(graph, "compile"):  # a StateGraph builder
        return graph.compile(checkpointer=saver)
    return graph.copy(update={"checkpointer": saver})  # an already compiled graph


def run_config(claim: Claim) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": str(claim.task_id)}
    configurable.update(TaskContext(claim.task_id, claim.attempt, claim.epoch).as_configurable())
    if claim.resume_checkpoint_id:
        configurable["checkpoint_id"] = claim.resume_checkpoint_id
    return {"configurable": configurable}


def describe_failure(exc: BaseException) -> outcome.Failure:
    return outcome.Failure(
        type=type(exc).__name__,
        message=str(exc) or type(exc).__name__,
        traceback="".join(traceback.format_exception(exc))[-20_000:],
        retryable=not isinstance(exc, NonRetryable),
    )


class Executor:
    def __init__(
        self, pool: Pool, registry: Registry, worker_id: uuid.UUID, config: WorkerConfig
    ) -> None:
        self.pool = pool
        self.registry = registry
        self.worker_id = worker_id
        self.config = config

    async def execute(self, lease: Lease) -> None:
        """Run the task and record its outcome. Never raises for the task's own errors;
        LeaseLost ends the attempt silently (the task belongs to someone else now)."""
        claim = lease.claim
        try:
            await self._run_and_record(lease)
        except LeaseLost:
            log.warning(
                "lease lost; attempt abandoned without writing",
                extra={"task_id": str(claim.task_id), "epoch": claim.epoch},
            )

    async def _run_and_record(self, lease: Lease) -> None:
        claim = lease.claim
        ids = {"task_id": str(claim.task_id), "attempt": claim.attempt}
        try:
            values, cancelled = await self._run_graph(lease)
        except LeaseLost:
            raise
        except Exception as exc:
            log.info("attempt failed", extra={**ids, "error": repr(exc)})
            await self._fail(claim, describe_failure(exc))
            return
        if cancelled:
            await outcome.cancel_ack(self.pool, self.worker_id, claim.task_id, claim.epoch)
            log.info("task cancelled at a node boundary", extra=ids)
            return
        await outcome.complete(
            self.pool, self.worker_id, claim.task_id, claim.epoch, to_json(values)
        )
        log.info("task completed", extra=ids)

    async def _fail(self, claim: Claim, failure: outcome.Failure) -> None:
        state, run_at = await outcome.fail(
            self.pool, self.worker_id, claim.task_id, claim.epoch, failure, self.config.retry
        )
        log.info(
            "attempt recorded",
            extra={"task_id": str(claim.task_id), "state": state, "run_at": run_at.isoformat()},
        )

    async def _run_graph(self, lease: Lease) -> tuple[Any, bool]:
        """Stream the graph node by node; return (final state values, stopped by cancel)."""
        claim = lease.claim
        saver = FencedSaver(
            self.pool,
            claim.task_id,
            claim.epoch,
            consume_resume=claim.resume_checkpoint_id is not None,
        )
        graph = compile_graph(self.registry.load(claim.graph), saver)
        config = run_config(claim)
        resuming = await saver.aget_tuple(config) is not None
        try:
            async with asyncio.timeout(claim.timeout_s) as deadline:
                async for _update in graph.astream(
                    None if resuming else claim.input,
                    config,
                    stream_mode="updates",
                    durability="sync",
                ):
                    if lease.lost.is_set():
                        raise LeaseLost(claim.task_id, claim.epoch)
                    if lease.cancel_requested.is_set():
                        return None, True
        except TimeoutError as exc:
            if deadline.expired():
                raise TaskTimeout(
                    f"attempt {claim.attempt} ran past timeout_s={claim.timeout_s}"
                ) from exc
            raise
        head = {"configurable": {"thread_id": str(claim.task_id)}}
        snapshot = await graph.aget_state(head)
        if snapshot.next:
            interrupts = [i.value for t in snapshot.tasks for i in t.interrupts]
            raise NonRetryable(
                f"the graph paused for a human ({interrupts!r}); human-in-the-loop waits "
                "are not supported by this version"
            )
        return snapshot.values, False
