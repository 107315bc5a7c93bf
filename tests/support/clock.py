"""A real process whose wall clock is off: libfaketime (Debian's `faketime` package) preloaded
into it with a relative offset. Only the wall clock moves (time.time(), which LangGraph's uuid6
checkpoint ids read); the monotonic clock is left alone, as a skewed host would have it."""

from __future__ import annotations

import glob

import pytest

# The multi-threaded build: a worker runs threads (asyncio.to_thread, the pool), and the plain
# build can deadlock in one.
LIBFAKETIME = "/usr/lib/*/faketime/libfaketimeMT.so.1"


def skewed(offset: str) -> dict[str, str]:
    """Environment for a process whose wall clock is `offset` off ("-300s", "+300s");
    skips the test when libfaketime is not installed."""
    found = sorted(glob.glob(LIBFAKETIME))
    if not found:
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    return {
        "LD_PRELOAD": found[0],
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        # Without this, libfaketime rewrites the deadlines of timed waits on monotonic condition
        # variables too, and every GIL hand-off to a thread stalls (a worker crawled).
        "FAKETIME_FORCE_MONOTONIC_FIX": "0",
    }
