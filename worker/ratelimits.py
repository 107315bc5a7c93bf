"""Provider rate limits in the worker (ADR 0016): before a model call, take its estimated
tokens (prompt estimate + max_tokens) and one request from the bucket of the chain's first
provider key and model (db/rate_limit.py); after it, give back what it did not use; on a 429
with Retry-After, drain the bucket for that long so no worker sends there before.

A call the bucket cannot take now sleeps in its worker slot until it can, if that is at most
`max_wait_s` (OUTLAST_MODEL_RATE_WAIT_MAX_S); a longer wait gives the task back instead
(lease_release, queued with run_at when the bucket allows, the attempt not counted) and raises
RateLimited. No transaction is open while it sleeps.

A provider key is named by its fingerprint (`fingerprint`), never stored or shown in clear."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretStr

from db import lease, rate_limit
from db.connect import Db
from db.errors import LeaseLost, RateLimited
from outlast.errors import ModelUnavailable
from outlast.models.messages import ModelRequest, ModelResponse
from outlast.models.prices import estimated_prompt_tokens
from outlast.models.provider import ModelRef
from outlast.settings import Settings


def fingerprint(key: SecretStr) -> str:
    """A provider key's name in tables, logs and responses: a hash, never the key."""
    return "sha256:" + hashlib.sha256(key.get_secret_value().encode()).hexdigest()[:16]


def key_fingerprints(settings: Settings) -> tuple[tuple[str, str], ...]:
    """(provider, fingerprint) of every provider key the settings hold."""
    keys = {"anthropic": settings.anthropic_api_key, "openai": settings.openai_api_key}
    return tuple(
        (name, fingerprint(key)) for name, key in keys.items() if key and key.get_secret_value()
    )


def estimated_tokens(request: ModelRequest) -> int:
    """What a call may use at most: its prompt (estimated, erring high) and its max_tokens."""
    return estimated_prompt_tokens(request) + request.params.max_tokens


@dataclass(frozen=True)
class Held:
    bucket: rate_limit.Bucket
    tokens: int
    taken_at: datetime | None


class RateLimiter:
    def __init__(
        self,
        pool: Db,
        worker_id: uuid.UUID,
        task_id: uuid.UUID,
        epoch: int,
        fingerprints: Mapping[str, str],
        max_wait_s: float,
    ) -> None:
        self.pool = pool
        self.worker_id = worker_id
        self.task_id = task_id
        self.epoch = epoch
        self.fingerprints = fingerprints
        self.max_wait_s = max_wait_s

    async def acquire(
        self, ref: ModelRef, request: ModelRequest, *, give_back: bool = True
    ) -> Held | None:
        """Take the call's tokens and one request; None when no limit applies. Sleeps while
        the wait is short; raises RateLimited (the task given back) when it is not. Without
        `give_back` (a retry within a call, whose journal row and budget are held) it sleeps
        however long."""
        key = self.fingerprints.get(ref.provider)
        if key is None:  # a provider without a key (offline) calls no one
            return None
        bucket = rate_limit.Bucket(ref.provider, ref.model, key)
        tokens = estimated_tokens(request)
        while True:
            got = await rate_limit.reserve(self.pool, self.task_id, bucket, tokens)
            if got.outcome == "unlimited":
                return None
            if got.outcome == "reserved":
                return Held(bucket, got.tokens, got.taken_at)
            if give_back and got.wait_s > self.max_wait_s:
                await self._give_back(bucket, got.wait_s)
            await asyncio.sleep(got.wait_s)

    async def _give_back(self, bucket: rate_limit.Bucket, wait_s: float) -> None:
        detail = {
            "after": "rate_limit",
            "provider": bucket.provider,
            "model": bucket.model,
            "key_fingerprint": bucket.key_fingerprint,
            "wait_s": round(wait_s, 3),
        }
        released = await lease.release(
            self.pool, self.worker_id, self.task_id, self.epoch, delay_s=wait_s, detail=detail
        )
        if not released:
            raise LeaseLost(self.task_id, self.epoch)
        raise RateLimited(self.task_id, self.epoch, wait_s)

    async def unused(self, held: Held) -> None:
        """No call was made after all: everything back."""
        await rate_limit.settle(
            self.pool,
            self.task_id,
            held.bucket,
            taken_at=held.taken_at,
            refund_tokens=held.tokens,
            refund_requests=1,
        )

    async def settle(
        self, held: Held, response: ModelResponse | None, error: BaseException | None
    ) -> None:
        """After the call: the tokens it did not use back (all of them when the first link did
        not serve it); on a 429 with Retry-After, the bucket drained for that long."""
        used = 0
        served_by = (response.provider, response.model) if response is not None else None
        if response is not None and served_by == (held.bucket.provider, held.bucket.model):
            used = response.usage.input_tokens + response.usage.output_tokens
        await rate_limit.settle(
            self.pool,
            self.task_id,
            held.bucket,
            taken_at=held.taken_at,
            refund_tokens=held.tokens - used,
            refund_requests=0,
        )
        await self._drain(held.bucket, error)

    async def _drain(self, bucket: rate_limit.Bucket, error: BaseException | None) -> None:
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, ModelUnavailable) and error.status == 429 and retry_after:
            await rate_limit.drain(self.pool, self.task_id, bucket, float(retry_after))

    # outlast.models.failover.AttemptGate: every attempt after a call's first (retries, the
    # next link) takes its own turn, and every 429 drains its bucket at once.

    async def before(self, ref: ModelRef, request: ModelRequest) -> object:
        return await self.acquire(ref, request, give_back=False)

    async def after(
        self,
        ref: ModelRef,
        held: object,
        response: ModelResponse | None,
        error: BaseException | None,
    ) -> None:
        if isinstance(held, Held):
            await self.settle(held, response, error)
            return
        key = self.fingerprints.get(ref.provider)
        if key is not None:
            await self._drain(rate_limit.Bucket(ref.provider, ref.model, key), error)
