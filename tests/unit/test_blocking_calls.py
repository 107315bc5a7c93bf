"""The worker's own threads for plain `def` functions: a cancelled call is asked to stop and
waited for, so its slot is not freed while its thread still runs; only shutdown abandons it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from worker.blocking import BlockingCalls


async def test_a_result_and_an_error_come_back() -> None:
    calls = BlockingCalls(2)
    stop = threading.Event()
    assert await calls.run(lambda x: x * 2, 21, stop=stop) == 42
    with pytest.raises(ZeroDivisionError):
        await calls.run(lambda: 1 / 0, stop=stop)
    assert calls.running == 0


async def test_a_cancelled_call_is_asked_to_stop_and_waited_for() -> None:
    calls = BlockingCalls(1)
    stop, release = threading.Event(), threading.Event()

    def rude() -> str:
        release.wait(30)  # ignores `stop`: only the test lets it return
        return "late"

    runner = asyncio.create_task(calls.run(rude, stop=stop))
    while calls.running == 0:
        await asyncio.sleep(0.01)
    runner.cancel()
    await asyncio.to_thread(stop.wait, 30)
    runner.cancel()  # a second cancel (lease lost meanwhile) is the same request
    await asyncio.sleep(0.05)
    assert not runner.done(), "the slot was freed while the thread still runs"
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert calls.running == 0


async def test_shutdown_abandons_a_call_that_never_returns() -> None:
    calls = BlockingCalls(1)
    release = threading.Event()
    runner = asyncio.create_task(calls.run(release.wait, 30, stop=threading.Event()))
    while calls.running == 0:
        await asyncio.sleep(0.01)
    runner.cancel()
    calls.abandon()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(runner, 10)
    release.set()
