"""A worker cut off from Postgres (its connections hang, then reconnecting is slow) stops
claiming while its heartbeat fails, fences each lease from its own renewal, and never holds
more live leases than its concurrency, sampled continuously from the database's side."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from tests.conftest import REPO
from tests.support.observe import Observer
from tests.support.processes import Processes
from tests.support.proxy import Proxy
from tests.support.wait import wait_until

CONCURRENCY = 4
LIVE_LEASES = (
    "SELECT count(*) FROM tasks WHERE state = 'running' AND lease_expires_at > clock_timestamp()"
)


class LeaseSampler(threading.Thread):
    """Counts live leases every few milliseconds; keeps the most seen at once."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True, name="lease-sampler")
        self.conn = psycopg.connect(url, autocommit=True)
        self.most = 0
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            row = self.conn.execute(LIVE_LEASES).fetchone()
            self.most = max(self.most, int(row[0]) if row else 0)
            self.samples += 1
            time.sleep(0.005)  # a sampling period, not a wait on a condition
        self.conn.close()

    def bounded(self) -> bool:
        assert self.most <= CONCURRENCY, f"{self.most} live leases at once, concurrency is 4"
        return True


def test_a_cut_off_worker_never_holds_more_leases_than_its_slots(
    db_url: str, tmp_path: Path, observe: Observer
) -> None:
    proxy = Proxy(int(urlsplit(db_url).port or 5432))
    env = dict(os.environ)
    cut_off = Processes(proxy.url(db_url), tmp_path / "worker", REPO, env)
    direct = Processes(db_url, tmp_path / "reaper", REPO, env)
    sampler = LeaseSampler(db_url)
    try:
        ids = [observe.submit("linger", {"sleep_s": 1}, max_attempts=50) for _ in range(24)]
        sampler.start()
        worker = cut_off.worker(CONCURRENCY)
        direct.reaper()
        running = "SELECT count(*) FROM tasks WHERE state = 'running'"
        wait_until(lambda: observe.value(running) == CONCURRENCY, 60, message="slots full")

        proxy.connect_delay_s = 0.5  # from now on a reconnect takes half a second
        proxy.hold()
        wait_until(lambda: "fencing" in worker.output(), 30, message="the worker fenced itself")
        # Cut off past the TTL: the reaper takes the leases back, as after a long freeze.
        wait_until(lambda: observe.value(running) == 0, 30, message="leases reaped")
        proxy.resume()

        def all_done() -> bool:
            sampler.bounded()
            return all(observe.state(t) == "completed" for t in ids)

        wait_until(all_done, 180, interval=0.2, message="every task completed")
    finally:
        sampler.done.set()
        cut_off.kill_all()
        direct.kill_all()
        proxy.close()
    assert sampler.samples > 100
    assert sampler.bounded()


def test_a_frozen_worker_wakes_without_overfilling_its_slots(
    processes: Processes, observe: Observer
) -> None:
    """SIGSTOP past the TTL: on waking, the worker's fence deadlines have all passed; it must
    neither claim before a heartbeat gets through nor count a fenced lease's slot as free."""
    sampler = LeaseSampler(processes.db_url)
    try:
        ids = [observe.submit("linger", {"sleep_s": 1}, max_attempts=50) for _ in range(24)]
        sampler.start()
        worker = processes.worker(CONCURRENCY)
        processes.reaper()
        running = "SELECT count(*) FROM tasks WHERE state = 'running'"
        wait_until(lambda: observe.value(running) == CONCURRENCY, 60, message="slots full")
        worker.signal(signal.SIGSTOP)
        wait_until(lambda: observe.value(running) == 0, 30, message="leases reaped")
        worker.signal(signal.SIGCONT)

        def all_done() -> bool:
            sampler.bounded()
            return all(observe.state(t) == "completed" for t in ids)

        wait_until(all_done, 180, interval=0.2, message="every task completed")
    finally:
        sampler.done.set()
    assert sampler.bounded()
