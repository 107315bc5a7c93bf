"""Function tasks: a plain Python function registered in place of a graph.

For work that is one step (send the email, call the API once, index the document), a graph and
its checkpoints are overhead. A function task is claimed, heartbeated, fenced, retried,
timed out, cancelled and dead-lettered exactly as a graph task is, and writes the same event
rows; it has no checkpoints, so a retry runs the whole function again.

The function takes the task's input, and optionally the TaskContext:

    async def send_invoice(input: dict) -> dict: ...
    async def send_invoice(input: dict, task: TaskContext) -> dict: ...

Its return value (anything JSON can encode; the rest is made JSON-safe; NaN or Infinity fail the
task, see outlast/jsonsafe.py) is the task's result.
An `async def` runs on the worker's event loop and is cancelled at once when the task is
cancelled. A plain `def` runs on a thread of the worker's own (worker/blocking.py), never on the
event loop's default executor. A thread cannot be interrupted: when the task is cancelled, times
out or loses its lease, `task.stop_requested()` turns true, and the worker keeps the task's slot
(and, while it holds it, the lease) until the function returns; only then is the cancel or the
timeout recorded, and what the function returned is dropped. Raise
`outlast.errors.NonRetryable` to fail for good.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from outlast.context import TaskContext


def is_graph(obj: Any) -> bool:
    """A StateGraph builder (has `compile`) or a compiled graph (has `astream`)."""
    return hasattr(obj, "compile") or hasattr(obj, "astream")


@dataclass(frozen=True)
class TaskFunction:
    fn: Callable[..., Any]
    is_async: bool
    takes_context: bool

    @classmethod
    def wrap(cls, fn: Callable[..., Any]) -> TaskFunction:
        """Raises TypeError unless `fn` takes (input) or (input, task)."""
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        required = [p for p in params if p.default is p.empty]
        if not params or len(required) > 2:
            raise TypeError("a task function takes (input) or (input, task: TaskContext)")
        return cls(fn, inspect.iscoroutinefunction(fn), len(params) >= 2)

    async def call(
        self, task_input: dict[str, Any], task: TaskContext, run_sync: RunSync | None = None
    ) -> Any:
        """Call the function; a plain `def` through `run_sync(fn, *args)` (the worker's own
        threads), or asyncio.to_thread outside a worker."""
        args = (task_input, task) if self.takes_context else (task_input,)
        if self.is_async:
            return await self.fn(*args)
        return await (run_sync or asyncio.to_thread)(self.fn, *args)


RunSync = Callable[..., Awaitable[Any]]
