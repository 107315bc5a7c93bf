"""Retries of one model call, above the SDKs (whose own retries are off), with tenacity.

Only retryable errors are tried again (`ModelError.retryable`: 408, 409, 429, 5xx, 529,
timeouts, dropped connections). The wait before the next attempt is the provider's
`Retry-After` when it sent one (capped at `retry_after_max_s`, so a provider cannot park a worker
for an hour), otherwise exponential backoff with equal jitter: half of `base_s * 2**n` fixed,
half random, capped at `max_s`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from outlast.errors import ModelError

T = TypeVar("T")
log = logging.getLogger("outlast.models")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, the first included
    base_s: float = 0.5
    max_s: float = 30.0
    retry_after_max_s: float = 60.0

    def delay(self, error: BaseException | None, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        asked: float | None = getattr(error, "retry_after", None)
        if asked is not None:
            return min(asked, self.retry_after_max_s)
        backoff = min(self.max_s, self.base_s * 2.0 ** (attempt - 1))
        return backoff / 2 + random.uniform(0, backoff / 2)  # noqa: S311 (jitter, not crypto)


def _retryable(error: BaseException) -> bool:
    return isinstance(error, ModelError) and error.retryable


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """`await call()` until it succeeds, raises a non-retryable error, or `policy.attempts` are
    spent; the last error is raised as itself."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return policy.delay(error, state.attempt_number)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "model call failed (attempt %d), retrying in %.2fs: %s",
            state.attempt_number,
            delay,
            error,
        )

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        retry=retry_if_exception(_retryable),
        wait=wait,
        before_sleep=before_sleep,
        reraise=True,
    )
    return await retrying(call)
