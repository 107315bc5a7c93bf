"""The worker's own threads for blocking work: plain `def` task functions.

A thread cannot be interrupted. So a blocking call runs on a thread of its own, never on the
event loop's default executor, whose few threads LangGraph and psycopg need (a graph's sync
nodes, name lookups): calls that block there starved other tasks' checkpoint writes. At most
`limit` calls run at once, and the worker's concurrency is the limit.

When its task is cancelled, times out or loses its lease, the call is asked to stop
(`TaskContext.stop_requested()` turns true) and the task's runner keeps waiting for the thread to
return: its slot stays taken, so the worker never runs more calls, or tasks, than its
concurrency, and a retry never runs beside the abandoned call in this worker. What the call
returns then is dropped. Only at shutdown are running calls abandoned: the leases are released
and the process exits, ending the (daemon) threads with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any


class BlockingCalls:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0
        self._slots = asyncio.Semaphore(limit)
        self._abandoned = asyncio.Event()

    async def run(self, fn: Callable[..., Any], *args: Any, stop: threading.Event) -> Any:
        """`fn(*args)` on its own thread. Cancelled, it sets `stop`, waits for the thread to
        return (unless abandoned at shutdown), then raises CancelledError."""
        async with self._slots:
            future = asyncio.get_running_loop().create_future()
            thread = threading.Thread(
                target=_call,
                args=(asyncio.get_running_loop(), future, contextvars.copy_context(), fn, args),
                name="outlast-blocking",
                daemon=True,
            )
            self.running += 1
            future.add_done_callback(self._returned)
            thread.start()
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                stop.set()
                await self._until_returned(future)
                raise

    def abandon(self) -> None:
        """Shutdown: stop waiting for calls still running."""
        self._abandoned.set()

    def _returned(self, _future: asyncio.Future[Any]) -> None:
        self.running -= 1

    async def _until_returned(self, future: asyncio.Future[Any]) -> None:
        """Wait for the thread whatever else cancels us meanwhile (each cancel is the same
        request: stop); the caller re-raises the first one."""
        abandoned = asyncio.ensure_future(self._abandoned.wait())
        try:
            while not future.done() and not abandoned.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([future, abandoned], return_when=asyncio.FIRST_COMPLETED)
        finally:
            abandoned.cancel()


def _call(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    context: contextvars.Context,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
) -> None:
    try:
        result, error = context.run(fn, *args), None
    except BaseException as exc:  # the task's own error, reported as the attempt's failure
        result, error = None, exc
    with contextlib.suppress(RuntimeError):  # the loop is closed: the worker has exited
        loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
