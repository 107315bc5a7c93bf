"""The key format and the per-key token bucket, without a server."""

from __future__ import annotations

import hashlib

from api.access import RateLimit
from outlast import apikey


def test_a_minted_key_parses_back_to_its_id_and_a_secret_whose_hash_it_carries() -> None:
    minted = apikey.mint()
    parsed = apikey.parse(minted.token)
    assert parsed is not None
    key_id, secret = parsed
    assert key_id == minted.key_id and len(key_id) == 12
    assert minted.digest == hashlib.sha256(secret.encode()).digest()
    assert minted.token.startswith(apikey.display_id(key_id) + "_")
    assert apikey.mint().token != minted.token


def test_malformed_keys_do_not_parse() -> None:
    good = apikey.mint().token
    for bad in ("", "olk_", good[:-1], good + "x", good.replace("olk_", "olx_"), "Bearer " + good):
        assert apikey.parse(bad) is None, bad


def test_the_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limit = RateLimit(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limit.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.take("k") == 0.5  # one token comes back in 1/rate seconds
    assert limit.take("other") == 0.0  # per key
    now[0] += 0.5
    assert limit.take("k") == 0.0
    assert limit.take("k") > 0
