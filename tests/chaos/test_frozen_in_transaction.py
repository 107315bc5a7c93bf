"""A worker frozen (SIGSTOP) inside a fenced checkpoint transaction holds the task's row lock.
The reaper takes rows with SKIP LOCKED, so without a bound it would never get the task back:
worker sessions carry idle_in_transaction_session_timeout (half the lease TTL), Postgres ends the
frozen transaction, and the task is reclaimed."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import pytest

from db.connect import open_pool
from reaper.reaper import Reaper, ReaperConfig
from tests.conftest import REPO
from tests.support.observe import Observer
from tests.support.wait import await_until, wait_until

TTL_S = 1.0


def holders(observe: Observer) -> int:
    """Other sessions holding a lock on the tasks table (a row lock shows as RowShareLock)."""
    return int(
        observe.value(
            "SELECT count(DISTINCT pid) FROM pg_locks"
            " WHERE relation = 'tasks'::regclass AND pid <> pg_backend_pid()"
        )
    )


def ended(observe: Observer, backend: int) -> bool:
    """The session is gone; its client is frozen, so only the server can have ended it."""
    return not observe.value("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", backend)


@pytest.mark.parametrize("mode", ["explicit", "pipeline"])
def test_reaper_takes_back_a_task_whose_worker_froze_mid_transaction(
    db_url: str, observe: Observer, mode: str
) -> None:
    task_id = observe.submit("pipeline", {"text": "Frozen."})
    frozen = subprocess.Popen(
        [sys.executable, "-m", "tests.support.frozen_writer", db_url, str(TTL_S), mode],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert frozen.stdout is not None
        fenced, _, backend = frozen.stdout.readline().rpartition(" ")
        assert fenced.startswith(f"fenced {task_id}")
        frozen.send_signal(signal.SIGSTOP)
        # The frozen session comes to hold a lock on the task row (in a pipeline the fence was
        # sent, not necessarily executed, when the line was printed), unless Postgres has
        # already ended it: the bound under test is half a second, and a slow test looks late.
        wait_until(
            lambda: holders(observe) >= 1 or ended(observe, int(backend)),
            10,
            message="the frozen session to hold the task row lock",
        )

        async def reap_until_requeued() -> None:
            pool = await open_pool(db_url)
            async with pool:
                reaper = Reaper(pool, ReaperConfig(interval_s=0.1))

                async def requeued() -> int:
                    return (await reaper.run_once()).requeued

                await await_until(requeued, 30, interval=0.1, message="the reaper to requeue")

        asyncio.run(reap_until_requeued())
        assert observe.state(task_id) == "queued"
        assert observe.events(task_id)[-1] == "lease_expired"
        wait_until(lambda: holders(observe) == 0, 10, message="the frozen transaction ended")
    finally:
        frozen.send_signal(signal.SIGCONT)
        frozen.kill()
        frozen.wait(10)
