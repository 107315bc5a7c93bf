"""The normalised request and response every provider speaks: plain JSON, no SDK types.

A `ModelRequest` says what is asked (messages, tools, params); it does not say who answers.
Its `digest()` is stable across processes and Python versions, so the LLM-call journal can key
on it. A `ModelResponse` says what came back and who served it (provider and model), with usage
and latency. Both round-trip through `model_dump(mode="json")` / `model_validate`.

Usage counts follow one convention for every provider: `input_tokens` is all the prompt tokens,
cache reads and cache writes included (OpenAI's convention; Anthropic reports the three apart
and its provider adds them up), so `input_tokens - cache_read_tokens - cache_write_tokens` is the
uncached part.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolCall(_Frozen):
    """A tool call the model made. `args` is the parsed JSON object; when the model sent
    arguments that are not a JSON object, `args` is None, `raw_args` holds what it sent and
    `error` says why, so the caller can record it and tell the model, instead of crashing."""

    id: str
    name: str
    args: dict[str, Any] | None = None
    raw_args: str | None = None
    error: str | None = None


class SystemMessage(_Frozen):
    role: Literal["system"] = "system"
    content: str


class UserMessage(_Frozen):
    role: Literal["user"] = "user"
    content: str


class AssistantMessage(_Frozen):
    role: Literal["assistant"] = "assistant"
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


class ToolResultMessage(_Frozen):
    """The result of one tool call, sent back to the model."""

    role: Literal["tool"] = "tool"
    tool_call_id: str
    content: str
    is_error: bool = False


Message = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolResultMessage,
    Field(discriminator="role"),
]


class ToolSpec(_Frozen):
    """A tool offered to the model: `parameters` is the JSON Schema of its arguments."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


class Params(_Frozen):
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int = Field(1024, gt=0)


class ModelRequest(_Frozen):
    messages: tuple[Message, ...] = Field(min_length=1)
    tools: tuple[ToolSpec, ...] = ()
    params: Params = Params()

    def digest(self) -> str:
        """sha256 (hex) of the request's canonical JSON: sorted keys, no spaces, UTF-8.
        Defaults are included, so two requests that mean the same thing digest the same."""
        canonical = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


StopReason = Literal["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal", "other"]


class Usage(_Frozen):
    input_tokens: NonNegativeInt = 0
    output_tokens: NonNegativeInt = 0
    cache_read_tokens: NonNegativeInt = 0
    cache_write_tokens: NonNegativeInt = 0


class ModelResponse(_Frozen):
    """What came back, and from whom: `provider` and `model` name the one that served it
    (after failover, not necessarily the first one asked)."""

    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: StopReason = "other"
    raw_stop_reason: str | None = None
    usage: Usage = Usage()
    provider: str
    model: str
    latency_ms: NonNegativeInt = 0

    @property
    def malformed_tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(call for call in self.tool_calls if call.error is not None)

    def message(self) -> AssistantMessage:
        """The assistant turn to append to the conversation."""
        return AssistantMessage(content=self.content, tool_calls=self.tool_calls)


def parse_tool_args(raw: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """(args, error) from a model's tool-call arguments text: empty means no arguments."""
    if raw is None or not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return None, f"tool-call arguments are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return None, f"tool-call arguments are JSON but not an object: {type(value).__name__}"
    return value, None


def tool_call(id: str, name: str, raw: str | None) -> ToolCall:
    args, error = parse_tool_args(raw)
    return ToolCall(
        id=id, name=name, args=args, raw_args=None if error is None else raw, error=error
    )
