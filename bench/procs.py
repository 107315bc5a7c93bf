"""Real Outlast processes (`python -m worker`, `python -m reaper`, the API) against one bench
database, each with its log in the run's temp dir. Every process started here is ended here, by
its own pid."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
import psycopg

from bench.graphs import graphs_env

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, every: float = 0.02) -> T:
    """Poll `predicate` until it is truthy; RuntimeError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


def scalar(url: str, sql: str, *params: object) -> Any:
    """The first column of the first row of `sql` (one of our own statements), or None."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql.encode(), params).fetchone()
    return None if row is None else row[0]


@dataclass
class Stack:
    """Processes of one section. `settings` are OUTLAST_* values every process gets."""

    url: str
    logs: Path
    settings: dict[str, str]
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker_pids: set[int] = field(default_factory=set)

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTLAST_", "BENCH_"))}
        env.update(self.settings)
        env.update(extra)
        env["DATABASE_URL"] = self.url
        env["OUTLAST_GRAPHS"] = graphs_env()
        env["PYTHONPATH"] = str(REPO)
        return env

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}-{len(self.started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed argv)
                [sys.executable, *argv],
                cwd=REPO,
                env=self._env(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(proc)
        return proc

    def workers(self, count: int, concurrency: int, **env: str) -> list[subprocess.Popen[bytes]]:
        """Start `count` workers and wait until each is registered and, unless NOTIFY is off,
        listening: a submit made after this returns reaches them."""
        procs = [
            self.start("worker", ["-m", "worker", "--concurrency", str(concurrency)], **env)
            for _ in range(count)
        ]
        pids = [p.pid for p in procs]
        self.worker_pids.update(pids)
        listening = env.get("OUTLAST_NOTIFY", "true") != "false"
        wait_for(lambda: self._ready(pids, listening), 60, f"{count} worker(s) to start")
        return procs

    def _ready(self, pids: list[int], listening: bool) -> bool:
        self._check_alive()
        registered = scalar(self.url, "SELECT count(*) FROM workers WHERE pid = ANY(%s)", pids)
        if registered != len(pids):
            return False
        if not listening:
            return True
        listeners = scalar(
            self.url,
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN %%'",
        )
        return isinstance(listeners, int) and listeners >= self._listeners_expected()

    def _listeners_expected(self) -> int:
        return sum(1 for p in self.started if p.poll() is None and p.pid in self.worker_pids)

    def _check_alive(self) -> None:
        for proc in self.started:
            if proc.poll() is not None and proc.returncode not in (0, -signal.SIGKILL):
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}; see {self.logs}")

    def reaper(self) -> subprocess.Popen[bytes]:
        return self.start("reaper", ["-m", "reaper"])

    def api(self, port: int) -> subprocess.Popen[bytes]:
        # The bench measures the API's throughput, not its per-key rate limit: lift it.
        return self.start(
            "api",
            ["-m", "outlast.cli", "api", "--port", str(port)],
            OUTLAST_RATE_LIMIT_PER_S="1e9",
            OUTLAST_RATE_LIMIT_BURST="1000000000",
        )

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.started:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill(proc)
        self.started.clear()


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def drain_rate(
    target: Callable[[str, int, Any, Any], None],
    url: str,
    batch: int,
    processes: int,
    tasks: int,
    what: str,
) -> float:
    """Tasks per second for `processes` spawned processes running `target(url, batch, go, out)`.
    Each puts ("ready", 0) once connected, waits for `go`, drains, then puts (done, finished at);
    the clock starts when all are ready, so every process starts at the same line."""
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(url, batch, go, out)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    for _ in procs:
        out.get(timeout=120)
    started = time.monotonic()
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(30)
    done: int = sum(r[0] for r in results)
    if done != tasks:
        raise RuntimeError(f"{what} drained {done} of {tasks} tasks")
    finished: float = max(r[1] for r in results)
    return done / (finished - started)
