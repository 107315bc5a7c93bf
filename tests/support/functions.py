"""Function tasks for tests: registered in place of graphs (outlast/functions.py)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from outlast.context import TaskContext
from outlast.errors import NonRetryable


async def echo(task_input: dict[str, Any], task: TaskContext) -> dict[str, Any]:
    """Return the input with the attempt that ran it."""
    return {"echo": task_input, "attempt": task.attempt, "task_id": str(task.task_id)}


def shout(task_input: dict[str, Any]) -> str:
    """A plain (sync) function, run in a thread."""
    return str(task_input.get("text", "")).upper()


async def explode(task_input: dict[str, Any], task: TaskContext) -> None:
    """Fail `fail_times` attempts (retryably), then succeed; or fail for good if `fatal`."""
    if task_input.get("fatal"):
        raise NonRetryable("this input can never work")
    if task.attempt <= int(task_input.get("fail_times", 0)):
        raise RuntimeError(f"boom on attempt {task.attempt}")


async def linger(task_input: dict[str, Any]) -> dict[str, Any]:
    """Sleep `sleep_s`, noting in the file `started` that it began (so a test knows when)."""
    if started := task_input.get("started"):
        fd = os.open(started, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, b"started\n")
        os.close(fd)
    await asyncio.sleep(float(task_input.get("sleep_s", 60)))
    return {"slept": True}


def block(task_input: dict[str, Any], task: TaskContext) -> str:
    """A plain function that blocks its thread for `sleep_s`, noting `start`/`end` lines in the
    file `log`; with `polite`, it returns early once asked to stop."""
    note(task_input["log"], "start")
    deadline = time.monotonic() + float(task_input.get("sleep_s", 60))
    try:
        while time.monotonic() < deadline:
            if task_input.get("polite") and task.stop_requested():
                return "stopped"
            time.sleep(0.05)
        return "slept"
    finally:
        note(task_input["log"], "end")


def note(path: str, line: str) -> None:
    # O_APPEND writes of one short line are atomic: concurrent calls never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


REGISTERED = {
    "echo": "tests.support.functions:echo",
    "shout": "tests.support.functions:shout",
    "explode": "tests.support.functions:explode",
    "linger": "tests.support.functions:linger",
    "block": "tests.support.functions:block",
}
