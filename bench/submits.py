"""Section 7: the API over HTTP (uvicorn, one process, as `outlast api` runs it).

Single submits: `POST /v1/tasks`, `concurrency` requests in flight from one httpx client.
Batch submits: `POST /v1/tasks:batch` with `api_batch_size` tasks a request, one request at a time.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.procs import wait_for
from bench.session import Session, say
from bench.table import Row, Target
from db import key as keys
from db.connect import connect
from outlast import apikey
from outlast.embedded import free_port


async def _admin_key(url: str) -> str:
    """An admin API key in the bench's database (the API needs one on every submit)."""
    minted = apikey.mint()
    conn = await connect(url)
    try:
        await keys.insert(
            conn,
            minted.key_id,
            tenant="default",
            name="bench",
            scopes=["admin"],
            digest=minted.digest,
        )
    finally:
        await conn.close()
    return minted.token


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def _singles(client: httpx.AsyncClient, count: int, concurrency: int) -> float:
    left = count

    async def submitter() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            response = await client.post(
                "/v1/tasks", json={"graph": "bench-noop", "input": {"i": left}}
            )
            if response.status_code != 201:
                raise RuntimeError(f"single submit answered {response.status_code}")

    started = time.perf_counter()
    await asyncio.gather(*(submitter() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def _batches(client: httpx.AsyncClient, batches: int, size: int) -> float:
    body = {"tasks": [{"graph": "bench-noop", "input": {"i": i}} for i in range(size)]}
    started = time.perf_counter()
    for _ in range(batches):
        response = await client.post("/v1/tasks:batch", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"batch submit answered {response.status_code}: {response.text}")
    return batches * size / (time.perf_counter() - started)


async def _measure(base: str, session: Session, url: str) -> tuple[float, float]:
    cfg = session.config
    headers = {"Authorization": f"Bearer {await _admin_key(url)}"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as client:
        await _singles(client, 50, cfg.concurrency)  # warm up
        await _batches(client, 1, cfg.api_batch_size)
        single = await _singles(client, cfg.count("api_single"), cfg.concurrency)
        batch = await _batches(client, cfg.count("api_batches"), cfg.api_batch_size)
    return single, batch


def api(session: Session) -> list[Row]:
    cfg = session.config
    with session.database("api") as stack:
        port = free_port()
        stack.api(port)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _healthy(base), 60, "the API to answer /healthz", every=0.2)
        say(
            f"api: {cfg.count('api_single')} single submits, "
            f"{cfg.count('api_batches')} batches of {cfg.api_batch_size}"
        )
        single, batch = asyncio.run(_measure(base, session, stack.url))
    return [
        Row(
            "7",
            "API: single submit, POST /v1/tasks",
            single,
            "tasks/s",
            note=f"one uvicorn process; one httpx client, {cfg.concurrency} requests in flight "
            f"(singles), 1 in flight (batches of {cfg.api_batch_size})",
        ),
        Row(
            "7",
            f"API: batch submit, POST /v1/tasks:batch x{cfg.api_batch_size}",
            batch,
            "tasks/s",
            baseline=single,
            target=Target(">=", 10),
        ),
    ]
