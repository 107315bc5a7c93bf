"""LISTEN/NOTIFY wake-up: submits, releases, retries and redrives NOTIFY `outlast_tasks`; an idle
claim loop waits on this event or on its jittered poll, whichever comes first. The poll is the
source of truth; a lost notification only costs one poll interval.

Cancels of running tasks NOTIFY `outlast_cancel` with the task id, so the worker holding it stops
at its next node boundary without waiting for its next heartbeat (which also reports the flag).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

from db import connect

log = logging.getLogger(__name__)
CHANNEL = "outlast_tasks"
CANCEL_CHANNEL = "outlast_cancel"


class Wakeup:
    def __init__(self, url: str, on_cancel: Callable[[str], None] = lambda task_id: None) -> None:
        self.url = url
        self.event = asyncio.Event()
        self.on_cancel = on_cancel

    async def run_forever(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                conn = await connect.connect(self.url)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await conn.execute(f"LISTEN {CANCEL_CHANNEL}")
                    backoff = 0.5
                    self.event.set()  # anything sent while we were not listening: look now
                    async for notice in conn.notifies():
                        if notice.channel == CANCEL_CHANNEL:
                            self.on_cancel(notice.payload)
                        else:
                            self.event.set()
            except (psycopg.Error, OSError) as exc:
                log.warning("listen connection lost", extra={"error": str(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
