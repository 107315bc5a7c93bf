"""OpenTelemetry traces (docs/howto/observability.md, ADR 0021).

Off unless configured: with OUTLAST_OTEL=auto (the default) a process traces only when
OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Off, `tracer()` is
OpenTelemetry's no-op tracer, the SDK is not even imported, and every call site asks `enabled()`
before it builds a span or its attributes: tracing costs the hot path one boolean read.

On, the worker traces one attempt per claim (worker/spans.py): a root span from the claim to the
outcome write, with a child per node, model call (the GenAI semantic conventions), tool call and
checkpoint write. The API's request span for a submit is written into the task's metadata as a
W3C `traceparent`; the worker starts the attempt's span under it, so the task's attempts join the
submitting request's trace.

Nothing secret, and no prompt, response, tool argument or result, goes into a span unless the
operator turns content capture on (OUTLAST_OTEL_CAPTURE_CONTENT, or OpenTelemetry's own
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). Exceptions are recorded by type only: a
provider's error message may quote the prompt.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NoOpTracer, Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from outlast import __version__
from outlast.settings import Settings

# The task metadata key that carries the submitting request's trace context (W3C traceparent).
TRACEPARENT = "traceparent"
# Where the worker puts the run's open node spans in a node's configurable (NodeSpans).
SPANS_KEY = "outlast_spans"

_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass
class _State:
    tracer: Tracer = field(default_factory=NoOpTracer)
    on: bool = False
    capture: bool = False


_state = _State()


def enabled() -> bool:
    """Whether this process traces; call sites build nothing when it does not."""
    return _state.on


def capture_content() -> bool:
    """Whether prompts, responses, tool arguments and results may go into spans."""
    return _state.on and _state.capture


def tracer() -> Tracer:
    return _state.tracer


def wanted(settings: Settings) -> bool:
    """OUTLAST_OTEL: `on`, `off`, or `auto` (on when a collector's endpoint is set)."""
    if settings.otel == "auto":
        return bool(settings.otel_exporter_otlp_endpoint)
    return settings.otel == "on"


def configure(settings: Settings, service: str) -> bool:
    """Start exporting this process's spans over OTLP/HTTP when `wanted`; True if it does. The
    exporter reads the OTEL_EXPORTER_OTLP_* variables itself (endpoint, headers, timeout), and
    the resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; `service` is the name when
    OTEL_SERVICE_NAME is unset. Spans still queued are flushed at exit (the SDK's atexit).
    Not wanted, it changes nothing (a test's `use` stays)."""
    if not wanted(settings):
        return False
    if _state.on:
        return True  # configured already (an API app built twice in one process)
    # Imported here: a process that does not trace never loads the SDK.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    use(provider, capture=settings.otel_capture_content)
    return True


def use(provider: trace.TracerProvider | None, *, capture: bool = False) -> None:
    """Trace to `provider` (None: stop tracing). Tests pass one with an in-memory exporter."""
    if provider is None:
        _state.tracer, _state.on, _state.capture = NoOpTracer(), False, False
        return
    _state.tracer = provider.get_tracer("outlast", __version__)
    _state.on, _state.capture = True, capture


def traceparent() -> str | None:
    """The current span's context as a W3C traceparent, when tracing and a span is current."""
    if not _state.on:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def with_traceparent(metadata: dict[str, Any]) -> dict[str, Any]:
    """A submit's metadata with the request's trace context added (unless the caller gave one
    or tracing is off): the task's attempts then join the request's trace."""
    if not _state.on or TRACEPARENT in metadata:
        return metadata
    current = traceparent()
    return metadata if current is None else {**metadata, TRACEPARENT: current}


def parent_of(value: object, tracestate: str | None = None) -> Context:
    """The context a span continues: under the span a valid W3C `traceparent` names (a task's
    submitting request, an API caller's), else a new trace."""
    if not isinstance(value, str):
        return Context()
    carrier = {TRACEPARENT: value}
    if tracestate:
        carrier["tracestate"] = tracestate
    context = _PROPAGATOR.extract(carrier)
    if not trace.get_current_span(context).get_span_context().is_valid:
        return Context()
    return context


class NodeSpans:
    """The open spans of one attempt's nodes, by their LangGraph checkpoint namespace (`node:task
    id`, a subgraph's node prefixed with its parents'): a model or tool call made in a node finds
    its parent here from the node's config, whichever asyncio task the node runs in."""

    def __init__(self) -> None:
        self.open: dict[str, Span] = {}

    def context_for(self, namespace: str) -> Context | None:
        while namespace:
            span = self.open.get(namespace)
            if span is not None:
                return trace.set_span_in_context(span)
            namespace = namespace.rpartition("|")[0]  # a subgraph's node: its parent node
        return None


def node_context(config: Any) -> Context | None:
    """The context of the node a call is made in (its span as parent), from the node's
    RunnableConfig; None (the current context) outside a traced run."""
    config = config or {}
    spans = (config.get("configurable") or {}).get(SPANS_KEY)
    if not isinstance(spans, NodeSpans):
        return None
    metadata = config.get("metadata") or {}
    return spans.context_for(str(metadata.get("langgraph_checkpoint_ns") or ""))


@contextmanager
def span(
    name: str,
    *,
    context: Context | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
    not_failures: tuple[type[BaseException], ...] = (),
) -> Iterator[Span]:
    """A current span that records a failure by its exception's type only (`error.type`): the
    message may quote content. Exceptions of `not_failures` (control flow, as a LangGraph
    interrupt) end it without an error."""
    with _state.tracer.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except not_failures:
            raise
        except BaseException as exc:
            failed(current, exc)
            raise


def failed(current: Span, exc: BaseException) -> None:
    """Mark `current` failed with `exc`'s type; its message only when content is captured."""
    current.set_attribute("error.type", type(exc).__qualname__)
    current.set_status(Status(StatusCode.ERROR, str(exc)[:500] if capture_content() else None))


def content(value: Any) -> str:
    """Captured content as one attribute value: JSON text (long values are cut)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text[:CONTENT_MAX_CHARS]


# The longest captured content attribute; collectors refuse very large spans.
CONTENT_MAX_CHARS = 16_000


def add_cost(micro_usd: int | None) -> None:
    """Put a model call's cost on the current span (the call's, made by call_model)."""
    if _state.on and micro_usd is not None:
        trace.get_current_span().set_attribute("outlast.cost_usd", micro_usd / 1_000_000)
