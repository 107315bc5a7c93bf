"""Fixtures shared by the integration tests: the fake model provider, and the API on a socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.api import live_server
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


@pytest.fixture
def base_url(db_url: str) -> Iterator[str]:
    """The API on a real socket over this test's database (uvicorn in a thread)."""
    with live_server(db_url) as url:
        yield url
