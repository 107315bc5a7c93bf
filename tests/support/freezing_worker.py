"""A real worker process (`python -m worker`) that stops itself with SIGSTOP in the middle of
one pipelined checkpoint write, after its statements reached the server and before the Sync that
would commit them: a worker frozen mid-pipeline, holding that write's locks.

FREEZE_AT chooses where: `writes` stops right after a pending-writes batch (`aput_writes`) was
sent, before its fence (its checkpoint_writes rows are locked: whoever re-runs that node waits on
them); `fence` stops right after a fence was sent (the task row is share-locked: the reaper skips
it). FREEZE_ON is which such write (1-based) stops the process."""

from __future__ import annotations

import os
import signal
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from db import lease
from worker.__main__ import main

POINT = os.environ["FREEZE_AT"]
ON = int(os.environ.get("FREEZE_ON", "3"))
seen = 0


def freeze_if_due(point: str) -> None:
    global seen
    if point != POINT:
        return
    seen += 1
    if seen == ON:
        print(f"freezing at {point} #{seen}", flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)


stock_aput_writes = AsyncPostgresSaver.aput_writes
stock_fence_last = lease.fence_last


async def aput_writes(self: AsyncPostgresSaver, *args: Any, **kwargs: Any) -> None:
    await stock_aput_writes(self, *args, **kwargs)
    freeze_if_due("writes")


async def fence_last(*args: Any, **kwargs: Any) -> None:
    await stock_fence_last(*args, **kwargs)
    freeze_if_due("fence")


AsyncPostgresSaver.aput_writes = aput_writes  # type: ignore[method-assign]
lease.fence_last = fence_last

if __name__ == "__main__":
    main()
