"""Anthropic's Messages API through the official async SDK (`anthropic.AsyncAnthropic`).

The SDK's own retries are off (`max_retries=0`): one call is one attempt, and retry.py decides
what happens next. Streaming reads the raw server-sent events and assembles the message here,
so tool-call JSON that does not parse becomes a recorded `ToolCall.error`, not an exception.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2

from outlast.models.failures import redact, status_failure, transport_failure
from outlast.models.messages import (
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    StopReason,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    Usage,
    tool_call,
)
from outlast.models.provider import OnText, SdkProvider

STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "tool_use": "tool_use",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
}


class AnthropicProvider(SdkProvider[anthropic.AsyncAnthropic]):
    name = "anthropic"

    def _client_for(self, api_key: str, base_url: str | None) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0)

    async def _call(
        self, model: str, request: ModelRequest, timeout_s: float, on_text: OnText | None
    ) -> ModelResponse:
        body = to_anthropic(model, request)
        if on_text is None:
            message = await self._client.messages.create(**body, timeout=timeout_s)
            return from_anthropic(message.to_dict(warnings=False), model)
        stream = await self._client.messages.create(**body, stream=True, timeout=timeout_s)
        async with stream:  # closes the response when a timeout or a cut ends the read early
            events = (event.to_dict(warnings=False) async for event in stream)
            return await assemble_stream(events, model, on_text)

    def _failure(self, exc: Exception, model: str, timeout_s: float) -> Exception:
        secret = self._key.get_secret_value()
        if isinstance(exc, anthropic.APIStatusError):
            detail = redact(exc.api_message or str(exc), secret)
            status = _stream_error_status(exc.type) if exc.status_code < 300 else exc.status_code
            return status_failure(
                status, exc.response.headers, detail, provider=self.name, model=model
            )
        if isinstance(exc, anthropic.APITimeoutError | TimeoutError):
            return transport_failure(
                f"timed out after {timeout_s}s", provider=self.name, model=model
            )
        # This SDK does not wrap a connection lost while a stream is read.
        if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
            what = redact(f"connection failed: {type(exc).__name__}: {exc}", secret)
            return transport_failure(what, provider=self.name, model=model)
        return exc  # a bug of ours or the SDK's: let it surface as itself


# An error event inside a stream arrives after a 200; its type says what the status would be.
STREAM_ERROR_STATUSES = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "overloaded_error": 529,
}


def _stream_error_status(kind: str | None) -> int:
    """Unknown or server-side kinds (`api_error`, `timeout_error`) count as a 500."""
    return STREAM_ERROR_STATUSES.get(kind or "", 500)


def to_anthropic(model: str, request: ModelRequest) -> dict[str, Any]:
    """The Messages API body (without `stream`)."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.params.max_tokens,
        "messages": _turns(request),
    }
    system = "\n\n".join(m.content for m in request.messages if isinstance(m, SystemMessage))
    if system:
        body["system"] = system
    if request.params.temperature is not None:
        body["temperature"] = request.params.temperature
    if request.tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
    return body


def _turns(request: ModelRequest) -> list[dict[str, Any]]:
    """Messages in Anthropic's shape. Consecutive tool results share one user turn, as the API
    requires all results of one assistant turn in the next user message."""
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        if isinstance(message, SystemMessage):
            continue
        if isinstance(message, ToolResultMessage):
            block = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.content,
                "is_error": message.is_error,
            }
            if turns and turns[-1]["role"] == "user" and isinstance(turns[-1]["content"], list):
                turns[-1]["content"].append(block)
            else:
                turns.append({"role": "user", "content": [block]})
        elif isinstance(message, AssistantMessage):
            turns.append({"role": "assistant", "content": _assistant_blocks(message)})
        else:
            turns.append({"role": "user", "content": message.content})
    return turns


def _assistant_blocks(message: AssistantMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        # A call whose arguments did not parse goes back as {} with its recorded error in the
        # tool result the caller sends; the API accepts only an object here.
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.args or {}}
        )
    return blocks


def _usage(usage: dict[str, Any]) -> Usage:
    cache_read = usage.get("cache_read_input_tokens") or 0
    cache_write = usage.get("cache_creation_input_tokens") or 0
    return Usage(
        input_tokens=(usage.get("input_tokens") or 0) + cache_read + cache_write,
        output_tokens=usage.get("output_tokens") or 0,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def _tool_use(block: dict[str, Any], position: int) -> ToolCall:
    """A gateway may drop the id or the input; the call stays usable (an id by position)."""
    ident, name = block.get("id") or f"toolu_{position}", block.get("name") or ""
    value = block.get("input", {})
    if isinstance(value, dict):
        return ToolCall(id=ident, name=name, args=value)
    raw = value if isinstance(value, str) else json.dumps(value)
    return tool_call(ident, name, raw)


def from_anthropic(message: dict[str, Any], model: str) -> ModelResponse:
    blocks = message.get("content") or []
    raw_stop = message.get("stop_reason")
    return ModelResponse(
        content="".join(b.get("text", "") for b in blocks if b.get("type") == "text"),
        tool_calls=tuple(
            _tool_use(b, n) for n, b in enumerate(b for b in blocks if b.get("type") == "tool_use")
        ),
        stop_reason=STOP_REASONS.get(raw_stop or "", "other"),
        raw_stop_reason=raw_stop,
        usage=_usage(message.get("usage") or {}),
        provider=AnthropicProvider.name,
        model=model,
    )


async def assemble_stream(
    events: AsyncIterator[dict[str, Any]], model: str, on_text: OnText
) -> ModelResponse:
    """The message the events describe, passing each text delta to `on_text` on the way.
    Tool-call arguments arrive as JSON fragments; they are parsed once, at the block's end."""
    message: dict[str, Any] = {"content": [], "usage": {}}
    fragments: dict[int, list[str]] = {}
    ended = False
    async for event in events:
        kind = event.get("type")
        ended = kind == "message_stop"
        if kind == "message_start":
            message["usage"] = dict(event["message"].get("usage") or {})
        elif kind == "content_block_start":
            message["content"].append(dict(event["content_block"]))
            fragments[event["index"]] = []
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta.get("type") == "text_delta":
                message["content"][event["index"]]["text"] += delta["text"]
                await on_text(delta["text"])
            elif delta.get("type") == "input_json_delta":
                fragments[event["index"]].append(delta["partial_json"])
        elif kind == "content_block_stop":
            block = message["content"][event["index"]]
            if block.get("type") == "tool_use" and fragments[event["index"]]:
                block["input"] = "".join(fragments[event["index"]])
        elif kind == "message_delta":
            message["stop_reason"] = event["delta"].get("stop_reason")
            message["usage"].update({k: v for k, v in (event.get("usage") or {}).items() if v})
    if not ended:  # the body ended cleanly but the message did not: a half answer is no answer
        raise transport_failure(
            "stream ended before message_stop", provider="anthropic", model=model
        )
    return from_anthropic(message, model)  # tool inputs are JSON text now; parsed there
