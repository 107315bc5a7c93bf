"""The local stack's admin key: made by the first `make start`, printed that once, and saved in
`<data_dir>/admin.key` (mode 0600), where the CLI and outlast.client find it.

A later start keeps the saved key while the database still knows it (not revoked); when it does
not (a new database, a revoked key), a new one is made and printed.
"""

from __future__ import annotations

import asyncio
import hmac
from pathlib import Path

from db import key as keys
from db.connect import connect
from outlast import apikey

TENANT = "default"
NAME = "make start"


def create(url: str, name: str = NAME) -> str:
    """A new admin key of tenant `default`, stored (hashed) in the database at `url`; its text,
    which is shown to nobody else (deployments without `make start`: compose, Kubernetes)."""
    minted = apikey.mint()
    asyncio.run(_insert(url, minted, name))
    return minted.token


def ensure(url: str, data_dir: Path) -> str | None:
    """The new key's text when one was made; None when the saved key is still live."""
    path = apikey.key_file(data_dir)
    saved = apikey.read_key_file(path)
    if saved is not None and asyncio.run(_live(url, saved)):
        return None
    token = create(url)
    apikey.write_key_file(path, token)
    return token


async def _live(url: str, token: str) -> bool:
    parsed = apikey.parse(token)
    if parsed is None:
        return False
    conn = await connect(url)
    try:
        row = await keys.get(conn, parsed[0])
    finally:
        await conn.close()
    return row is not None and hmac.compare_digest(
        apikey.digest(parsed[1]), bytes(row["secret_sha256"])
    )


async def _insert(url: str, minted: apikey.Minted, name: str) -> None:
    conn = await connect(url)
    try:
        await keys.insert(
            conn, minted.key_id, tenant=TENANT, name=name, scopes=["admin"], digest=minted.digest
        )
    finally:
        await conn.close()
