"""Ceiling B: LangGraph alone: `ainvoke` of the bench graphs with the stock AsyncPostgresSaver
(durability="sync"), at the worker's concurrency, in a fresh process of its own (as each worker
is): `python -m bench.ceiling_graph URL GRAPH TASKS CONCURRENCY` prints runs per second. No queue,
no lease, no fence.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from bench import graphs
from bench.procs import REPO
from db.connect import open_pool


async def _runs_per_s(url: str, graph_name: str, tasks: int, concurrency: int) -> float:
    pool = await open_pool(url, min_size=concurrency, max_size=concurrency + 2)
    try:
        builder = getattr(graphs, graph_name)
        graph = builder.compile(checkpointer=AsyncPostgresSaver(pool))

        async def run(count: int) -> None:
            for _ in range(count):
                config: Any = {"configurable": {"thread_id": str(uuid.uuid4())}}
                await graph.ainvoke({"n": 0}, config, durability="sync")

        await asyncio.gather(*(run(5) for _ in range(concurrency)))  # warm up
        shares = [tasks // concurrency + (i < tasks % concurrency) for i in range(concurrency)]
        started = time.perf_counter()
        await asyncio.gather(*(run(share) for share in shares))
        return tasks / (time.perf_counter() - started)
    finally:
        await pool.close()


def ceiling_b(url: str, graph_name: str, tasks: int, concurrency: int) -> float:
    """Graph runs per second (`graph_name` in bench.graphs): bare `ainvoke` with the stock saver,
    `concurrency` at a time, measured in a fresh process."""
    argv = [
        sys.executable,
        "-m",
        "bench.ceiling_graph",
        url,
        graph_name,
        str(tasks),
        str(concurrency),
    ]
    done = subprocess.run(  # noqa: S603 (our own module, fixed argv)
        argv,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ceiling B failed: {done.stderr.strip()[-500:]}")
    return float(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    url, graph_name, tasks, concurrency = sys.argv[1:5]
    print(asyncio.run(_runs_per_s(url, graph_name, int(tasks), int(concurrency))))
