"""The one way a background loop waits: a jittered pause that a stop event cuts short."""

from __future__ import annotations

import asyncio
import contextlib
import random


def jittered(seconds: float, spread: float = 0.2) -> float:
    """`seconds` +- `spread` (a fraction), so many processes do not tick in step."""
    return seconds * random.uniform(1 - spread, 1 + spread)  # noqa: S311 (not cryptography)


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
