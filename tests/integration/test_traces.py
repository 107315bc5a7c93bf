"""OpenTelemetry traces (issue 16, item 3; ADR 0021), with the SDK's in-memory exporter: a task
submitted through the API with a caller's `traceparent` and run by a worker's claimer and
executor (in process, on the API's event loop) gives one trace: the API's request span under the
caller's, the attempt's span under the request's, and under the attempt the claim, a span per
node and per checkpoint write; under the node, the model call (GenAI attributes, its cost) and
the tool call. A canary provider key, prompt, answer and tool argument are in no span unless
content capture is on (and the key not even then), nor in a failed call's span (its type
only). A node parked on a person is no error. Tracing off, nothing is recorded and the task's
metadata is left as submitted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracer, SpanKind, StatusCode

from db import workers
from db.connect import Pool
from outlast import traces
from outlast.registry import Registry
from tests.support.api import api_client, on_app_loop
from tests.support.fake_llm import OPENAI, FakeLLM, Fault, Reply
from worker.claimer import Claimer
from worker.completions import Completions
from worker.config import WorkerConfig
from worker.executor import Executor
from worker.leases import Leases

GRAPHS = "tooled=tests.support.tooled:tooled,review=tests.support.graphs:review"
PROVIDER_KEY = f"sk-canary-{uuid.uuid4().hex}"
PROMPT = f"canary-prompt-{uuid.uuid4().hex}"
ANSWER = f"canary-answer-{uuid.uuid4().hex}"
ARGUMENT = f"canary-argument-{uuid.uuid4().hex}"
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on, every span kept in memory; off again after the test."""
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    traces.use(provider)
    try:
        yield exported
    finally:
        traces.use(None)
        provider.shutdown()


@pytest.fixture
def client(db_url: str, fake: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("OPENAI_API_KEY", PROVIDER_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
    fake.script(OPENAI, Reply(text=ANSWER, input_tokens=10, output_tokens=5))
    with api_client(db_url, graphs=GRAPHS) as api:
        yield api


def task_body(tmp_path: Path) -> dict[str, Any]:
    log = str(tmp_path / "effects.log")
    call = {"tool": "effect_idem", "arguments": {"log": log, "note": ARGUMENT}}
    return {"graph": "tooled", "input": {"question": PROMPT, "calls": [call]}}


def run_worker(client: TestClient, tmp_path: Path) -> None:
    """One claim by a worker's claimer, its runner awaited: the attempt, start to outcome."""
    prices = tmp_path / "prices.toml"
    prices.write_text('[openai."gpt-test"]\ninput = 2\noutput = 10\n')
    config = WorkerConfig(concurrency=1, prices_file=prices)

    async def work(pool: Pool) -> None:
        worker_id = uuid.uuid4()
        await workers.register(
            pool, worker_id, hostname="test", pid=1, concurrency=1, graphs=["tooled", "review"]
        )
        executor = Executor(
            pool, Registry.from_spec(GRAPHS), worker_id, config, Completions(pool, worker_id)
        )
        leases = Leases(ttl_s=config.lease_ttl_s)
        claimer = Claimer(
            pool,
            worker_id,
            leases,
            config,
            executor.execute,
            wakeup=asyncio.Event(),
            graphs=["tooled", "review"],
        )
        assert await claimer.run_once() == 1
        (held,) = leases.held.values()
        assert held.runner is not None
        await held.runner

    on_app_loop(client, work)


def by_name(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def one(spans: tuple[ReadableSpan, ...], prefix: str) -> ReadableSpan:
    (found,) = by_name(spans, prefix)
    return found


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def everything_in(span: ReadableSpan) -> str:
    """Every text a span carries: name, attributes, events, links, status, resource."""
    parts: list[Any] = [span.name, dict(span.attributes or {}), span.status.description]
    parts += [(e.name, dict(e.attributes or {})) for e in span.events]
    parts += [dict(link.attributes or {}) for link in span.links]
    parts.append(dict(span.resource.attributes))
    return repr(parts)


def test_one_trace_from_the_submit_to_each_call(
    client: TestClient, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    submitted = client.post("/v1/tasks", json=task_body(tmp_path), headers={
        "traceparent": TRACEPARENT
    })  # fmt: skip
    assert submitted.status_code == 201, submitted.text
    run_worker(client, tmp_path)
    task = client.get(f"/v1/tasks/{submitted.json()['id']}").json()
    assert task["state"] == "completed", task
    spans = exporter.get_finished_spans()

    request = one(spans, "POST /v1/tasks")
    assert request.kind == SpanKind.SERVER
    assert request.context.trace_id == int(CALLER_TRACE, 16)  # the caller's trace
    assert parent_id(request) == int(CALLER_SPAN, 16)
    assert request.attributes["http.route"] == "/v1/tasks"
    assert request.attributes["http.response.status_code"] == 201
    # The task carries the request's span as its traceparent.
    assert task["metadata"] == {
        "traceparent": f"00-{CALLER_TRACE}-{request.context.span_id:016x}-01"
    }

    attempt = one(spans, "attempt tooled")
    assert attempt.kind == SpanKind.CONSUMER
    assert attempt.context.trace_id == int(CALLER_TRACE, 16)
    assert parent_id(attempt) == request.context.span_id  # joined to the submit's trace
    assert attempt.attributes["outlast.task.id"] == task["id"]
    assert attempt.attributes["outlast.task.attempt"] == 1
    assert attempt.attributes["outlast.attempt.outcome"] == "completed"
    under_attempt = {s.name for s in spans if parent_id(s) == attempt.context.span_id}
    assert {"claim", "node act", "checkpoint put", "checkpoint put_writes"} <= under_attempt
    others = {s.name for s in spans if s.context.trace_id != int(CALLER_TRACE, 16)}
    assert others == {"GET /v1/tasks/{task_id}"}  # the test's read, a request of its own

    node = one(spans, "node act")
    model = one(spans, "chat gpt-test")
    tool = one(spans, "execute_tool effect_idem")
    assert parent_id(model) == node.context.span_id
    assert parent_id(tool) == node.context.span_id
    assert model.kind == SpanKind.CLIENT
    assert model.attributes["gen_ai.operation.name"] == "chat"
    assert model.attributes["gen_ai.provider.name"] == "openai"
    assert model.attributes["gen_ai.system"] == "openai"
    assert model.attributes["gen_ai.request.model"] == "gpt-test"
    assert model.attributes["gen_ai.response.model"] == "gpt-test"
    assert model.attributes["gen_ai.usage.input_tokens"] == 10
    assert model.attributes["gen_ai.usage.output_tokens"] == 5
    assert model.attributes["outlast.cost_usd"] == pytest.approx((10 * 2 + 5 * 10) / 1e6)
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "effect_idem"
    assert tool.attributes["outlast.tool.reused"] is False
    assert tool.status.status_code != StatusCode.ERROR

    # No secret and no content in any span.
    for span in spans:
        text = everything_in(span)
        for canary in (PROVIDER_KEY, PROMPT, ANSWER, ARGUMENT):
            assert canary not in text, (span.name, canary)


def test_content_capture_puts_messages_in_spans_but_never_the_key(
    client: TestClient, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    traces._state.capture = True  # as OUTLAST_OTEL_CAPTURE_CONTENT=true does
    assert client.post("/v1/tasks", json=task_body(tmp_path)).status_code == 201
    run_worker(client, tmp_path)
    spans = exporter.get_finished_spans()
    model = one(spans, "chat gpt-test")
    assert PROMPT in model.attributes["gen_ai.input.messages"]
    assert ANSWER in model.attributes["gen_ai.output.messages"]
    tool = one(spans, "execute_tool effect_idem")
    assert ARGUMENT in tool.attributes["gen_ai.tool.call.arguments"]
    # Without a caller's traceparent the request starts the trace; the attempt still joins it.
    request = one(spans, "POST /v1/tasks")
    assert request.parent is None
    assert parent_id(one(spans, "attempt tooled")) == request.context.span_id
    assert not any(PROVIDER_KEY in everything_in(s) for s in spans)


def test_a_retried_submit_with_a_new_traceparent_is_the_same_request(
    client: TestClient, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    body = task_body(tmp_path)
    first = client.post("/v1/tasks", json=body, headers={"Idempotency-Key": "k"})
    again = client.post("/v1/tasks", json=body, headers={"Idempotency-Key": "k"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]


def test_off_records_nothing_and_leaves_the_metadata_alone(
    client: TestClient, tmp_path: Path
) -> None:
    assert not traces.enabled()
    assert isinstance(traces.tracer(), NoOpTracer)
    submitted = client.post(
        "/v1/tasks", json={**task_body(tmp_path), "metadata": {"mine": 1}},
        headers={"traceparent": TRACEPARENT},
    )  # fmt: skip
    run_worker(client, tmp_path)
    task = client.get(f"/v1/tasks/{submitted.json()['id']}").json()
    assert task["state"] == "completed"
    assert task["metadata"] == {"mine": 1}


def test_a_node_waiting_on_a_person_is_no_error(
    client: TestClient, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    submitted = client.post("/v1/tasks", json={"graph": "review"})
    run_worker(client, tmp_path)
    task = client.get(f"/v1/tasks/{submitted.json()['id']}").json()
    assert task["state"] == "waiting_for_approval"
    spans = exporter.get_finished_spans()
    attempt = one(spans, "attempt review")
    assert attempt.attributes["outlast.attempt.outcome"] == "waiting"
    nodes = by_name(spans, "node ")
    assert sorted(n.name for n in nodes) == ["node finance", "node legal"]
    for node in nodes:
        assert parent_id(node) == attempt.context.span_id
        assert node.attributes["outlast.node.interrupted"] is True
        assert node.status.status_code != StatusCode.ERROR


def test_a_failed_model_call_is_recorded_by_its_type_not_its_message(
    client: TestClient, exporter: InMemorySpanExporter, tmp_path: Path, fake: FakeLLM
) -> None:
    fake.reset()
    fake.script(OPENAI, Fault(400, message=f"we refuse {PROMPT}"))
    submitted = client.post("/v1/tasks", json=task_body(tmp_path))
    run_worker(client, tmp_path)
    task = client.get(f"/v1/tasks/{submitted.json()['id']}").json()
    assert task["state"] in ("queued", "failed")
    spans = exporter.get_finished_spans()
    model = one(spans, "chat gpt-test")
    assert model.status.status_code == StatusCode.ERROR
    assert model.attributes["error.type"] == "ModelRejected"
    assert one(spans, "node act").status.status_code == StatusCode.ERROR
    attempt = one(spans, "attempt tooled")
    assert attempt.attributes["outlast.attempt.outcome"] in ("retrying", "failed")
    for span in spans:
        assert PROMPT not in everything_in(span), span.name
