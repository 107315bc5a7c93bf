"""Drains: real worker processes (`python -m worker`) work off a backlog submitted in bulk, through
the product's own claim, heartbeat, fenced checkpoints and fenced completion, with a reaper
running as in any deployment. Throughput is read from the database clock: from the commit of the
submit to the last task's `finished_at`. A task that failed or ran twice (a lost lease) voids the
figure: the section reports it instead of a number."""

from __future__ import annotations

import time
from typing import Any

from bench import backlog
from bench.procs import Stack, wait_for

WARMUP = 20  # tasks run first, untimed, so imports and first compiles are not timed


def timed_drain(
    stack: Stack, graph: str, tasks: int, *, input: dict[str, Any] | None = None,
    timeout_s: float = 900.0,
) -> float:
    """Tasks per second for the workers already running on `stack` to drain `tasks` tasks of
    `graph`, after an untimed warm-up batch of the same graph."""
    done = backlog.progress(stack.url).completed
    backlog.submit(stack.url, graph, WARMUP, input)
    done += WARMUP
    wait_for(lambda: _settled(stack, done), 120, f"the {graph} warm-up tasks")
    started = backlog.submit(stack.url, graph, tasks, input)
    done += tasks
    deadline = time.monotonic() + timeout_s
    while not _settled(stack, done):
        if time.monotonic() > deadline:
            raise RuntimeError(f"drain of {tasks} {graph} tasks did not finish in {timeout_s}s")
        time.sleep(0.05)
    last = backlog.progress(stack.url).last_finished_at
    if last is None:
        raise RuntimeError("completed tasks without finished_at")
    return tasks / (last - started).total_seconds()


def _settled(stack: Stack, count: int) -> bool:
    state = backlog.progress(stack.url)
    if state.failed:
        raise RuntimeError(f"{state.failed} task(s) failed or were retried; see {stack.logs}")
    return state.completed >= count
