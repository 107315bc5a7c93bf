"""API keys as stored: a public id, a tenant, scopes, and the SHA-256 of the secret.

Making and checking a key's secret is api/access.py's; this module only reads and writes rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from db.connect import Db, Row, fetch_all, fetch_one
from db.errors import NotFound


async def insert(
    db: Db, key_id: str, *, tenant: str, name: str | None, scopes: Sequence[str], digest: bytes
) -> Row:
    """Store a new key (its digest, never its secret); the row without the digest."""
    params = {
        "id": key_id,
        "tenant": tenant,
        "name": name,
        "scopes": list(scopes),
        "secret_sha256": digest,
    }
    row = await fetch_one(db, "key_insert", params)
    if row is None:  # INSERT ... RETURNING always answers; this guards the type
        raise RuntimeError("key_insert returned no row")
    return row


async def get(db: Db, key_id: str) -> Row | None:
    """The live key with this public id and its digest; None when unknown or revoked."""
    return await fetch_one(db, "key_get", {"id": key_id})


async def list_(
    db: Db, tenant: str, *, limit: int, before: tuple[datetime, str] | None = None
) -> list[Row]:
    before_at, before_id = before or (None, None)
    params = {"tenant": tenant, "limit": limit, "before_at": before_at, "before_id": before_id}
    return await fetch_all(db, "key_list", params)


async def revoke(db: Db, key_id: str, tenant: str) -> Row:
    """Revoke now (idempotent). NotFound when the tenant has no key with this id."""
    row = await fetch_one(db, "key_revoke", {"id": key_id, "tenant": tenant})
    if row is None:
        raise NotFound("API key", key_id)
    return row


async def touch(db: Db, key_id: str, every_s: float) -> bool:
    """Record a use of the key unless one was recorded in the last `every_s`; True if written."""
    return await fetch_one(db, "key_touch", {"id": key_id, "every_s": every_s}) is not None
