"""Reading the providers' answers tolerates what OpenAI-compatible servers and Anthropic
gateways leave out, instead of failing on a KeyError after the call was paid for."""

from __future__ import annotations

from outlast.models.anthropic import from_anthropic
from outlast.models.openai import from_openai


def test_an_openai_compatible_tool_call_without_an_id_or_arguments() -> None:
    completion = {
        "choices": [
            {
                "message": {"content": None, "tool_calls": [{"function": {"name": "f"}}]},
                "finish_reason": "tool_calls",
            }
        ]
    }
    response = from_openai(completion, "local-model")
    [call] = response.tool_calls
    assert (call.name, call.args, call.error) == ("f", {}, None)
    assert call.id  # some id, so the result can be sent back
    assert response.usage.input_tokens == 0  # no usage reported: zeros, not a crash


def test_an_anthropic_tool_use_block_without_an_id() -> None:
    message = {
        "content": [{"type": "tool_use", "name": "f", "input": {"a": 1}}],
        "stop_reason": "tool_use",
    }
    [call] = from_anthropic(message, "m").tool_calls
    assert (call.name, call.args) == ("f", {"a": 1}) and call.id
