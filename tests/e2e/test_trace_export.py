"""Traces leave real processes over OTLP/HTTP (issue 16, item 3): an API process and a worker
process with OTEL_EXPORTER_OTLP_ENDPOINT pointed at a loopback OTLP receiver started here. A
submit carrying a caller's traceparent comes back as one trace: the API's request span (service
outlast-api) and the worker's attempt, node, model-call and tool-call spans (service
outlast-worker). The canary provider key and prompt are in nothing the receiver got."""

from __future__ import annotations

import gzip
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.api import free_port
from tests.support.fake_llm import OPENAI, FakeLLM, Reply
from tests.support.keys import AUTH
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

GRAPHS = TEST_ENV["OUTLAST_GRAPHS"] + ",tooled=tests.support.tooled:tooled"
PROVIDER_KEY = f"sk-canary-{uuid.uuid4().hex}"
PROMPT = f"canary-prompt-{uuid.uuid4().hex}"
TRACE_ID = uuid.uuid4().hex
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP traces endpoint that keeps every export request it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.exports: list[ExportTraceServiceRequest] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def spans(self) -> list[tuple[str, Any]]:
        """(service name, span) of every span received so far."""
        with self.lock:
            exports = list(self.exports)
        found = []
        for export in exports:
            for resource_spans in export.resource_spans:
                attributes = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }
                for scope in resource_spans.scope_spans:
                    found += [(attributes.get("service.name"), s) for s in scope.spans]
        return found


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        with self.server.lock:
            self.server.exports.append(export)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_processes_export_one_trace_per_attempt_over_otlp(
    processes: Processes, receiver: Receiver, fake: FakeLLM, tmp_path: Path
) -> None:
    env = {
        "OUTLAST_GRAPHS": GRAPHS,
        "OPENAI_API_KEY": PROVIDER_KEY,
        "OPENAI_BASE_URL": f"{fake.url}/v1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within a tenth of a second
    }
    fake.script(OPENAI, Reply("the answer"))
    port = free_port()
    processes.api(port, **env)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _up(base), 60, message="the API process")
    processes.worker(concurrency=1, **env)
    call = {"tool": "effect_idem", "arguments": {"log": str(tmp_path / "effects.log")}}
    body = {"graph": "tooled", "input": {"question": PROMPT, "calls": [call]}}
    submitted = httpx.post(
        f"{base}/v1/tasks", json=body, headers={**AUTH, "traceparent": TRACEPARENT}, timeout=30
    )
    assert submitted.status_code == 201, submitted.text

    def names() -> set[tuple[str, str]]:
        trace_id = bytes.fromhex(TRACE_ID)
        return {(svc, s.name) for svc, s in receiver.spans() if s.trace_id == trace_id}

    expected = {
        ("outlast-api", "POST /v1/tasks"),
        ("outlast-worker", "attempt tooled"),
        ("outlast-worker", "claim"),
        ("outlast-worker", "node act"),
        ("outlast-worker", "chat gpt-test"),
        ("outlast-worker", "execute_tool effect_idem"),
        ("outlast-worker", "checkpoint put"),
    }
    wait_until(lambda: expected <= names(), 60, message="the trace exported")
    with receiver.lock:
        received = "".join(str(export) for export in receiver.exports)
    assert PROVIDER_KEY not in received
    assert PROMPT not in received
