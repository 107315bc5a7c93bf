"""API keys: create (the secret shown once), list, revoke. Admin scope only.

A key manages its own tenant's keys. An admin key of tenant `default` (the operator's, as
`make start` prints) may also name another tenant, to hand that tenant its first key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.access import OPERATOR_TENANT, Principal
from api.deps import Admin, PoolDep
from api.pagination import CursorQuery, LimitQuery, decode, page
from api.problems import ProblemError, invalid
from api.schemas import KeyCreate, KeyCreated, KeyPublic, Page, Tenant
from db import key as keys
from outlast import apikey

router = APIRouter(prefix="/v1/keys", tags=["keys"])
KeyIdPath = Annotated[
    str,
    Path(pattern=r"^(olk_)?[0-9a-f]{12}$", description="The key's public id, `olk_<id>`."),
]
TenantQuery = Annotated[Tenant | None, Query(description="Another tenant (operator only).")]


def _tenant(caller: Principal, wanted: str | None) -> str:
    """The tenant a request acts on: the caller's own, or (for the operator) the one named."""
    if wanted is None or wanted == caller.tenant:
        return caller.tenant
    if caller.tenant != OPERATOR_TENANT:
        raise ProblemError(
            403,
            "forbidden",
            "Forbidden",
            f"only an admin key of tenant {OPERATOR_TENANT!r} may manage another tenant's keys",
            extra={"scope": "admin"},
        )
    return wanted


@router.post("", status_code=201, summary="Create an API key (its secret is shown once)")
async def create(body: KeyCreate, caller: Admin, pool: PoolDep) -> KeyCreated:
    tenant = _tenant(caller, body.tenant)
    minted = apikey.mint()
    scopes = sorted(set(body.scopes))
    row = await keys.insert(
        pool, minted.key_id, tenant=tenant, name=body.name, scopes=scopes, digest=minted.digest
    )
    return KeyCreated.model_validate({**row, "key": minted.token})


@router.get("", summary="List API keys, newest first (revoked ones too)")
async def list_keys(
    caller: Admin,
    pool: PoolDep,
    tenant: TenantQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[KeyPublic]:
    before = _before(cursor)
    rows = await keys.list_(pool, _tenant(caller, tenant), limit=limit + 1, before=before)
    return page(rows, limit, KeyPublic, lambda r: (r["created_at"].isoformat(), r["id"]), "keys")


def _before(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    stamp, key_id = decode(cursor, "keys", 2)
    try:
        return datetime.fromisoformat(stamp), key_id
    except ValueError:
        raise invalid("query.cursor", "cursor", "not a cursor from this keys list") from None


@router.delete("/{key_id}", summary="Revoke an API key (effective on the next request)")
async def revoke(
    key_id: KeyIdPath, caller: Admin, pool: PoolDep, tenant: TenantQuery = None
) -> KeyPublic:
    row = await keys.revoke(pool, key_id.removeprefix("olk_"), _tenant(caller, tenant))
    return KeyPublic.model_validate(row)
