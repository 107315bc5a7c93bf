"""The request-body guard on its own: JSON checks as pure functions, and the ASGI middleware
driven with hand-made messages (so chunking and early stops are exact)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from api import json_guard
from api.body import BodyGuard


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{}", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'{"a": "[[[{{{"}', 1),
        (b'{"a": "quote \\" then [[["}', 1),
        (b'{"a": "backslash \\\\", "b": [[]]}', 3),
        (b"[" * 50 + b"]" * 50, 50),
    ],
)
def test_depth_ignores_brackets_in_strings(body: bytes, expected: int) -> None:
    assert json_guard.depth(body) == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, True),
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("application/merge-patch+json", True),
        ("text/plain", False),
        ("multipart/form-data; boundary=x", False),
    ],
)
def test_is_json(content_type: str | None, expected: bool) -> None:
    assert json_guard.is_json(content_type) is expected


def test_inspect_names_the_path_of_the_first_bad_value() -> None:
    body = json.dumps({"input": {"list": [{"ok": 1}, {"bad": "x\x00"}]}}).encode()
    violation = json_guard.inspect(body, "application/json", 32)
    assert violation is not None
    assert (violation.status, violation.field, violation.rule) == (
        422,
        "body.input.list.1.bad",
        "no_nul_character",
    )


def test_inspect_accepts_clean_json_at_the_depth_limit() -> None:
    value: Any = 1
    for _ in range(31):
        value = {"a": value}
    assert json_guard.inspect(json.dumps(value).encode(), None, 31) is None
    assert json_guard.inspect(json.dumps({"x": value}).encode(), None, 31) is not None


class Recorder:
    """A downstream app that records what it received."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.called = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        message = await receive()
        self.bodies.append(message["body"])
        assert message["more_body"] is False
        assert (await receive())["type"] == "http.disconnect"
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def scope(headers: dict[str, str]) -> Scope:
    return {
        "type": "http",
        "method": "POST",
        "path": "/v1/tasks",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }


async def drive(
    guard: BodyGuard, headers: dict[str, str], chunks: list[bytes]
) -> tuple[list[Message], int]:
    """Run one request; returns the messages sent and how many chunks the guard consumed."""
    queue: list[Message] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    queue.append({"type": "http.disconnect"})
    consumed = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal consumed
        consumed += 1
        return queue.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await guard(scope(headers), receive, send)
    return sent, consumed


async def test_streamed_body_stops_reading_at_the_cap() -> None:
    app = Recorder()
    guard = BodyGuard(app, max_bytes=10, max_depth=8)
    sent, consumed = await drive(guard, {}, [b"12345", b"67890", b"1", b"never", b"read"])
    assert sent[0]["status"] == 413 and not app.called
    assert consumed == 3  # stopped at the chunk that crossed 10 bytes
    problem = json.loads(sent[1]["body"])
    assert problem["errors"][0] == {
        "field": "body",
        "rule": "max_bytes",
        "message": "the body is larger than 10 bytes",
    }


async def test_declared_length_is_refused_before_reading() -> None:
    app = Recorder()
    guard = BodyGuard(app, max_bytes=10, max_depth=8)
    sent, consumed = await drive(guard, {"content-length": "11"}, [b"x" * 11])
    assert sent[0]["status"] == 413 and consumed == 0 and not app.called


async def test_body_within_the_cap_is_replayed_whole() -> None:
    app = Recorder()
    guard = BodyGuard(app, max_bytes=100, max_depth=8)
    sent, _ = await drive(guard, {"content-type": "application/json"}, [b'{"a":', b" [1, 2]}"])
    assert app.bodies == [b'{"a": [1, 2]}'] and sent[0]["status"] == 204


async def test_json_violation_answers_problem_json() -> None:
    app = Recorder()
    guard = BodyGuard(app, max_bytes=100, max_depth=8)
    sent, _ = await drive(guard, {}, [b'{"a": NaN}'])
    assert sent[0]["status"] == 422 and not app.called
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["errors"][0]["field"] == "body.a"


async def test_client_gone_mid_body_calls_nothing() -> None:
    app = Recorder()
    guard = BodyGuard(app, max_bytes=100, max_depth=8)
    sent: list[Message] = []
    messages: list[Message] = [
        {"type": "http.request", "body": b"{", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await guard(scope({}), receive, send)
    assert sent == [] and not app.called


@pytest.mark.parametrize("length", [b"\xb2", b"\xb9\xb2", b"1\xb2", b"-1", b"1e3"])
async def test_content_length_that_is_no_ascii_number_is_not_trusted(length: bytes) -> None:
    # b'\xb2' decodes (latin-1) to '²', which str.isdigit() accepts and int() refuses: a 500.
    app = Recorder()
    guard = BodyGuard(app, max_bytes=100, max_depth=8)
    sent: list[Message] = []
    queue: list[Message] = [
        {"type": "http.request", "body": b"{}", "more_body": False},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return queue.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    request = {**scope({}), "headers": [(b"content-length", length)]}
    await guard(request, receive, send)
    assert sent[0]["status"] == 204 and app.bodies == [b"{}"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [((), ""), (("input", "x"), "/input/x"), (("a/b", "c~d", 0), "/a~1b/c~0d/0")],
)
def test_pointer_escapes_slash_and_tilde(path: tuple[str | int, ...], expected: str) -> None:
    assert json_guard.pointer(path) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"n": 2**63 - 1, "m": -(2**63), "f": 1.5, "s": "text", "l": [None, True, {"k": []}]},
        {"n": 2**63},
        {"n": [-(2**63) - 1]},
        {"s": "a\x00"},
        {"k\x00": 1},
    ],
)
def test_the_openapi_json_value_schema_agrees_with_the_guard(value: Any) -> None:
    import jsonschema

    schema = {**json_guard.JSON_VALUE, "$defs": {"JsonValue": json_guard.JSON_VALUE}}
    schema = json.loads(json.dumps(schema).replace("#/components/schemas/", "#/$defs/"))
    valid = jsonschema.Draft202012Validator(schema).is_valid(value)
    assert valid is (json_guard.first_bad_value(value) is None)
