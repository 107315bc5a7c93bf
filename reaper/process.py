"""The reaper process: `python -m reaper` or `outlast reaper` (`--once` for one pass)."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import asdict

from db.connect import open_pool
from db.outcome import RetryPolicy
from outlast import database, logs
from outlast.settings import Settings
from reaper.reaper import Reaper, ReaperConfig


def config_from(settings: Settings) -> ReaperConfig:
    return ReaperConfig(
        interval_s=settings.reaper_interval_s,
        batch=settings.reaper_batch,
        worker_stale_s=settings.worker_stale_after_s,
        retention_s=settings.retention_days * 86_400,
        dead_letter_retention_s=settings.dead_letter_retention_days * 86_400,
        token_retention_s=settings.token_retention_s,
        retry=RetryPolicy(base_s=settings.retry_base_s, max_s=settings.retry_max_s),
        webhook_max_attempts=settings.webhook_max_attempts,
        webhook_settle_s=settings.webhook_settle_s,
    )


async def _main(settings: Settings, once: bool) -> None:
    pool = await open_pool(database.resolve_url(settings), min_size=1, max_size=2)
    try:
        reaper = Reaper(pool, config_from(settings))
        if once:
            print(json.dumps(asdict(await reaper.run_once())))
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await reaper.run_forever(stop)
    finally:
        await pool.close()


def main(settings: Settings, *, once: bool = False) -> None:
    logs.configure("reaper", settings.log_level)
    asyncio.run(_main(settings, once))
