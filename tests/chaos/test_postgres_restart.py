"""Postgres itself fails under load: an immediate restart (no shutdown checkpoint; recovery from
the WAL, as after a crash) and pg_terminate_backend on the workers' sessions, each while tasks
are in flight. Three worker processes, a reaper and the API run against a dedicated embedded
server with fsync on, since durability is what is tested.

Afterwards: every task completed, once; each attempt ended once; each graph task's checkpoints
are one chain; no lease left behind; and the API answered every read with a 2xx except while
the server was down.

`make test` runs it at 300 tasks; `make soak` at OUTLAST_SOAK_TASKS."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from db import migrate
from outlast.embedded import EmbeddedPostgres, free_port
from tests.conftest import REPO
from tests.support import keys
from tests.support.faults import SESSIONS_OF, attempt_endings, forked_threads, held, sessions_of
from tests.support.observe import Observer
from tests.support.poller import Answer, Poller, outside
from tests.support.processes import Proc, Processes
from tests.support.wait import wait_until

TASKS = int(os.environ.get("OUTLAST_SOAK_TASKS", "300"))
# The first restart happens while nobody reads the API (its pooled connections sit idle, and
# are dead when reads resume); the second while it is read without a pause.
FAULTS = ("terminate", "quiet restart", "terminate", "restart", "terminate")
# Faults are spaced by work done, not by time: each waits for this many more completions.
PROGRESS = max(TASKS // 12, 5)


@dataclass
class Cluster:
    """The dedicated server and the processes and reads that depend on it."""

    server: EmbeddedPostgres
    processes: Processes
    observe: Observer
    workers: list[Proc] = field(default_factory=list)
    down: list[tuple[float, float]] = field(default_factory=list)  # (stopped, accepting again)

    def restart(self) -> None:
        """Stop the server in immediate mode and start it on the same port and data."""
        stopped = time.monotonic()
        self.server.stop(mode="immediate")
        with contextlib.suppress(psycopg.Error):
            self.observe.close()
        self.server.start()  # returns once the server accepts connections
        self.down.append((stopped, time.monotonic()))
        self.observe = Observer(self.server.url())

    def terminate_worker_sessions(self) -> int:
        """pg_terminate_backend on every session of every worker; how many it ended."""
        return int(
            self.observe.value(
                f"SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {SESSIONS_OF}",  # noqa: S608 (a constant)
                *sessions_of(*self.workers),
            )
        )

    def completed(self) -> int:
        return int(self.observe.value("SELECT count(*) FROM tasks WHERE state = 'completed'"))

    def in_flight(self) -> int:
        return sum(len(held(self.observe, w)) for w in self.workers)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    # Not tmp_path for the data: as root the server runs as another user, who could not reach
    # pytest's 0700 directories (tests/e2e/test_make_start.py).
    root = Path(tempfile.mkdtemp(prefix="outlast-restart-"))
    server = EmbeddedPostgres(root, free_port())  # default settings: fsync and full_page_writes
    processes: Processes | None = None
    try:
        migrate.upgrade(server.start())
        keys.install(server.url())
        processes = Processes(server.url(), tmp_path / "logs", REPO, dict(os.environ))
        local = Cluster(server, processes, Observer(server.url()))
        yield local
        with contextlib.suppress(psycopg.Error):
            local.observe.close()
    finally:
        if processes is not None:
            processes.kill_all()
        server.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


def submit_mix(observe: Observer, rng: random.Random) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Two thirds pipeline graphs (a checkpoint per node), one third function tasks; return
    (graph task ids, function task ids)."""
    graphs, functions = [], []
    for i in range(TASKS):
        if i % 3:
            text = {"text": f"Task {i}. The server restarts. Nothing is lost.", "delay_s": 0.2}
            graphs.append(observe.submit("pipeline", text, max_attempts=25))
        elif rng.random() < 0.5:
            functions.append(observe.submit("linger", {"sleep_s": 0.5}, max_attempts=25))
        else:
            functions.append(observe.submit("echo", {"n": i}, max_attempts=25))
    return graphs, functions


def start_api(processes: Processes) -> str:
    port = free_port()
    processes.api(port)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        return False

    wait_until(healthy, 120, interval=0.2, message="the API to answer /healthz")
    return base


def inject(cluster: Cluster, poller: Poller, fault: str) -> str:
    """One fault, landing on tasks in flight (the database shows workers holding leases)."""
    wait_until(cluster.in_flight, 60, message="workers holding leases")
    if fault == "terminate":
        ended = cluster.terminate_worker_sessions()
        assert ended > 0
        return f"terminated {ended} worker sessions"
    running = cluster.observe.value("SELECT count(*) FROM tasks WHERE state = 'running'")
    if fault == "quiet restart":
        poller.pause()
    cluster.restart()
    poller.resume()
    return f"{fault} with {running} tasks running"


def unfinished(cluster: Cluster) -> list[dict[str, Any]]:
    """The tasks not completed, with who holds them and how far they got."""
    return cluster.observe.rows(
        "SELECT t.id, t.graph, t.state, t.attempts, t.lease_epoch, w.pid AS worker_pid,"
        " t.lease_expires_at > outlast_now() AS lease_live,"
        " (SELECT count(*) FROM checkpoints c WHERE c.thread_id = t.id::text) AS checkpoints"
        " FROM tasks t LEFT JOIN workers w ON w.id = t.worker_id"
        " WHERE t.state <> 'completed' ORDER BY t.id LIMIT 10"
    )


def log_lines(procs: list[Proc], *needles: str) -> dict[str, int]:
    text = "".join(p.output() for p in procs)
    return {n: text.count(n) for n in needles}


def describe(answer: Answer, down: list[tuple[float, float]]) -> str:
    since = max((up for _, up in down if up <= answer.sent), default=None)
    when = "before any restart" if since is None else f"{answer.sent - since:.2f}s after up"
    return f"GET {answer.path} -> {answer.status} {when}: {answer.detail[-60:]}"


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_restart_and_terminated_sessions_lose_nothing_and_the_api_stays_up(
    cluster: Cluster,
) -> None:
    rng = random.Random(int(os.environ.get("OUTLAST_SOAK_SEED", "7")))
    graph_ids, function_ids = submit_mix(cluster.observe, rng)
    all_ids = graph_ids + function_ids
    poller = Poller(start_api(cluster.processes), all_ids)
    poller.start()
    cluster.workers = [cluster.processes.worker(concurrency=8) for _ in range(3)]
    reaper = cluster.processes.reaper()
    notes = []
    try:
        for fault in FAULTS:
            goal = cluster.completed() + PROGRESS
            wait_until(lambda g=goal: cluster.completed() >= g, 120, message=f"{goal} completed")
            notes.append(inject(cluster, poller, fault))
        try:
            wait_until(lambda: cluster.completed() == TASKS, 60 + TASKS * 0.2, interval=0.5)
        except AssertionError as exc:
            raise AssertionError(f"not all tasks completed: {unfinished(cluster)}") from exc
    finally:
        poller.stop()
    observe = cluster.observe
    procs = [*cluster.workers, reaper]
    print("faults:", "; ".join(notes))
    print("logs:", log_lines(procs, "runner crashed", "claim failed", "heartbeat failed"))

    # Every task completed, exactly once, and each attempt ended exactly once.
    assert observe.value("SELECT count(*) FROM tasks") == TASKS
    completions = observe.rows(
        "SELECT task_id, count(*) AS n FROM task_events WHERE kind = 'completed' GROUP BY task_id"
    )
    assert {r["task_id"] for r in completions} == set(all_ids)
    assert [r for r in completions if r["n"] != 1] == []
    assert {a: e for a, e in attempt_endings(observe).items() if len(e) != 1} == {}
    assert observe.value("SELECT count(*) FROM dead_letters") == 0
    # Each graph task's checkpoints form one chain; function tasks write none.
    assert forked_threads(observe) == []
    threads = {r["thread_id"] for r in observe.rows("SELECT DISTINCT thread_id FROM checkpoints")}
    assert threads == {str(t) for t in graph_ids}
    # Every lease came back: nothing running, no finished task still names a worker.
    assert observe.value("SELECT count(*) FROM tasks WHERE state = 'running'") == 0
    assert observe.value("SELECT count(*) FROM tasks WHERE worker_id IS NOT NULL") == 0

    # The API answered every read made while the server accepted connections.
    judged = outside(poller.answers, cluster.down)
    failed = [a for a in judged if a.status is None or a.status >= 300]
    print(f"api: {len(poller.answers)} reads, {len(judged)} while up, {len(failed)} not 2xx")
    for _, up in cluster.down:
        assert any(a.sent >= up for a in judged), "the API was not read after a restart"
    assert failed == [], "\n".join(describe(a, cluster.down) for a in failed[:10])
