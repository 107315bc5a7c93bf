"""Fixtures shared by the integration tests: the API on a socket (the fake model provider, `server`
and `fake`, is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.api import live_server


@pytest.fixture
def base_url(db_url: str) -> Iterator[str]:
    """The API on a real socket over this test's database (uvicorn in a thread)."""
    with live_server(db_url) as url:
        yield url
