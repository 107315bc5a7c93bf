"""Provider rate limits (`admin`): a tenant's tokens- and requests-per-minute limits per
provider and model, and its buckets' levels now (ADR 0016, docs/howto/budgets-and-limits.md).
A provider key is shown by its fingerprint only."""

from __future__ import annotations

from itertools import groupby

from fastapi import APIRouter

from api.deps import Admin, PoolDep
from api.schemas import RateLimitPublic, RateLimitUpdate
from db import rate_limit
from db.connect import Row

router = APIRouter(tags=["budgets"])


def limits(rows: list[Row]) -> list[RateLimitPublic]:
    """One item per limit, with its buckets (rows come one per bucket, ordered by limit)."""
    items = []
    for _, group in groupby(rows, key=lambda r: (r["provider"], r["model"])):
        found = list(group)
        buckets = [r for r in found if r["key_fingerprint"] is not None]
        items.append(RateLimitPublic.model_validate({**found[0], "buckets": buckets}))
    return items


@router.get("/v1/rate-limits", summary="The tenant's provider rate limits and bucket levels")
async def get_rate_limits(caller: Admin, pool: PoolDep) -> list[RateLimitPublic]:
    return limits(await rate_limit.list_(pool, tenant=caller.tenant))


@router.put("/v1/rate-limits", summary="Set a provider model's rate limits")
async def put_rate_limit(
    body: RateLimitUpdate, caller: Admin, pool: PoolDep
) -> list[RateLimitPublic]:
    """Tokens and requests per minute for one provider's model, shared by every worker; the
    next call uses them. Answers all the tenant's limits."""
    await rate_limit.set_(
        pool,
        tenant=caller.tenant,
        provider=body.provider,
        model=body.model,
        tokens_per_minute=body.tokens_per_minute,
        requests_per_minute=body.requests_per_minute,
        updated_by=caller.key_id,
    )
    return limits(await rate_limit.list_(pool, tenant=caller.tenant))
