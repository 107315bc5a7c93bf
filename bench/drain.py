"""Drains: real worker processes (`python -m worker`) work off a backlog submitted in bulk, through
the product's own claim, heartbeat, fenced checkpoints and fenced completion, with a reaper
running as in any deployment. Throughput is read from the database clock: from the commit of the
submit to the last task's `finished_at`. A task that failed or ran twice (a lost lease) voids the
figure: the section reports it instead of a number.

While the workers drain, the bench watches from one connection with a query the indexes answer
(tasks still queued or running), a few times a second: the watcher must not take the CPU the
workers and the server are measured on (a connection per look, or a scan of the whole table 20
times a second, costs a 2-core machine a good part of a core)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import psycopg

from bench import backlog
from bench.procs import Stack

WARMUP = 20  # tasks run first, untimed, so imports and first compiles are not timed
LOOK_EVERY_S = 0.2
UNFINISHED = "SELECT count(*) FROM tasks WHERE state IN ('queued', 'running')"


def timed_drain(
    stack: Stack,
    graph: str,
    tasks: int,
    *,
    input: dict[str, Any] | None = None,
    timeout_s: float = 900.0,
) -> float:
    """Tasks per second for the workers already running on `stack` to drain `tasks` tasks of
    `graph`, after an untimed warm-up batch of the same graph."""
    before = backlog.progress(stack.url).completed
    backlog.submit(stack.url, graph, WARMUP, input)
    _drained(stack, before + WARMUP, 120, f"the {graph} warm-up tasks")
    started = backlog.submit(stack.url, graph, tasks, input)
    last = _drained(stack, before + WARMUP + tasks, timeout_s, f"{tasks} {graph} tasks")
    return tasks / (last - started).total_seconds()


def _drained(stack: Stack, completed: int, timeout_s: float, what: str) -> datetime:
    """Wait until nothing is queued or running, then check that every task completed once;
    the last task's finished_at."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(stack.url, autocommit=True) as conn:
        while _count(conn) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the drain of {what} did not finish in {timeout_s:g}s")
            time.sleep(LOOK_EVERY_S)
    state = backlog.progress(stack.url)
    if state.failed:
        raise RuntimeError(f"{state.failed} task(s) failed or were retried; see {stack.logs}")
    if state.completed < completed or state.last_finished_at is None:
        raise RuntimeError(f"{completed - state.completed} of {what} did not complete")
    return state.last_finished_at


def _count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(UNFINISHED).fetchone()
    return int(row[0]) if row else 0
