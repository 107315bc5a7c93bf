"""Section 6: recovery after SIGKILL.

A worker holds a task whose node waits (bench-sleeper), a second worker stands by idle, a reaper
runs. The holder is killed with SIGKILL; recovery is the time from the kill (the database clock,
read right after it) to the task's next attempt starting on the standby (`attempt_started_at`).
It is bounded by the lease TTL (the last heartbeat may have just extended it) plus one reaper
interval (±20% jitter); the NOTIFY the reaper sends wakes the standby at once.

Each trial is a task's first crash, with a task of its own: from a task's second lost lease on,
the reaper backs it off (a crash loop slows down; ADR 0002), which is not what this measures.
After a trial the standby is killed too; its task has spent its attempts, so it fails and the
next trial's holder claims only the next trial's task.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
from datetime import datetime
from typing import Any

import psycopg

from bench import backlog
from bench.procs import Stack, scalar, wait_for
from bench.session import Session, say
from bench.stats import percentile
from bench.table import Row, Target


def _holder_pid(url: str, task_id: Any, epoch: int) -> int | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT w.pid FROM tasks t JOIN workers w ON w.id = t.worker_id"
            " WHERE t.id = %s AND t.state = 'running' AND t.lease_epoch > %s",
            (task_id, epoch),
        ).fetchone()
    return None if row is None else int(row[0])


def _holds(url: str, task_id: Any, pid: int) -> bool:
    return _holder_pid(url, task_id, 0) == pid


def _trial(
    stack: Stack, task_id: Any, holder: subprocess.Popen[bytes], ttl_s: float, interval_s: float
) -> tuple[float, subprocess.Popen[bytes]]:
    (standby,) = stack.workers(1, 1)
    epoch = int(scalar(stack.url, "SELECT lease_epoch FROM tasks WHERE id = %s", task_id))
    os.kill(holder.pid, signal.SIGKILL)
    killed_at: datetime = scalar(stack.url, "SELECT clock_timestamp()")
    holder.wait(10)
    pid = wait_for(
        lambda: _holder_pid(stack.url, task_id, epoch),
        ttl_s + interval_s + 60,
        "the task to run on the standby worker",
    )
    if pid != standby.pid:
        raise RuntimeError(f"the task went to pid {pid}, not the standby {standby.pid}")
    started: datetime = scalar(
        stack.url, "SELECT attempt_started_at FROM tasks WHERE id = %s", task_id
    )
    return (started - killed_at).total_seconds(), standby


def recovery(session: Session) -> list[Row]:
    cfg = session.config
    trials = cfg.recovery_trials
    times = []
    with session.database("recovery") as stack:
        stack.reaper()
        for n in range(trials):
            say(f"recovery: SIGKILL trial {n + 1} of {trials}")
            (holder,) = stack.workers(1, 1)
            backlog.submit(stack.url, "bench-sleeper", 1, {"sleep_s": 3600}, max_attempts=2)
            task_id = scalar(stack.url, "SELECT id FROM tasks ORDER BY created_at DESC LIMIT 1")
            holds = functools.partial(_holds, stack.url, task_id, holder.pid)
            wait_for(holds, 60, "the holder to hold the trial's task")
            took, standby = _trial(stack, task_id, holder, cfg.lease_ttl_s, cfg.reaper_interval_s)
            times.append(took)
            os.kill(standby.pid, signal.SIGKILL)
            standby.wait(10)
    bound = cfg.lease_ttl_s + cfg.reaper_interval_s
    return [
        Row(
            "6",
            f"recovery after SIGKILL, median of {trials}",
            percentile(times, 50),
            "s",
            baseline=bound,
            note=f"baseline: lease TTL {cfg.lease_ttl_s:g}s + reaper interval "
            f"{cfg.reaper_interval_s:g}s; heartbeat every TTL/3",
        ),
        Row(
            "6",
            f"recovery after SIGKILL, worst of {trials}",
            max(times),
            "s",
            baseline=bound,
            target=Target("<=", bound + 1, on="value", unit="s"),
        ),
    ]
