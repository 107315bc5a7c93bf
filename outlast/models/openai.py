"""OpenAI's Chat Completions API through the official async SDK (`openai.AsyncOpenAI`), and
any OpenAI-compatible server at `OPENAI_BASE_URL`.

The SDK's own retries are off (`max_retries=0`); retry.py decides. A stream asks for usage in
its last chunk (`stream_options.include_usage`). Tool-call arguments are JSON text in this API;
text that does not parse to an object becomes a recorded `ToolCall.error`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai

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
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


class OpenAIProvider(SdkProvider[openai.AsyncOpenAI]):
    name = "openai"

    def _client_for(self, api_key: str, base_url: str | None) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0)

    async def _call(
        self, model: str, request: ModelRequest, timeout_s: float, on_text: OnText | None
    ) -> ModelResponse:
        body = to_openai(model, request)
        if on_text is None:
            completion = await self._client.chat.completions.create(**body, timeout=timeout_s)
            return from_openai(completion.to_dict(warnings=False), model)
        stream = await self._client.chat.completions.create(
            **body, stream=True, stream_options={"include_usage": True}, timeout=timeout_s
        )
        async with stream:  # closes the response when a timeout or a cut ends the read early
            chunks = (chunk.to_dict(warnings=False) async for chunk in stream)
            return await assemble_stream(chunks, model, on_text)

    def _failure(self, exc: Exception, model: str, timeout_s: float) -> Exception:
        secret = self._key.get_secret_value()
        if isinstance(exc, openai.APIStatusError):
            detail = redact(_detail(exc), secret)
            return status_failure(
                exc.status_code, exc.response.headers, detail, provider=self.name, model=model
            )
        if isinstance(exc, openai.APITimeoutError | TimeoutError):
            return transport_failure(
                f"timed out after {timeout_s}s", provider=self.name, model=model
            )
        if isinstance(exc, openai.APIConnectionError):
            what = redact(f"connection failed: {type(exc).__name__}: {exc}", secret)
            return transport_failure(what, provider=self.name, model=model)
        if type(exc) is openai.APIError:  # an error chunk in a stream: the server failed
            what = redact(f"failed mid-stream: {exc.message}", secret)
            return transport_failure(what, provider=self.name, model=model)
        return exc  # a bug of ours or the SDK's: let it surface as itself


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str):
        return message
    return str(exc)


def to_openai(model: str, request: ModelRequest) -> dict[str, Any]:
    """The Chat Completions body (without `stream`)."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [_message(m) for m in request.messages],
        "max_completion_tokens": request.params.max_tokens,
    }
    if request.params.temperature is not None:
        body["temperature"] = request.params.temperature
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in request.tools
        ]
    return body


def _message(message: Any) -> dict[str, Any]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.content}
    if isinstance(message, ToolResultMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if isinstance(message, AssistantMessage):
        turn: dict[str, Any] = {"role": "assistant", "content": message.content or None}
        if message.tool_calls:
            turn["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.name,
                        # Sent back as the model wrote it, so a malformed call stays visible.
                        "arguments": call.raw_args if call.args is None else json.dumps(call.args),
                    },
                }
                for call in message.tool_calls
            ]
        return turn
    return {"role": "user", "content": message.content}


def _usage(usage: dict[str, Any]) -> Usage:
    details = usage.get("prompt_tokens_details") or {}
    return Usage(
        input_tokens=usage.get("prompt_tokens") or 0,
        output_tokens=usage.get("completion_tokens") or 0,
        cache_read_tokens=details.get("cached_tokens") or 0,
    )


def _call(call: dict[str, Any], position: int) -> ToolCall:
    """Compatible servers may leave out the id; the call stays usable (an id by position)."""
    function = call.get("function") or {}
    ident = call.get("id") or f"call_{position}"
    return tool_call(ident, function.get("name") or "", function.get("arguments"))


def from_openai(completion: dict[str, Any], model: str) -> ModelResponse:
    choices = completion.get("choices") or [{}]
    message = choices[0].get("message") or {}
    raw_stop = choices[0].get("finish_reason")
    calls = [_call(c, n) for n, c in enumerate(message.get("tool_calls") or [])]
    return ModelResponse(
        content=message.get("content") or "",
        tool_calls=tuple(calls),
        stop_reason=STOP_REASONS.get(raw_stop or "", "other"),
        raw_stop_reason=raw_stop,
        usage=_usage(completion.get("usage") or {}),
        provider=OpenAIProvider.name,
        model=model,
    )


async def assemble_stream(
    chunks: AsyncIterator[dict[str, Any]], model: str, on_text: OnText
) -> ModelResponse:
    """The completion the chunks describe, passing each text delta to `on_text` on the way.
    A tool call arrives in pieces keyed by `index`: its id and name first, then arguments."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    usage: dict[str, Any] = {}
    async for chunk in chunks:
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            finish = choice.get("finish_reason") or finish
            if delta.get("content"):
                text.append(delta["content"])
                await on_text(delta["content"])
            for piece in delta.get("tool_calls") or []:
                _merge_call(calls.setdefault(piece.get("index", 0), {}), piece)
    if finish is None:  # the body ended cleanly but the completion did not: no half answers
        raise transport_failure("stream ended before finish_reason", provider="openai", model=model)
    message = {"content": "".join(text), "tool_calls": [calls[i] for i in sorted(calls)]}
    completion = {"choices": [{"message": message, "finish_reason": finish}], "usage": usage}
    return from_openai(completion, model)


def _merge_call(call: dict[str, Any], piece: dict[str, Any]) -> None:
    function = call.setdefault("function", {"name": "", "arguments": ""})
    call["id"] = piece.get("id") or call.get("id", "")
    fragment = piece.get("function") or {}
    function["name"] = fragment.get("name") or function["name"]
    function["arguments"] += fragment.get("arguments") or ""
