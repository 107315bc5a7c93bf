"""LISTEN/NOTIFY wake-up: submits, releases, retries and redrives NOTIFY `outlast_tasks`; an idle
claim loop waits on this event or on its jittered poll, whichever comes first. The poll is the
source of truth; a lost notification only costs one poll interval."""

from __future__ import annotations

import asyncio
import logging

import psycopg

from db import connect

log = logging.getLogger(__name__)
CHANNEL = "outlast_tasks"


class Wakeup:
    def __init__(self, url: str) -> None:
        self.url = url
        self.event = asyncio.Event()

    async def run_forever(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                conn = await connect.connect(self.url)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    backoff = 0.5
                    self.event.set()  # anything sent while we were not listening: look now
                    async for _ in conn.notifies():
                        self.event.set()
            except (psycopg.Error, OSError) as exc:
                log.warning("listen connection lost", extra={"error": str(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
