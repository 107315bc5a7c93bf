"""Section 8: a worker's resident memory while `rss_tasks` tasks are in flight at once, each
waiting inside a node on slow I/O (bench-sleeper: an `await asyncio.sleep`, as a node awaits an
LLM or an HTTP call). The worker runs with that many slots; the figure is taken once every task
has written its first checkpoint and sits in its node."""

from __future__ import annotations

import time

from bench import backlog
from bench.procs import rss_mib, scalar, wait_for
from bench.session import Session, say
from bench.table import Row


def _all_in_flight(url: str, count: int) -> bool:
    running = scalar(url, "SELECT count(*) FROM tasks WHERE state = 'running'")
    threads = scalar(url, "SELECT count(DISTINCT thread_id) FROM checkpoints")
    return bool(running == count and threads == count)


def worker_rss(session: Session) -> list[Row]:
    count = session.config.count("rss_tasks")
    with session.database("memory") as stack:
        (worker,) = stack.workers(1, count)
        time.sleep(1.0)
        idle = rss_mib(worker.pid)
        say(f"memory: {count} tasks in flight in one worker")
        backlog.submit(stack.url, "bench-sleeper", count, {"sleep_s": 600})
        wait_for(lambda: _all_in_flight(stack.url, count), 120, f"{count} tasks in flight")
        time.sleep(1.0)
        loaded = rss_mib(worker.pid)
        stack.kill(worker)
    return [
        Row("8", "worker RSS, idle (registered, listening)", idle, "MiB"),
        Row(
            "8",
            f"worker RSS, {count} tasks in flight on slow I/O",
            loaded,
            "MiB",
            note=f"one worker process with --concurrency {count}; each task waits in a node "
            f"(asyncio.sleep) after its first checkpoint; "
            f"{(loaded - idle) * 1024 / count:.0f} KiB per in-flight task over idle",
        ),
    ]
