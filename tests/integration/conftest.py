"""Fixtures shared by the integration tests that talk to a model provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_llm import FakeLLM


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    """The local fake provider (Anthropic and OpenAI wire formats), one per test module."""
    fake = FakeLLM()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake(server: FakeLLM) -> FakeLLM:
    """The fake provider with its script and recorded requests cleared for this test."""
    server.reset()
    return server
