"""The offline provider: the same request gives the same response; `/tool NAME {args}` in the
last user message gives a tool call when that tool is offered."""

from __future__ import annotations

from outlast.models import ModelRequest, ToolResultMessage, ToolSpec, UserMessage
from outlast.models.offline import OfflineProvider

LOOKUP = ToolSpec(name="lookup", description="find a thing")


def ask(text: str, *, tools: tuple[ToolSpec, ...] = ()) -> ModelRequest:
    return ModelRequest(messages=(UserMessage(content=text),), tools=tools)


async def complete(request: ModelRequest) -> object:
    return await OfflineProvider().complete("offline", request, timeout_s=1)


async def test_the_same_request_gives_the_same_response() -> None:
    first = await complete(ask("hello there"))
    second = await complete(ask("hello there"))
    assert first == second
    assert first.content == "offline reply: hello there"  # type: ignore[attr-defined]
    assert (first.provider, first.stop_reason) == ("offline", "end_turn")  # type: ignore[attr-defined]


async def test_a_tool_call_when_asked_for_an_offered_tool() -> None:
    response = await OfflineProvider().complete(
        "offline", ask('please\n/tool lookup {"q": "x"}', tools=(LOOKUP,)), timeout_s=1
    )
    [call] = response.tool_calls
    assert (call.name, call.args, call.error) == ("lookup", {"q": "x"}, None)
    assert response.stop_reason == "tool_use"
    again = await OfflineProvider().complete(
        "offline", ask('please\n/tool lookup {"q": "x"}', tools=(LOOKUP,)), timeout_s=1
    )
    assert again.tool_calls[0].id == call.id


async def test_no_tool_call_for_a_tool_not_offered() -> None:
    response = await OfflineProvider().complete("offline", ask("/tool lookup {}"), timeout_s=1)
    assert response.tool_calls == ()
    assert response.stop_reason == "end_turn"


async def test_malformed_arguments_give_a_recorded_malformed_call() -> None:
    response = await OfflineProvider().complete(
        "offline", ask("/tool lookup {oops", tools=(LOOKUP,)), timeout_s=1
    )
    [call] = response.malformed_tool_calls
    assert call.args is None and call.raw_args == "{oops"


async def test_a_tool_result_is_acknowledged() -> None:
    request = ModelRequest(
        messages=(UserMessage(content="go"), ToolResultMessage(tool_call_id="t", content="42"))
    )
    response = await OfflineProvider().complete("offline", request, timeout_s=1)
    assert response.content == "offline: tool returned: 42"


async def test_streaming_passes_the_whole_text_and_usage_is_plausible() -> None:
    pieces: list[str] = []

    async def collect(text: str) -> None:
        pieces.append(text)

    request = ask("a longer question with several words")
    response = await OfflineProvider().complete("offline", request, timeout_s=1, on_text=collect)
    assert len(pieces) > 1 and "".join(pieces) == response.content
    assert 0 < response.usage.input_tokens < len(request.model_dump_json())
    assert 0 < response.usage.output_tokens <= len(response.content)
