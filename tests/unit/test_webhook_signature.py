"""outlast.webhooks: what a delivery's headers sign, and what verify() refuses."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest

from outlast.errors import WebhookSignatureInvalid
from outlast.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, headers, new_secret, sign, verify

SECRET = "whsec_test-secret"  # noqa: S105 - a test secret
BODY = json.dumps({"id": "d1", "type": "task.completed"}).encode()
NOW = 1_800_000_000


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    signed = headers(SECRET, "d1", BODY, now=NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signed[SIGNATURE_HEADER] == f"v1={expected}"
    assert signed[TIMESTAMP_HEADER] == str(NOW) and signed["Outlast-Webhook-Id"] == "d1"
    assert verify(SECRET, signed, BODY, now=NOW + 10) == json.loads(BODY)


def test_header_names_are_matched_without_case_and_any_signature_may_match() -> None:
    signed = {k.lower(): v for k, v in headers(SECRET, "d1", BODY, now=NOW).items()}
    signed[SIGNATURE_HEADER.lower()] = f"v1=00ff {signed[SIGNATURE_HEADER.lower()]}"
    assert verify(SECRET, signed, BODY, now=NOW)["id"] == "d1"


@pytest.mark.parametrize(
    ("secret", "body", "now", "drop"),
    [
        ("whsec_other", BODY, NOW, None),  # another secret
        (SECRET, BODY + b" ", NOW, None),  # the body changed
        (SECRET, BODY, NOW + 301, None),  # too late: a replay
        (SECRET, BODY, NOW - 301, None),  # from the future
        (SECRET, BODY, NOW, SIGNATURE_HEADER),
        (SECRET, BODY, NOW, TIMESTAMP_HEADER),
        (SECRET, BODY, NOW, "Outlast-Webhook-Id"),
    ],
)
def test_verify_refuses(secret: str, body: bytes, now: int, drop: str | None) -> None:
    signed = headers(SECRET, "d1", BODY, now=NOW)
    if drop:
        del signed[drop]
    with pytest.raises(WebhookSignatureInvalid):
        verify(secret, signed, body, now=now)


def test_a_timestamp_signed_apart_from_its_body_does_not_verify() -> None:
    signed = headers(SECRET, "d1", BODY, now=NOW)
    signed[TIMESTAMP_HEADER] = str(NOW + 1)  # the signature covers the timestamp
    with pytest.raises(WebhookSignatureInvalid):
        verify(SECRET, signed, BODY, now=NOW)
    assert sign(SECRET, NOW, BODY) != sign(SECRET, NOW + 1, BODY)


def test_secrets_are_fresh_and_prefixed() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and first.startswith("whsec_") and len(first) >= 48


def test_the_snippet_in_the_how_to_verifies_what_outlast_signs() -> None:
    """docs/howto/webhooks.md's verify without Outlast, run against a delivery's headers."""
    page = (Path(__file__).resolve().parents[2] / "docs/howto/webhooks.md").read_text()
    [snippet] = [b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "hashlib" in b]
    scope: dict[str, Any] = {}
    exec(snippet, scope)  # noqa: S102 - our own documentation's code
    signed = headers(SECRET, "d1", BODY)
    assert scope["verify"](SECRET, signed, BODY) is True
    assert scope["verify"](SECRET, signed, BODY + b"x") is False
    assert scope["verify"]("whsec_other", signed, BODY) is False
