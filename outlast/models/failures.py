"""What a failed provider call becomes: `ModelUnavailable` (retryable) or `ModelRejected`.

Retryable: 408, 409 (Anthropic's "conflict, try again"), 429, every 5xx and Anthropic's 529
"overloaded", timeouts and connection errors. Everything else (400, 401, 403, 404, 422, ...) is
the request's fault or the account's, and trying again would only spend money.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from outlast.errors import ModelError, ModelRejected, ModelUnavailable

RETRYABLE_STATUSES = frozenset({408, 409, 429})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def retry_after_s(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """The wait a response asked for: `retry-after-ms`, or `Retry-After` in seconds or as an
    HTTP date. None when absent or unreadable; never negative."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def redact(text: str, secret: str | None) -> str:
    """The text with the secret (an API key) cut out: error bodies are echoed into messages."""
    return text.replace(secret, "***") if secret else text


def status_failure(
    status: int,
    headers: Mapping[str, str],
    detail: str,
    *,
    provider: str,
    model: str,
) -> ModelError:
    message = f"{provider}:{model} answered HTTP {status}: {detail}"
    if is_retryable_status(status):
        return ModelUnavailable(
            message,
            provider=provider,
            model=model,
            status=status,
            retry_after=retry_after_s(headers),
        )
    return ModelRejected(message, provider=provider, model=model, status=status)


def transport_failure(what: str, *, provider: str, model: str) -> ModelUnavailable:
    """A timeout or a dropped connection: no status, always retryable."""
    return ModelUnavailable(f"{provider}:{model} {what}", provider=provider, model=model)
