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


# What `unstorable` returns, by input.kind: values Postgres jsonb cannot hold as they are.
UNSTORABLE: dict[str, Any] = {
    "nan": {"score": float("nan")},
    "infinity": [float("inf")],
    "huge_int": 10**5000,  # past Python's int-to-text limit
    "surrogate": {"name": "caf\udce9"},  # a lone surrogate (undecodable bytes, surrogateescape)
    "nul": "a\x00b",
}


async def unstorable(task_input: dict[str, Any]) -> Any:
    """Return a result Postgres would refuse (input.kind picks which, see UNSTORABLE)."""
    return UNSTORABLE[task_input["kind"]]


async def refuse(task_input: dict[str, Any]) -> None:
    """Raise an error whose message Postgres would refuse as it is (a NUL, a lone surrogate):
    NonRetryable if `fatal`, a TypeError if `type_error`, else a RuntimeError."""
    message = "refused \x00 caf\udce9"
    if task_input.get("fatal"):
        raise NonRetryable(message)
    if task_input.get("type_error"):
        raise TypeError(message)
    raise RuntimeError(message)


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
    "unstorable": "tests.support.functions:unstorable",
    "refuse": "tests.support.functions:refuse",
    "block": "tests.support.functions:block",
}
