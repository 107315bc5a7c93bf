"""Which failures are retried, how long the wait is (Retry-After in seconds, milliseconds or as
an HTTP date, capped; otherwise exponential backoff with jitter), and when retries stop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from outlast.errors import ModelRejected, ModelUnavailable
from outlast.models import RetryPolicy
from outlast.models.failures import is_retryable_status, retry_after_s
from outlast.models.retry import with_retries

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_statuses_that_are_not_retried(status: int) -> None:
    assert not is_retryable_status(status)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Fri, 02 Jan 2026 03:04:35 GMT"}, 30.0),
        ({"retry-after": "Fri, 02 Jan 2026 03:00:00 GMT"}, 0.0),  # in the past: no wait
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_s(headers, now=NOW) == seconds


def test_the_wait_honours_retry_after_up_to_its_cap() -> None:
    policy = RetryPolicy(retry_after_max_s=10)
    assert policy.delay(ModelUnavailable("x", retry_after=3), 1) == 3
    assert policy.delay(ModelUnavailable("x", retry_after=3600), 1) == 10


def test_backoff_grows_with_equal_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_s=1, max_s=8)
    for attempt, full in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        waits = {policy.delay(ModelUnavailable("x"), attempt) for _ in range(50)}
        assert all(full / 2 <= w <= full for w in waits)
        assert len(waits) > 1


async def test_retries_stop_at_the_attempts_and_raise_the_last_error() -> None:
    calls = 0

    async def failing() -> str:
        nonlocal calls
        calls += 1
        raise ModelUnavailable(f"down {calls}", retry_after=0)

    with pytest.raises(ModelUnavailable, match="down 3"):
        await with_retries(failing, RetryPolicy(attempts=3))
    assert calls == 3


async def test_a_rejection_is_not_retried() -> None:
    calls = 0

    async def refused() -> str:
        nonlocal calls
        calls += 1
        raise ModelRejected("no", status=400)

    with pytest.raises(ModelRejected):
        await with_retries(refused, RetryPolicy(attempts=5))
    assert calls == 1


async def test_an_unexpected_exception_is_not_retried() -> None:
    calls = 0

    async def broken() -> str:
        nonlocal calls
        calls += 1
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await with_retries(broken, RetryPolicy(attempts=5))
    assert calls == 1
