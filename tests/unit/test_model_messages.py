"""The normalised request and response: JSON round trips, a stable digest, and tool-call
arguments that do not parse recorded as an error."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import TypeAdapter, ValidationError

from outlast.models import (
    AssistantMessage,
    Message,
    ModelRequest,
    ModelResponse,
    Params,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    Usage,
    UserMessage,
)
from outlast.models.messages import tool_call

REQUEST = ModelRequest(
    messages=(
        SystemMessage(content="be brief"),
        UserMessage(content="weather?"),
        AssistantMessage(
            tool_calls=(ToolCall(id="c1", name="get_weather", args={"city": "Oslo"}),)
        ),
        ToolResultMessage(tool_call_id="c1", content="-3C"),
    ),
    tools=(ToolSpec(name="get_weather", parameters={"type": "object", "required": ["city"]}),),
    params=Params(temperature=0.2, max_tokens=200),
)


def test_a_request_round_trips_through_json() -> None:
    again = ModelRequest.model_validate_json(REQUEST.model_dump_json())
    assert again == REQUEST
    assert again.digest() == REQUEST.digest()


def test_the_digest_is_a_stable_sha256_of_canonical_json() -> None:
    digest = REQUEST.digest()
    assert len(digest) == 64 and int(digest, 16) >= 0
    reordered = ToolSpec(name="get_weather", parameters={"required": ["city"], "type": "object"})
    same = REQUEST.model_copy(update={"tools": (reordered,)})
    assert same.digest() == digest  # key order inside a schema does not matter
    # Pinned: a change of the canonical form would orphan every journal row keyed on it.
    simple = ModelRequest(messages=(UserMessage(content="hi"),))
    canonical = b'{"messages":[{"content":"hi","role":"user"}],"params":{"max_tokens":1024,"temperature":null},"tools":[]}'
    assert simple.digest() == hashlib.sha256(canonical).hexdigest()


def test_the_digest_changes_with_anything_asked() -> None:
    digests = {
        REQUEST.digest(),
        REQUEST.model_copy(update={"params": Params(temperature=0.3, max_tokens=200)}).digest(),
        REQUEST.model_copy(update={"tools": ()}).digest(),
        REQUEST.model_copy(update={"messages": REQUEST.messages[:2]}).digest(),
    }
    assert len(digests) == 4


def test_messages_are_told_apart_by_role() -> None:
    parsed = TypeAdapter(Message).validate_python(
        {"role": "tool", "tool_call_id": "x", "content": "y"}
    )
    assert isinstance(parsed, ToolResultMessage)
    with pytest.raises(ValidationError):
        TypeAdapter(Message).validate_python({"role": "wizard", "content": "y"})


def test_bad_params_are_refused() -> None:
    with pytest.raises(ValidationError):
        Params(max_tokens=0)
    with pytest.raises(ValidationError):
        ModelRequest(messages=())


@pytest.mark.parametrize(
    ("raw", "args", "error"),
    [
        ('{"a": 1}', {"a": 1}, None),
        ("", {}, None),
        (None, {}, None),
        ('{"a": ', None, "not valid JSON"),
        ("[1, 2]", None, "not an object"),
    ],
)
def test_tool_call_arguments(raw: str | None, args: object, error: str | None) -> None:
    call = tool_call("id", "f", raw)
    assert call.args == args
    if error is None:
        assert call.error is None and call.raw_args is None
    else:
        assert call.error is not None and error in call.error and call.raw_args == raw


def test_a_response_becomes_the_next_assistant_turn() -> None:
    response = ModelResponse(
        content="ok",
        tool_calls=(ToolCall(id="c", name="f", args={}),),
        stop_reason="tool_use",
        usage=Usage(input_tokens=3, output_tokens=1),
        provider="offline",
        model="offline",
        latency_ms=5,
    )
    assert response.message() == AssistantMessage(content="ok", tool_calls=response.tool_calls)
    assert ModelResponse.model_validate_json(response.model_dump_json()) == response
