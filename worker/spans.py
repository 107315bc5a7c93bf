"""The worker's spans (outlast.traces, ADR 0021): one trace per attempt.

    attempt {graph}              claim to outcome write; under the submit's span when the task
      claim                      carries its traceparent, else a trace of its own
      node {name}                one per node run (a LangChain callback on the run)
        chat {model}             outlast.models.call_model (GenAI semantic conventions)
        execute_tool {tool}      outlast.toolcall.call_tool
      checkpoint put             worker/checkpointer.py, each fenced write
      checkpoint put_writes

Built only when tracing is on: the executor asks `traces.enabled()` first, and a run's config
gets the node callback only then.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.callbacks import AsyncCallbackHandler
from langgraph.errors import GraphBubbleUp
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

from outlast import traces
from worker.leases import Lease


@contextmanager
def attempt(lease: Lease, worker_id: uuid.UUID) -> Iterator[Span]:
    """The attempt's span, current while the attempt runs; it starts when the claim was sent."""
    claim = lease.claim
    sent_ns, seen_ns = lease.claimed_ns
    attributes: dict[str, AttributeValue] = {
        "outlast.task.id": str(claim.task_id),
        "outlast.task.attempt": claim.attempt,
        "outlast.task.max_attempts": claim.max_attempts,
        "outlast.graph": claim.graph,
        "outlast.lease.epoch": claim.epoch,
        "outlast.worker.id": str(worker_id),
    }
    if claim.agent is not None:
        attributes["outlast.agent"] = claim.agent
    root = traces.tracer().start_span(
        f"attempt {claim.graph}",
        context=traces.parent_of(claim.traceparent),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        start_time=sent_ns or None,
    )
    if sent_ns:
        claimed = traces.tracer().start_span(
            "claim", context=trace.set_span_in_context(root), start_time=sent_ns
        )
        claimed.end(end_time=seen_ns)
    with trace.use_span(
        root, end_on_exit=True, record_exception=False, set_status_on_exception=False
    ):
        try:
            yield root
        except BaseException as exc:  # a runner crash or a cancel: the task's own errors
            traces.failed(root, exc)  # are recorded, not raised (outlast.attempt.outcome)
            raise


def outcome(name: str) -> None:
    """How the attempt ended, on its span: completed, failed, retrying, cancelled, waiting,
    budget_paused, rate_limited, lease_lost."""
    if traces.enabled():
        trace.get_current_span().set_attribute("outlast.attempt.outcome", name)


class NodeTracer(AsyncCallbackHandler):
    """A span per node run, kept open in the run's NodeSpans (where calls made in the node find
    their parent) from the node's start to its end. LangChain calls these handlers for every
    runnable; a node run is the one named as its `langgraph_node` metadata says."""

    def __init__(self, spans: traces.NodeSpans, root: Span) -> None:
        self.spans = spans
        self.root = trace.set_span_in_context(root)
        self.runs: dict[uuid.UUID, str] = {}  # node runs by LangChain run id: their namespace

    async def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: uuid.UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        metadata = metadata or {}
        node = metadata.get("langgraph_node")
        namespace = str(metadata.get("langgraph_checkpoint_ns") or "")
        if not node or kwargs.get("name") != node or not namespace:
            return
        if namespace in self.spans.open:
            return
        parent = self.spans.context_for(namespace.rpartition("|")[0]) or self.root
        self.spans.open[namespace] = traces.tracer().start_span(
            f"node {node}",
            context=parent,
            attributes={
                "outlast.node": str(node),
                "langgraph.step": int(metadata.get("langgraph_step") or 0),
                "langgraph.checkpoint_ns": namespace,
            },
        )
        self.runs[run_id] = namespace

    async def on_chain_end(self, outputs: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._end(run_id, None)

    async def on_chain_error(
        self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any
    ) -> None:
        self._end(run_id, error)

    def _end(self, run_id: uuid.UUID, error: BaseException | None) -> None:
        namespace = self.runs.pop(run_id, None)
        if namespace is None:
            return
        span = self.spans.open.pop(namespace)
        if isinstance(error, GraphBubbleUp):
            span.set_attribute("outlast.node.interrupted", True)  # waits on a person: no error
        elif error is not None:
            traces.failed(span, error)
        span.end()


def node_tracer() -> NodeTracer | None:
    """The node spans' callback for a run under the current (attempt) span; None untraced."""
    if not traces.enabled():
        return None
    return NodeTracer(traces.NodeSpans(), trace.get_current_span())
