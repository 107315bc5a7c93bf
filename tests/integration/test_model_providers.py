"""Both providers through their real SDKs against the fake model server (tests/support/fake_llm.py):
replies, tool calls, usage, streaming, retries with Retry-After, timeouts, dropped connections,
malformed tool-call JSON, refusals that are not retried, and failover."""

from __future__ import annotations

import logging
import socket

import pytest
from pydantic import SecretStr

from outlast.errors import ModelRejected, ModelUnavailable
from outlast.models import (
    Link,
    ModelChain,
    ModelRequest,
    Provider,
    RetryPolicy,
    StreamDelta,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from outlast.models.anthropic import AnthropicProvider
from outlast.models.openai import OpenAIProvider
from tests.support.fake_llm import ANTHROPIC, OPENAI, Drop, FakeLLM, Fault, Hang, Reply

CANARY = "sk-canary-7f3a9c1e-never-print-me"
FAST = RetryPolicy(attempts=3, base_s=0.01, max_s=0.05)
WEATHER = ToolSpec(
    name="get_weather",
    description="Weather in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
ASK = ModelRequest(messages=(UserMessage(content="hi"),))
ASK_TOOLS = ModelRequest(messages=(UserMessage(content="weather in Paris?"),), tools=(WEATHER,))


def make(api: str, fake: FakeLLM) -> Provider:
    if api == ANTHROPIC:
        return AnthropicProvider(SecretStr(CANARY), base_url=fake.url)
    return OpenAIProvider(SecretStr(CANARY), base_url=f"{fake.url}/v1")


def chain(api: str, fake: FakeLLM, policy: RetryPolicy = FAST, timeout_s: float = 30) -> ModelChain:
    return ModelChain([Link(make(api, fake), f"{api}-model")], retry=policy, timeout_s=timeout_s)


BOTH = pytest.mark.parametrize("api", [ANTHROPIC, OPENAI])


@BOTH
async def test_text_reply_with_usage_and_cache_tokens(api: str, fake: FakeLLM) -> None:
    write = 7 if api == ANTHROPIC else 0
    fake.script(
        api,
        Reply(text="bonjour", input_tokens=100, output_tokens=20, cache_read=30, cache_write=write),
    )
    response = await chain(api, fake).complete(ASK)
    assert response.content == "bonjour"
    assert response.stop_reason == "end_turn"
    assert (response.provider, response.model) == (api, f"{api}-model")
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens) == (100 + 30 + write, 20)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (30, write)
    assert fake.requests(api)[0].body["model"] == f"{api}-model"


@BOTH
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_are_parsed(api: str, stream: bool, fake: FakeLLM) -> None:
    fake.script(api, Reply(text="", tool_calls=(("get_weather", '{"city": "Paris"}'),)))
    deltas: list[StreamDelta] = []

    async def collect(delta: StreamDelta) -> None:
        deltas.append(delta)

    response = await chain(api, fake).complete(ASK_TOOLS, on_text=collect if stream else None)
    assert response.stop_reason == "tool_use"
    [call] = response.tool_calls
    assert (call.name, call.args, call.error) == ("get_weather", {"city": "Paris"}, None)
    sent = fake.requests(api)[0].body
    tool = sent["tools"][0] if api == ANTHROPIC else sent["tools"][0]["function"]
    assert tool["name"] == "get_weather"
    assert bool(sent.get("stream")) is stream


@BOTH
async def test_a_tool_result_goes_back_in_the_provider_s_shape(api: str, fake: FakeLLM) -> None:
    fake.script(
        api, Reply(text="", tool_calls=(("get_weather", '{"city": "Paris"}'),)), Reply(text="sunny")
    )
    models = chain(api, fake)
    first = await models.complete(ASK_TOOLS)
    call = first.tool_calls[0]
    follow = ModelRequest(
        messages=(
            *ASK_TOOLS.messages,
            first.message(),
            ToolResultMessage(tool_call_id=call.id, content="22C"),
        ),
        tools=ASK_TOOLS.tools,
    )
    assert (await models.complete(follow)).content == "sunny"
    last = fake.requests(api)[1].body["messages"][-1]
    if api == ANTHROPIC:
        assert last["content"][0] == {
            "type": "tool_result",
            "tool_use_id": call.id,
            "content": "22C",
            "is_error": False,
        }
    else:
        assert last == {"role": "tool", "tool_call_id": call.id, "content": "22C"}


@BOTH
async def test_streaming_passes_deltas_and_returns_the_whole_response(
    api: str, fake: FakeLLM
) -> None:
    fake.script(
        api, Reply(text="the quick brown fox", input_tokens=9, output_tokens=4, cache_read=2)
    )
    deltas: list[StreamDelta] = []

    async def collect(delta: StreamDelta) -> None:
        deltas.append(delta)

    response = await chain(api, fake).complete(ASK, on_text=collect)
    assert len(deltas) > 1
    assert "".join(d.text for d in deltas) == response.content == "the quick brown fox"
    assert {(d.attempt, d.provider) for d in deltas} == {(1, api)}
    assert (response.usage.output_tokens, response.usage.cache_read_tokens) == (4, 2)
    assert response.usage.input_tokens == 11


@BOTH
@pytest.mark.parametrize("stream", [False, True])
async def test_malformed_tool_call_json_is_recorded_not_raised(
    api: str, stream: bool, fake: FakeLLM
) -> None:
    fake.script(api, Reply(text="", tool_calls=(("get_weather", '{"city": "Par'),)))

    async def ignore(delta: StreamDelta) -> None:
        pass

    response = await chain(api, fake).complete(ASK_TOOLS, on_text=ignore if stream else None)
    [call] = response.tool_calls
    assert call.args is None
    assert call.raw_args == '{"city": "Par'
    assert call.error is not None and "not valid JSON" in call.error
    assert response.malformed_tool_calls == (call,)
    assert len(fake.requests(api)) == 1  # recorded, not retried: the model said it


@BOTH
async def test_429_waits_at_least_retry_after(api: str, fake: FakeLLM) -> None:
    fake.script(api, Fault(429, retry_after="1"), Reply(text="ok"))
    response = await chain(api, fake).complete(ASK)
    assert response.content == "ok"
    first, second = fake.requests(api)
    assert second.at - first.at >= 1.0


@BOTH
@pytest.mark.parametrize("status", [529, 503, 500])
async def test_overloaded_and_server_errors_are_retried(
    api: str, status: int, fake: FakeLLM
) -> None:
    fake.script(api, Fault(status), Fault(status), Reply(text="ok"))
    assert (await chain(api, fake).complete(ASK)).content == "ok"
    assert len(fake.requests(api)) == 3


@BOTH
async def test_an_error_in_the_middle_of_a_stream_is_retried(api: str, fake: FakeLLM) -> None:
    """Anthropic sends `event: error` (overloaded) after a 200; OpenAI a chunk with `error`."""
    fake.script(api, Fault(529, in_stream=True), Reply(text="ok"))

    async def ignore(delta: StreamDelta) -> None:
        pass

    assert (await chain(api, fake).complete(ASK, on_text=ignore)).content == "ok"
    assert len(fake.requests(api)) == 2


async def test_a_refusal_in_the_middle_of_an_anthropic_stream_is_not_retried(fake: FakeLLM) -> None:
    fake.script(ANTHROPIC, Fault(400, in_stream=True), Reply(text="never"))

    async def ignore(delta: StreamDelta) -> None:
        pass

    with pytest.raises(ModelRejected):
        await chain(ANTHROPIC, fake).complete(ASK, on_text=ignore)
    assert len(fake.requests(ANTHROPIC)) == 1


@BOTH
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_refusals_are_not_retried(api: str, status: int, fake: FakeLLM) -> None:
    fake.script(api, Fault(status, message="bad request"), Reply(text="never"))
    with pytest.raises(ModelRejected) as caught:
        await chain(api, fake).complete(ASK)
    assert caught.value.status == status
    assert not caught.value.retryable
    assert f"HTTP {status}" in str(caught.value)
    assert len(fake.requests(api)) == 1


@BOTH
async def test_a_hang_times_out_and_is_retried(api: str, fake: FakeLLM) -> None:
    fake.script(api, Hang(), Reply(text="ok"))
    assert (await chain(api, fake, timeout_s=0.5).complete(ASK)).content == "ok"
    assert len(fake.requests(api)) == 2


@BOTH
@pytest.mark.parametrize("stream", [False, True])
async def test_a_dropped_connection_is_retried(api: str, stream: bool, fake: FakeLLM) -> None:
    fake.script(api, Drop(), Reply(text="ok"))
    deltas: list[StreamDelta] = []

    async def collect(delta: StreamDelta) -> None:
        deltas.append(delta)

    response = await chain(api, fake).complete(ASK, on_text=collect if stream else None)
    assert response.content == "ok"
    assert len(fake.requests(api)) == 2


@BOTH
@pytest.mark.parametrize("clean", [False, True])
async def test_a_stream_cut_short_is_retried_not_returned_half(
    api: str, clean: bool, fake: FakeLLM
) -> None:
    """A stream that stops before its own end event (Anthropic's message_stop, OpenAI's
    finish_reason) is a failed attempt, even when the HTTP body ended cleanly."""
    fake.script(api, Drop(after_events=4, clean=clean), Reply(text="whole answer"))
    deltas: list[StreamDelta] = []

    async def collect(delta: StreamDelta) -> None:
        deltas.append(delta)

    response = await chain(api, fake).complete(ASK, on_text=collect)
    assert response.content == "whole answer"
    assert len(fake.requests(api)) == 2
    assert "".join(d.text for d in deltas if d.attempt == 2) == "whole answer"
    assert {d.attempt for d in deltas} == {1, 2}


@BOTH
async def test_retries_give_up_after_their_attempts(api: str, fake: FakeLLM) -> None:
    fake.script(api, *[Fault(503)] * 3, Reply(text="too late"))
    with pytest.raises(ModelUnavailable) as caught:
        await chain(api, fake).complete(ASK)
    assert caught.value.status == 503
    assert len(fake.requests(api)) == FAST.attempts


async def test_failover_serves_from_the_next_link_and_says_so(fake: FakeLLM) -> None:
    fake.script(ANTHROPIC, *[Fault(529)] * FAST.attempts)
    fake.script(OPENAI, Reply(text="from openai"))
    models = ModelChain(
        [Link(make(ANTHROPIC, fake), "claude-x"), Link(make(OPENAI, fake), "gpt-x")], retry=FAST
    )
    response = await models.complete(ASK)
    assert (response.content, response.provider, response.model) == (
        "from openai",
        "openai",
        "gpt-x",
    )
    assert len(fake.requests(ANTHROPIC)) == FAST.attempts
    assert len(fake.requests(OPENAI)) == 1


async def test_failover_after_a_timeout_streams_again_from_the_next_link(fake: FakeLLM) -> None:
    fake.script(ANTHROPIC, Hang())
    fake.script(OPENAI, Reply(text="second"))
    models = ModelChain(
        [Link(make(ANTHROPIC, fake), "claude-x"), Link(make(OPENAI, fake), "gpt-x")],
        retry=RetryPolicy(attempts=1),
        timeout_s=0.5,
    )
    deltas: list[StreamDelta] = []

    async def collect(delta: StreamDelta) -> None:
        deltas.append(delta)

    response = await models.complete(ASK, on_text=collect)
    assert response.provider == "openai"
    assert {(d.attempt, d.provider, d.model) for d in deltas} == {(2, "openai", "gpt-x")}


async def test_a_refusal_does_not_fail_over(fake: FakeLLM) -> None:
    fake.script(ANTHROPIC, Fault(400))
    models = ModelChain(
        [Link(make(ANTHROPIC, fake), "a"), Link(make(OPENAI, fake), "b")], retry=FAST
    )
    with pytest.raises(ModelRejected):
        await models.complete(ASK)
    assert fake.requests(OPENAI) == []


async def test_when_every_link_fails_the_error_names_each(fake: FakeLLM) -> None:
    fake.script(ANTHROPIC, Fault(503))
    fake.script(OPENAI, Fault(500))
    models = ModelChain(
        [Link(make(ANTHROPIC, fake), "a"), Link(make(OPENAI, fake), "b")],
        retry=RetryPolicy(attempts=1),
    )
    with pytest.raises(ModelUnavailable) as caught:
        await models.complete(ASK)
    assert "anthropic:a" in str(caught.value) and "openai:b" in str(caught.value)


@BOTH
async def test_the_key_never_shows(
    api: str, fake: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for sdk_logger in ("anthropic", "openai", "httpx2", "httpcore2", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=sdk_logger)  # the SDKs set their own levels
    # The fake echoes the key in its error body, as a careless proxy might.
    fake.script(
        api, Fault(500, message=f"upstream said {CANARY}"), Fault(401, message=f"bad key {CANARY}")
    )
    models = chain(api, fake)
    with pytest.raises(ModelRejected) as caught:
        await models.complete(ASK)
    ok = await models.complete(ASK)
    sent = fake.requests(api)[0].headers
    assert CANARY in (sent.get("x-api-key", "") + sent.get("authorization", ""))  # it was used
    shown = [
        caplog.text,
        str(caught.value),
        repr(caught.value),
        repr(caught.value.args),
        repr(models),
        repr(models.links[0].provider),
        ok.model_dump_json(),
        ASK.model_dump_json(),
    ]
    assert "HTTP 401" in caplog.text or "401" in str(caught.value)
    assert len(caplog.records) > 3, "the SDKs' debug logs were not captured"
    assert [text for text in shown if CANARY in text] == []
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_an_unreachable_provider_fails_over(fake: FakeLLM) -> None:
    """Nothing listens at the first link's address: connection refused, retried, then failover."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = AnthropicProvider(SecretStr(CANARY), base_url=f"http://127.0.0.1:{closed_port}")
    fake.script(OPENAI, Reply(text="still here"))
    models = ModelChain([Link(down, "claude-x"), Link(make(OPENAI, fake), "gpt-x")], retry=FAST)
    response = await models.complete(ASK)
    assert (response.content, response.provider) == ("still here", "openai")
