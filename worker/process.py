"""One worker process: wires the claim loop, the executor, the heartbeat and the wake-up, and
handles shutdown.

On SIGTERM or SIGINT the worker stops claiming, lets running tasks finish for up to
`shutdown_grace_s` (default 0), then stops the rest and releases their leases so another worker
claims them at once, marks itself stopped, and exits 0. Each process start has its own id.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import uuid

from db import lease, workers
from db.connect import Pool, open_pool
from outlast import database, logs, traces
from outlast.models.discovery import warm_up
from outlast.registry import Registry
from outlast.settings import FENCE_FRACTION, Settings
from worker.claimer import Claimer
from worker.completions import Completions
from worker.config import WorkerConfig
from worker.executor import Executor
from worker.heartbeat import Heartbeat
from worker.leases import Leases
from worker.wakeup import Wakeup

log = logging.getLogger(__name__)


class WorkerProcess:
    def __init__(
        self, url: str, config: WorkerConfig, registry: Registry, settings: Settings
    ) -> None:
        self.url = url
        self.config = config
        self.registry = registry
        self.settings = settings
        self.worker_id = uuid.uuid4()
        self.graphs, broken = registry.runnable()
        for name, error in broken.items():
            log.error(
                "graph cannot be loaded; not claiming it", extra={"graph": name, "error": error}
            )
        self.leases = Leases(ttl_s=config.lease_ttl_s)
        self.stop = asyncio.Event()

    async def run(self) -> None:
        frozen_after_s = self.config.lease_ttl_s / 2
        pool = await open_pool(
            self.url,
            min_size=2,
            max_size=self.config.concurrency + 2,
            idle_in_transaction_s=frozen_after_s,
            application_name=workers.application_name(self.worker_id),
        )
        # The queue's own statements (claims, group completions) on sessions planned for the
        # table as it is now (db.connect.CLAIM_SESSION); checkpoints keep their cached plans.
        queue_pool = await open_pool(
            self.url,
            min_size=2,
            max_size=self.config.claimers + self.config.completion_writers + 1,
            idle_in_transaction_s=frozen_after_s,
            claims=True,
            application_name=workers.application_name(self.worker_id),
        )
        try:
            await workers.register(
                pool,
                self.worker_id,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                concurrency=self.config.concurrency,
                graphs=self.graphs,
            )
            log.info(
                "worker started",
                extra={
                    "worker_id": str(self.worker_id),
                    "concurrency": self.config.concurrency,
                    "graphs": self.graphs,
                },
            )
            await self._serve(pool, queue_pool)
            await workers.set_state(pool, self.worker_id, "stopped")
            log.info("worker stopped", extra={"worker_id": str(self.worker_id)})
        finally:
            await queue_pool.close()
            await pool.close()

    async def _serve(self, pool: Pool, queue_pool: Pool) -> None:
        completions = Completions(
            queue_pool,
            self.worker_id,
            retry_for_s=self.config.lease_ttl_s * FENCE_FRACTION,
            writers=self.config.completion_writers,
        )
        executor = Executor(pool, self.registry, self.worker_id, self.config, completions)
        wakeup = Wakeup(self.url, on_cancel=self.leases.request_cancel)
        heartbeat = Heartbeat(
            self.url,
            self.worker_id,
            self.leases,
            ttl_s=self.config.lease_ttl_s,
            every_s=self.config.heartbeat_every_s,
            recovered=wakeup.event,
        )
        claimer = Claimer(
            queue_pool,
            self.worker_id,
            self.leases,
            self.config,
            executor.execute,
            wakeup.event,
            graphs=self.graphs,
            may_claim=heartbeat.healthy,
        )
        background = [asyncio.create_task(heartbeat.run_forever(self.stop))]
        if self.config.notify:
            background.append(asyncio.create_task(wakeup.run_forever(self.stop)))
        await self._warm_up()
        # Everything imported and built so far (LangGraph, pydantic, the registry's graphs, the
        # model SDKs just warmed up) lives as long as the process: out of the collector's sight.
        # Without this, each full collection walked all of it, and at thousands of short tasks a
        # second collections are frequent: py-spy put 24 % of a worker's time draining no-op
        # tasks in the collector (charged to the task function's first line), 0.4 % with it
        # (ADR 0019). Collected first: garbage frozen would never be freed.
        gc.collect()
        gc.freeze()
        await claimer.run_forever(self.stop)
        await workers.set_state(pool, self.worker_id, "stopping")
        await self._drain(pool, executor)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await heartbeat.close()

    async def _drain(self, pool: Pool, executor: Executor) -> None:
        """Let tasks finish within the grace period, then stop and release the rest. Blocking
        calls still running are abandoned: the process exits and ends their threads."""
        runners = [h.runner for h in self.leases.held.values() if h.runner is not None]
        if runners and self.config.shutdown_grace_s > 0:
            await asyncio.wait(runners, timeout=self.config.shutdown_grace_s)
        remaining = list(self.leases.held.values())
        for held in remaining:
            if held.runner is not None:
                held.runner.cancel()
        executor.blocking.abandon()
        await asyncio.gather(*(h.runner for h in remaining if h.runner), return_exceptions=True)
        # And the leases left unsettled earlier (self-fenced, crashed runners), if still ours.
        unsettled = {h.claim.task_id: h for h in remaining} | self.leases.orphans
        for held in unsettled.values():
            released = await lease.release(
                pool, self.worker_id, held.claim.task_id, held.claim.epoch
            )
            log.info(
                "released on shutdown",
                extra={"task_id": str(held.claim.task_id), "released": released},
            )

    async def _warm_up(self) -> None:
        """Load the SDKs of the providers with keys, and the price table, in a thread, before the
        first claim: a task's first model call would otherwise import them on the event loop and
        hold it, and the heartbeat, for a second or two (more on a loaded machine; longer than a
        short lease). The heartbeat runs meanwhile (outlast.models.discovery.warm_up)."""
        loaded = await asyncio.to_thread(warm_up, self.settings)
        if loaded:
            log.info("model SDKs loaded", extra={"modules": loaded})

    def request_stop(self, signame: str) -> None:
        if not self.stop.is_set():
            log.info("stop requested", extra={"signal": signame})
            self.stop.set()


async def _main(settings: Settings, concurrency: int | None) -> None:
    url = database.resolve_url(settings)
    proc = WorkerProcess(
        url,
        WorkerConfig.from_settings(settings, concurrency),
        Registry.from_spec(settings.graphs),
        settings,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, proc.request_stop, sig.name)
    await proc.run()


def main(settings: Settings, concurrency: int | None = None) -> None:
    logs.configure("worker", settings.log_level)
    traces.configure(settings, "outlast-worker")
    asyncio.run(_main(settings, concurrency))
