"""Section `streams` (ADR 0015, ADR 0022): what GET /v1/stream delivers, end to end, from an
insert into task_events to the SSE client's receipt, against one API process (`outlast api`).

- events/s one stream delivers while a writer inserts as fast as it can (batches of 500, each
  its own transaction), beside the writer's own insert rate (the ceiling: a stream cannot
  deliver faster than rows are written);
- the stream's p50/p99 latency (insert time, carried in the row, to receipt) while a writer
  inserts 1,000 task changes per second (10 rows every 10 ms);
- the API process's CPU (% of one core) with 100 connected stream clients: idle, and following
  100 changes per second (every client receives every change).

A task change here is its task_events row, the one every state change writes; the rows are
inserted directly (no task, no worker), so the figures are the stream's alone.

The section name is handled here and in bench/__main__.py (`sections`), not in bench/config.py:
BENCH_SECTIONS may name `streams` beside the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import psutil
import psycopg

from bench.procs import wait_for
from bench.session import Session, say
from bench.stats import percentile, rate
from bench.table import Row
from db import key as keys
from db.connect import connect
from outlast import apikey
from outlast.embedded import free_port

NAME, NUMBER = "streams", "11"
CLIENTS = 100
INSERT = (
    "INSERT INTO task_events (tenant, task_id, kind, to_state, detail)"
    " SELECT 'default', gen_random_uuid(), 'bench', 'queued',"
    " jsonb_build_object('sent', %s::float8)"
    " FROM generate_series(1, %s)"
)


def sections(environ: Mapping[str, str]) -> tuple[dict[str, str], bool, bool]:
    """(the environment for bench.config without `streams` in BENCH_SECTIONS, whether this
    section runs, whether it runs alone)."""
    env = dict(environ)
    raw = env.get("BENCH_SECTIONS")
    if raw is None:
        return env, True, False
    chosen = [part.strip() for part in raw.split(",") if part.strip()]
    wanted = NAME in chosen
    rest = [part for part in chosen if part != NAME]
    if rest:
        env["BENCH_SECTIONS"] = ",".join(rest)
    else:
        env.pop("BENCH_SECTIONS")
    return env, wanted, wanted and not rest


async def _key(url: str) -> str:
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


async def _follow(
    client: httpx.AsyncClient, opened: asyncio.Event, on_event: Callable[[dict[str, Any]], None]
) -> None:
    """One SSE client from the newest event on; `on_event(data)` per task event."""
    async with client.stream("GET", "/v1/stream") as response:
        response.raise_for_status()
        opened.set()
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                on_event(json.loads(line[5:]))


class Clients:
    """`n` stream clients in this process, counting what they receive."""

    def __init__(self, base: str, token: str, n: int) -> None:
        limits = httpx.Limits(max_connections=n + 1, max_keepalive_connections=n + 1)
        self.http = httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10, read=None),
            limits=limits,
        )
        self.n = n
        self.received = 0
        self.latencies: list[float] = []
        self.tasks: list[asyncio.Task[None]] = []

    def _on_event(self, data: dict[str, Any]) -> None:
        self.received += 1
        sent = (data.get("detail") or {}).get("sent")
        if sent is not None:
            self.latencies.append((time.time() - float(sent)) * 1000)

    async def __aenter__(self) -> Clients:
        opened = [asyncio.Event() for _ in range(self.n)]
        self.tasks = [
            asyncio.create_task(_follow(self.http, event, self._on_event)) for event in opened
        ]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in opened)), 60)
        await asyncio.sleep(0.5)  # every stream past its first read
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await task
        await self.http.aclose()

    async def until(self, count: int, within_s: float) -> None:
        deadline = time.monotonic() + within_s
        while self.received < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stream delivered {self.received} of {count} events")
            await asyncio.sleep(0.005)


async def _throughput(base: str, token: str, url: str, n: int) -> tuple[float, float]:
    """(events/s delivered end to end, rows/s the writer inserted)."""
    async with Clients(base, token, 1) as clients:
        writer = await psycopg.AsyncConnection.connect(url, autocommit=True)
        async with writer:
            started = time.monotonic()
            for done in range(0, n, 500):
                await writer.execute(INSERT, (time.time(), min(500, n - done)))
            written = time.monotonic()
            await clients.until(n, 120)
            delivered = time.monotonic()
    return rate(n, delivered - started), rate(n, written - started)


async def _paced(url: str, per_s: int, seconds: float) -> int:
    """Insert `per_s` rows a second for `seconds`, 10 ms apart; the rows inserted."""
    per_tick = max(1, per_s // 100)
    writer = await psycopg.AsyncConnection.connect(url, autocommit=True)
    sent = 0
    async with writer:
        start = time.monotonic()
        tick = 0
        while time.monotonic() - start < seconds:
            await writer.execute(INSERT, (time.time(), per_tick))
            sent += per_tick
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * 0.01 - time.monotonic()))
    return sent


async def _latency(base: str, token: str, url: str, seconds: float) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, achieved changes/s) at 1,000 changes per second."""
    async with Clients(base, token, 1) as clients:
        started = time.monotonic()
        sent = await _paced(url, 1000, seconds)
        achieved = rate(sent, time.monotonic() - started)
        await clients.until(sent, 60)
        values = clients.latencies
    return percentile(values, 50), percentile(values, 99), achieved


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


async def _cpu(
    base: str, token: str, url: str, pid: int, seconds: float
) -> tuple[float, float, int]:
    """(% of a core idle, % of a core following 100 changes/s, events received), 100 clients."""
    api = psutil.Process(pid)
    async with Clients(base, token, CLIENTS) as clients:
        before = _cpu_s(api)
        await asyncio.sleep(seconds)
        idle = (_cpu_s(api) - before) / seconds * 100
        before, started = _cpu_s(api), time.monotonic()
        sent = await _paced(url, 100, seconds)
        await clients.until(sent * CLIENTS, 60)
        busy = (_cpu_s(api) - before) / (time.monotonic() - started) * 100
    return idle, busy, clients.received


def streams(session: Session) -> list[Row]:
    cfg = session.config
    n = max(2_000, int(20_000 * cfg.scale))
    seconds = max(3.0, 10.0 * cfg.scale)
    with session.database(NAME) as stack:
        port = free_port()
        api = stack.api(port)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _healthy(base), 60, "the API to answer /healthz", every=0.2)
        token = asyncio.run(_key(stack.url))
        say(f"streams: {n} events through one stream")
        delivered, written = asyncio.run(_throughput(base, token, stack.url, n))
        say(f"streams: latency at 1,000 changes/s for {seconds:g} s")
        p50, p99, achieved = asyncio.run(_latency(base, token, stack.url, seconds))
        say(f"streams: API CPU with {CLIENTS} stream clients, {seconds:g} s idle then busy")
        idle, busy, _ = asyncio.run(_cpu(base, token, stack.url, api.pid, seconds))
    clients_note = f"{CLIENTS} clients in the bench process, one uvicorn API process"
    return [
        Row(
            NUMBER,
            "Stream: events/s delivered, insert -> SSE receipt",
            delivered,
            "events/s",
            baseline=written,
            note=f"{n:,} task_events rows, batches of 500 (the baseline: the writer's own rate)",
        ),
        Row(
            NUMBER,
            "Stream latency p50 at 1,000 changes/s",
            p50,
            "ms",
            note=f"achieved {achieved:,.0f} changes/s, 10 rows every 10 ms, {seconds:g} s",
        ),
        Row(NUMBER, "Stream latency p99 at 1,000 changes/s", p99, "ms"),
        Row(NUMBER, f"API CPU, {CLIENTS} idle stream clients", idle, "% core", note=clients_note),
        Row(
            NUMBER,
            f"API CPU, {CLIENTS} stream clients at 100 changes/s",
            busy,
            "% core",
            note="every client receives every change (one tenant)",
        ),
    ]


def _healthy(base: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    return False
