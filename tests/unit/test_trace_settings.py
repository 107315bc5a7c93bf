"""When tracing is on (outlast.traces.wanted), what a malformed traceparent gives, and that the
trace context a submit carries is not part of its idempotency comparison."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from db.tasks import NewTask
from outlast import traces
from outlast.settings import Settings


@pytest.mark.parametrize(
    ("otel", "endpoint", "on"),
    [
        ("auto", None, False),
        ("auto", "http://127.0.0.1:4318", True),
        ("off", "http://127.0.0.1:4318", False),
        ("on", None, True),
    ],
)
def test_tracing_is_off_unless_configured(
    monkeypatch: pytest.MonkeyPatch, otel: str, endpoint: str | None, on: bool
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    if endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OUTLAST_OTEL", otel)
    assert traces.wanted(Settings()) is on


def test_the_traces_endpoint_alone_turns_tracing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces")
    assert traces.wanted(Settings())


def test_content_capture_reads_either_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    assert Settings().otel_capture_content
    monkeypatch.setenv("OUTLAST_OTEL_CAPTURE_CONTENT", "false")
    assert not Settings().otel_capture_content  # Outlast's own name wins


def test_off_adds_no_traceparent_and_configure_changes_nothing() -> None:
    assert not traces.enabled()
    assert traces.with_traceparent({"mine": 1}) == {"mine": 1}
    assert not traces.configure(Settings(otel="off"), "outlast-test")
    assert not traces.enabled()


@pytest.mark.parametrize(
    "value", [None, 42, "", "00-garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"]
)
def test_a_missing_or_malformed_traceparent_starts_a_new_trace(value: object) -> None:
    context = traces.parent_of(value)
    assert not trace.get_current_span(context).get_span_context().is_valid


def test_a_valid_traceparent_is_continued() -> None:
    context = traces.parent_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    parent = trace.get_current_span(context).get_span_context()
    assert (parent.trace_id, parent.span_id) == (
        0x4BF92F3577B34DA6A3CE929D0E0E4736,
        0x00F067AA0BA902B7,
    )


def test_the_traceparent_is_not_part_of_the_idempotency_comparison() -> None:
    one = NewTask("pipeline", {"n": 1}, 3, metadata={"a": 1, "traceparent": "00-aa-bb-01"})
    two = NewTask("pipeline", {"n": 1}, 3, metadata={"a": 1, "traceparent": "00-cc-dd-01"})
    other = NewTask("pipeline", {"n": 1}, 3, metadata={"a": 2})
    assert one.request_hash() == two.request_hash() != other.request_hash()
