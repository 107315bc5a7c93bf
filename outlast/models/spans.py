"""A model call's span (outlast.traces), after OpenTelemetry's GenAI semantic conventions: named
`chat {request model}`, kind CLIENT, with `gen_ai.operation.name`, `gen_ai.provider.name` (and the
older `gen_ai.system`), `gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.*` and
`gen_ai.response.finish_reasons`; the cost as `outlast.cost_usd` (set by the worker's journal,
which prices the call). One span per `call_model`: a failover's answer names the provider and
model that served it. The messages (`gen_ai.input.messages`, `gen_ai.output.messages`) only
when content capture is on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from outlast import traces
from outlast.models.failover import ModelChain
from outlast.models.messages import ModelRequest, ModelResponse

OPERATION = "chat"


@contextmanager
def model_span(config: Any, request: ModelRequest, chain: ModelChain) -> Iterator[Span]:
    """The call's span, current while it runs, under the node it is made in."""
    first = chain.links[0].ref
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.provider.name": first.provider,
        "gen_ai.system": first.provider,
        "gen_ai.request.model": first.model,
        "gen_ai.request.max_tokens": request.params.max_tokens,
    }
    if request.params.temperature is not None:
        attributes["gen_ai.request.temperature"] = request.params.temperature
    if len(chain.links) > 1:
        attributes["outlast.model.chain"] = [str(link.ref) for link in chain.links]
    if traces.capture_content():
        messages = [m.model_dump(mode="json") for m in request.messages]
        attributes["gen_ai.input.messages"] = traces.content(messages)
        if request.tools:
            tools = [t.model_dump(mode="json") for t in request.tools]
            attributes["gen_ai.tool.definitions"] = traces.content(tools)
    with traces.span(
        f"{OPERATION} {first.model}",
        context=traces.node_context(config),
        kind=SpanKind.CLIENT,
        attributes=attributes,
    ) as span:
        yield span


def responded(span: Span, response: ModelResponse) -> None:
    """What came back: who served it, the tokens, why it stopped (and its text when captured)."""
    usage = response.usage
    span.set_attributes(
        {
            "gen_ai.provider.name": response.provider,
            "gen_ai.system": response.provider,
            "gen_ai.response.model": response.model,
            "gen_ai.usage.input_tokens": usage.input_tokens,
            "gen_ai.usage.output_tokens": usage.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": usage.cache_read_tokens,
            "gen_ai.usage.cache_creation.input_tokens": usage.cache_write_tokens,
            "gen_ai.response.finish_reasons": [response.raw_stop_reason or response.stop_reason],
            "outlast.model.latency_ms": response.latency_ms,
        }
    )
    if traces.capture_content():
        output: dict[str, Any] = {"role": "assistant", "content": response.content}
        if response.tool_calls:
            output["tool_calls"] = [c.model_dump(mode="json") for c in response.tool_calls]
        span.set_attribute("gen_ai.output.messages", traces.content([output]))


def recorded() -> None:
    """The journal had the answer (a re-run after a crash, or a replay): no request was made."""
    if traces.enabled():
        trace.get_current_span().set_attribute("outlast.model.reused", True)
