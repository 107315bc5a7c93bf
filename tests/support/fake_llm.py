"""A fake model server on 127.0.0.1 for tests: it speaks Anthropic's Messages API
(`POST /v1/messages`) and OpenAI's Chat Completions (`POST /v1/chat/completions`), plain and
streamed, well enough for the official SDKs pointed at it with `base_url`. Nothing leaves the
machine.

Each API has a script, a queue of what to do with its next requests: `Reply` (text, tool calls
whose arguments are JSON text, so they can be malformed, and usage), `Fault` (a status with an
optional Retry-After), `Hang` (answer nothing until the server stops: longer than any client
timeout), `Drop` (close the connection without an answer). An empty script replies "hello".
Every request is recorded with its arrival time (`time.monotonic()`), so tests count attempts and
measure the gap between them.

A requests-per-minute limit (`limit_rpm(api, n)`) makes it count each API's requests and answer
429, with a Retry-After, to any request past the limit, before its script is consulted: like
the providers, it replenishes continuously (a bucket of `n` requests refilled at `n` a minute,
full at first); `rate_limited` counts those 429s.

It is a raw asyncio HTTP/1.1 server in a thread (one request per connection, `Connection:
close`), because dropping a connection mid-request is beyond what an ASGI app can do.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ANTHROPIC = "anthropic"
OPENAI = "openai"
PATHS = {"/v1/messages": ANTHROPIC, "/v1/chat/completions": OPENAI}


@dataclass(frozen=True)
class Reply:
    text: str = "hello"
    tool_calls: tuple[tuple[str, str], ...] = ()  # (name, arguments as JSON text)
    input_tokens: int = 10  # uncached input, as Anthropic counts it
    output_tokens: int = 5
    cache_read: int = 0
    cache_write: int = 0  # Anthropic only; OpenAI reports no cache writes


@dataclass(frozen=True)
class Fault:
    """An error answer. With `in_stream`, a streamed request gets 200 and the error arrives
    as an event after the stream began, as providers do when they fail mid-answer."""

    status: int
    retry_after: str | None = None
    message: str = "scripted fault"
    in_stream: bool = False


@dataclass(frozen=True)
class Hang:
    pass


@dataclass(frozen=True)
class Drop:
    """Close the connection without an answer; or, for a stream, after `after_events` events
    of a `Reply(text)`: abruptly (a connection lost halfway), or with `clean=True` by ending
    the HTTP body properly, as a server that gave up would, with the stream's own end missing."""

    after_events: int = 0
    text: str = "cut short halfway"
    clean: bool = False


Step = Reply | Fault | Hang | Drop


@dataclass(frozen=True)
class Received:
    api: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class FakeLLM:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, deque[Step]] = field(
        default_factory=lambda: {ANTHROPIC: deque(), OPENAI: deque()}
    )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    rpm: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    limited_at: list[float] = field(default_factory=list)  # when each 429 was answered
    _levels: dict[str, tuple[float, float]] = field(default_factory=dict)  # (level, at)

    def limit_rpm(self, api: str, requests_per_minute: int) -> None:
        """Answer 429 past `requests_per_minute` on `api` (a bucket, full from now)."""
        self.rpm[api] = requests_per_minute
        self._levels[api] = (float(requests_per_minute), time.monotonic())

    def _over_limit(self, api: str) -> float | None:
        """None when the request fits the API's limit (and takes one from it); else the
        seconds until it would."""
        limit = self.rpm.get(api)
        if limit is None:
            return None
        level, at = self._levels[api]
        now = time.monotonic()
        level = min(float(limit), level + (now - at) * limit / 60.0)
        if level >= 1.0:
            self._levels[api] = (level - 1.0, now)
            return None
        self._levels[api] = (level, now)
        return (1.0 - level) * 60.0 / limit

    def script(self, api: str, *steps: Step) -> None:
        self.scripts[api].extend(steps)

    def requests(self, api: str) -> list[Received]:
        return [r for r in self.received if r.api == api]

    def reset(self) -> None:
        self.received.clear()
        for queue in self.scripts.values():
            queue.clear()

    # -- the server ---------------------------------------------------------------------------

    def start(self) -> None:
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake model server did not start")

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stopping.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            path, headers, body = await _read_request(reader)
            api = PATHS.get(path)
            if api is None:
                await _write(writer, 404, {"error": {"message": f"no route {path}"}})
                return
            self.received.append(Received(api, path, body, headers, time.monotonic()))
            wait = self._over_limit(api)
            if wait is not None:
                self.rate_limited += 1
                self.limited_at.append(time.monotonic())
                fault = Fault(429, str(math.ceil(wait)), "rate limit exceeded")
                await _write(writer, 429, _error(api, fault), {"retry-after": str(math.ceil(wait))})
                return
            step = self.scripts[api].popleft() if self.scripts[api] else Reply()
            await self._answer(writer, api, body, step)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(
        self, writer: asyncio.StreamWriter, api: str, body: dict[str, Any], step: Step
    ) -> None:
        if isinstance(step, Drop) and step.after_events and body.get("stream"):
            render = _anthropic_events if api == ANTHROPIC else _openai_chunks
            events = list(render(Reply(text=step.text), body))[: step.after_events]
            await _write_sse(writer, iter(events), end=step.clean)
            writer.transport.abort()
        elif isinstance(step, Drop):
            writer.transport.abort()
        elif isinstance(step, Hang):
            await self._stopping.wait()
            writer.transport.abort()
        elif isinstance(step, Fault) and step.in_stream and body.get("stream"):
            await _write_sse(writer, _stream_fault(api, step, body))
        elif isinstance(step, Fault):
            headers = {"retry-after": step.retry_after} if step.retry_after else {}
            await _write(writer, step.status, _error(api, step), headers)
        elif body.get("stream"):
            render = _anthropic_events if api == ANTHROPIC else _openai_chunks
            await _write_sse(writer, render(step, body))
        else:
            render = _anthropic_message if api == ANTHROPIC else _openai_completion
            await _write(writer, 200, render(step, body))


# -- HTTP -------------------------------------------------------------------------------------


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], dict[str, Any]]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    _, path, _ = head[0].split(" ", 2)
    headers = {}
    for line in head[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    raw = await reader.readexactly(int(headers.get("content-length", "0")))
    return path.split("?")[0], headers, json.loads(raw) if raw else {}


async def _write(
    writer: asyncio.StreamWriter,
    status: int,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    data = json.dumps(payload).encode()
    lines = [
        f"HTTP/1.1 {status} X",
        "content-type: application/json",
        f"content-length: {len(data)}",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()] + ["connection: close", "", ""]
    writer.write("\r\n".join(lines).encode() + data)
    await writer.drain()


async def _write_sse(
    writer: asyncio.StreamWriter, events: Iterator[str], *, end: bool = True
) -> None:
    """Events in chunked transfer encoding, as real servers send them; without `end`, no last
    chunk, so closing the connection then is a broken body, not a finished one."""
    head = (
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        "transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    )
    writer.write(head.encode())
    for event in events:
        data = event.encode()
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await writer.drain()
    if end:
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _sse(data: dict[str, Any] | str, event: str | None = None) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "") + f"data: {text}\n\n"


ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _error(api: str, fault: Fault) -> dict[str, Any]:
    if api == ANTHROPIC:
        kind = ANTHROPIC_ERROR_TYPES.get(fault.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": fault.message}}
    return {"error": {"message": fault.message, "type": "server_error", "code": None}}


def _stream_fault(api: str, fault: Fault, body: dict[str, Any]) -> Iterator[str]:
    """The stream's first event, then the error as the provider sends it mid-stream."""
    if api == ANTHROPIC:
        yield next(_anthropic_events(Reply(), body))
        yield _sse(_error(api, fault), "error")
    else:
        yield next(_openai_chunks(Reply(), body))
        yield _sse(_error(api, fault))


def _pieces(text: str) -> list[str]:
    """Text in three pieces or fewer, as a stream would send it."""
    step = max(1, -(-len(text) // 3))
    return [text[i : i + step] for i in range(0, len(text), step)]


# -- Anthropic --------------------------------------------------------------------------------


def _anthropic_usage(reply: Reply) -> dict[str, int]:
    return {
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens,
        "cache_read_input_tokens": reply.cache_read,
        "cache_creation_input_tokens": reply.cache_write,
    }


def _anthropic_blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    for n, (name, raw) in enumerate(reply.tool_calls):
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw  # a malformed call: the text, where an object belongs
        blocks.append({"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": value})
    return blocks


def _stop(reply: Reply, api: str) -> str:
    if api == ANTHROPIC:
        return "tool_use" if reply.tool_calls else "end_turn"
    return "tool_calls" if reply.tool_calls else "stop"


def _anthropic_message(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": _anthropic_blocks(reply),
        "stop_reason": _stop(reply, ANTHROPIC),
        "stop_sequence": None,
        "usage": _anthropic_usage(reply),
    }


def _anthropic_events(reply: Reply, body: dict[str, Any]) -> Iterator[str]:
    start = _anthropic_message(reply, body) | {"content": [], "stop_reason": None}
    start["usage"] = _anthropic_usage(reply) | {"output_tokens": 1}
    yield _sse({"type": "message_start", "message": start}, "message_start")
    index = 0
    if reply.text:
        block = {"type": "text", "text": ""}
        yield _sse(
            {"type": "content_block_start", "index": index, "content_block": block},
            "content_block_start",
        )
        for piece in _pieces(reply.text):
            delta = {"type": "text_delta", "text": piece}
            yield _sse(
                {"type": "content_block_delta", "index": index, "delta": delta},
                "content_block_delta",
            )
        yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        index += 1
    for n, (name, raw) in enumerate(reply.tool_calls):
        block = {"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": {}}
        yield _sse(
            {"type": "content_block_start", "index": index, "content_block": block},
            "content_block_start",
        )
        for piece in _pieces(raw):
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield _sse(
                {"type": "content_block_delta", "index": index, "delta": delta},
                "content_block_delta",
            )
        yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        index += 1
    delta = {"stop_reason": _stop(reply, ANTHROPIC), "stop_sequence": None}
    usage = {"output_tokens": reply.output_tokens}
    yield _sse({"type": "message_delta", "delta": delta, "usage": usage}, "message_delta")
    yield _sse({"type": "message_stop"}, "message_stop")


# -- OpenAI -----------------------------------------------------------------------------------


def _openai_usage(reply: Reply) -> dict[str, Any]:
    prompt = reply.input_tokens + reply.cache_read
    return {
        "prompt_tokens": prompt,
        "completion_tokens": reply.output_tokens,
        "total_tokens": prompt + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": reply.cache_read},
    }


def _openai_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": raw}}
        for n, (name, raw) in enumerate(reply.tool_calls)
    ]


def _openai_completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = _openai_calls(reply)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": _stop(reply, OPENAI)}],
        "usage": _openai_usage(reply),
    }


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return _sse(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": body.get("model"),
            "choices": [choice],
        }
    )


def _openai_chunks(reply: Reply, body: dict[str, Any]) -> Iterator[str]:
    yield _chunk(body, {"role": "assistant", "content": ""})
    for piece in _pieces(reply.text):
        yield _chunk(body, {"content": piece})
    for n, call in enumerate(_openai_calls(reply)):
        opening = call | {
            "index": n,
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        yield _chunk(body, {"tool_calls": [opening]})
        for piece in _pieces(call["function"]["arguments"]):
            yield _chunk(body, {"tool_calls": [{"index": n, "function": {"arguments": piece}}]})
    yield _chunk(body, {}, _stop(reply, OPENAI))
    if (body.get("stream_options") or {}).get("include_usage"):
        final = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": body.get("model"),
            "choices": [],
            "usage": _openai_usage(reply),
        }
        yield _sse(final)
    yield _sse("[DONE]")
