"""Who is calling: API keys, scopes and per-key rate limits (api.deps.authorize applies them).

    a request          -> Authorization: Bearer olk_<id>_<secret>
    no key, a malformed one, an unknown or revoked id, a wrong secret  -> 401 (WWW-Authenticate)
    a key without the route's scope                                   -> 403 naming the scope
    a key over its rate                                               -> 429 with Retry-After

The key is read from Postgres by primary key on every request: a revoked key is refused on the
next request, by every replica, with no cache to expire. The secret is compared in constant time
(hmac.compare_digest) with the stored SHA-256 (outlast.apikey says why not argon2).

Rate limits are a token bucket per key *in each API replica's memory*, not in Postgres: a shared
bucket would cost a row write per request on the hottest path, to enforce a limit whose purpose
(keeping one key from starving the others) tolerates N replicas each allowing the rate. With N
replicas a key may reach N x the configured rate; docs/security.md says so.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials

from api.problems import ProblemError
from db import key as keys
from db.connect import Pool
from outlast import apikey

log = logging.getLogger("outlast.api")
ADMIN = "admin"
LOCAL_KEY_ID = "local"
LOCAL_TENANT = "default"
# The operator's tenant: its admin keys manage other tenants' keys, and its keys read /metrics
# across tenants (docs/security.md). `make start`'s admin key is one.
OPERATOR_TENANT = "default"
# A key's last_used_at is written at most this often per replica (db/queries/key.sql key_touch).
TOUCH_EVERY_S = 60.0
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="outlast"'}


@dataclass(frozen=True)
class Principal:
    """The caller, as its key says: never as a request body says."""

    key_id: str
    tenant: str
    name: str | None
    scopes: frozenset[str]

    def holds(self, scope: str) -> bool:
        return ADMIN in self.scopes or scope in self.scopes

    @property
    def operator(self) -> bool:
        """A key of the operator's tenant: sees the whole runtime where a route says so."""
        return self.tenant == OPERATOR_TENANT

    @property
    def label(self) -> str:
        """How decisions record the caller: `name (olk_<id>)`, or `olk_<id>` without a name."""
        ident = apikey.display_id(self.key_id)
        return f"{self.name} ({ident})" if self.name else ident


LOCAL = Principal(LOCAL_KEY_ID, LOCAL_TENANT, "local mode", frozenset({ADMIN}))


def presented_key(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The key a request presents: `Authorization: Bearer ...`, or `x-api-key` (the header the
    LangGraph SDK sends its `api_key` in; docs/howto/langgraph-sdk.md)."""
    if credentials is not None:
        return credentials.credentials
    return request.headers.get("x-api-key")


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "unauthorized", "Unauthorized", detail, headers=CHALLENGE)


def forbidden(scope: str) -> ProblemError:
    return ProblemError(
        403,
        "forbidden",
        "Forbidden",
        f"this API key lacks the scope {scope!r}",
        extra={"scope": scope},
    )


@dataclass
class RateLimit:
    """A token bucket per key: `burst` requests at once, refilled at `rate` per second."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key_id: str) -> float:
        """0 when the request may go; else the seconds until a token is back."""
        now = self.clock()
        tokens, at = self._buckets.get(key_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens < 1:
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[key_id] = (tokens - 1, now)
        return 0.0


@dataclass
class Access:
    """One per app (app.state.access): whether keys are required, the rate limits, and when
    each key's use was last recorded."""

    enabled: bool
    limit: RateLimit
    _touched: dict[str, float] = field(default_factory=dict)

    async def authenticate(self, pool: Pool, token: str | None) -> Principal:
        if not self.enabled:
            return LOCAL
        if token is None:
            raise unauthorized("no API key: send Authorization: Bearer olk_...")
        parsed = apikey.parse(token)
        if parsed is None:
            raise unauthorized("the API key is malformed (expected olk_<id>_<secret>)")
        key_id, secret = parsed
        row = await keys.get(pool, key_id)
        # Compare even for an unknown id, so timing does not tell unknown from wrong secret.
        stored = row["secret_sha256"] if row else bytes(32)
        if not hmac.compare_digest(apikey.digest(secret), bytes(stored)) or row is None:
            raise unauthorized(f"the API key {apikey.display_id(key_id)} is unknown or revoked")
        await self._touch(pool, key_id)
        return Principal(key_id, row["tenant"], row["name"], frozenset(row["scopes"]))

    def check(self, principal: Principal, scopes: list[str]) -> None:
        """403 for a missing scope, then 429 when the key is over its rate."""
        for scope in scopes:
            if not principal.holds(scope):
                raise forbidden(scope)
        wait_s = self.limit.take(principal.key_id)
        if wait_s > 0:
            raise ProblemError(
                429,
                "rate-limited",
                "Too many requests",
                f"this API key is over {self.limit.rate:g} requests/s; retry later",
                headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
            )

    async def _touch(self, pool: Pool, key_id: str) -> None:
        now = time.monotonic()
        if now - self._touched.get(key_id, -math.inf) < TOUCH_EVERY_S:
            return
        self._touched[key_id] = now  # before the await: concurrent requests write once
        await keys.touch(pool, key_id, TOUCH_EVERY_S)
