"""Webhook signing, for the worker that sends a delivery and the receiver that checks it
(docs/howto/webhooks.md; ADR 0020).

A delivery is a POST of a JSON body with three headers:

    Outlast-Webhook-Id:         the delivery's id: the same on every attempt and redrive of one
                                (webhook, event), so a receiver dedupes on it
    Outlast-Webhook-Timestamp:  when this attempt was signed, in Unix seconds
    Outlast-Webhook-Signature:  v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed by the secret>

as Standard Webhooks and Stripe do, with the timestamp inside what is signed so a captured
request cannot be replayed later than the receiver's tolerance. The header may carry several
space-separated `v1=` signatures; one match is enough.

    from outlast.webhooks import verify
    event = verify(secret, request.headers, await request.body())  # WebhookSignatureInvalid
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from outlast.context import TaskContext
from outlast.errors import NonRetryable, WebhookSignatureInvalid

__all__ = ["EVENT_TYPES", "WEBHOOK_GRAPH", "headers", "new_secret", "sign", "verify"]

# The task transitions a webhook can hear of: the state a task moved to, by event type.
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "task.completed": ("completed",),
    "task.failed": ("failed",),  # failed for good: dead-lettered
    "task.waiting": ("waiting_for_approval", "waiting_for_input"),  # waiting on a person
    "task.budget_paused": ("paused",),
}
# The built-in function task that sends one delivery (run by the worker: worker/webhooks.py).
WEBHOOK_GRAPH = "outlast.webhook"
ID_HEADER = "Outlast-Webhook-Id"
TIMESTAMP_HEADER = "Outlast-Webhook-Timestamp"
SIGNATURE_HEADER = "Outlast-Webhook-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DEFAULT_TOLERANCE_S = 300


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and 32 random bytes, URL-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `v1=` signature of `body` signed at `timestamp`: HMAC-SHA256 keyed by the secret's
    UTF-8 bytes (the whole string, prefix included) over `<timestamp>.<body>`, in hex."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def headers(
    secret: str, delivery_id: str, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    """The headers of one attempt to send `body`."""
    timestamp = int(time.time() if now is None else now)
    return {
        "Content-Type": "application/json",
        ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def verify(
    secret: str,
    request_headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivery's JSON payload, once its signature matches and its timestamp is within
    `tolerance_s` of now; raises WebhookSignatureInvalid otherwise. `request_headers` is any
    mapping (header names are matched without regard to case); `body` the raw bytes received,
    before any JSON parsing."""
    lowered = {k.lower(): v for k, v in request_headers.items()}
    stamp = lowered.get(TIMESTAMP_HEADER.lower())
    signatures = lowered.get(SIGNATURE_HEADER.lower())
    if not stamp or not signatures or not lowered.get(ID_HEADER.lower()):
        raise WebhookSignatureInvalid("missing Outlast-Webhook-Id, -Timestamp or -Signature")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise WebhookSignatureInvalid("the timestamp is not an integer") from exc
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        raise WebhookSignatureInvalid("the timestamp is outside the tolerance")
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in signatures.split()):
        raise WebhookSignatureInvalid("no signature matches the body")
    try:
        payload: dict[str, Any] = json.loads(body)
    except ValueError as exc:
        raise WebhookSignatureInvalid("the body is not JSON") from exc
    return payload


def deliver(task_input: dict[str, Any], task: TaskContext) -> None:
    """The registry's entry for `outlast.webhook`, so workers claim deliveries and /v1/graphs
    lists them. The worker runs its own sender in its place (worker/webhooks.py), which reads
    the webhook's secret from the database; outside a worker there is nothing to send with."""
    raise NonRetryable("a webhook delivery is sent by an Outlast worker, not called directly")
