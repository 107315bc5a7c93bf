"""A replay from model call N reuses the original's tool outcomes for the tool calls made before
its N-th model call: a counting tool is not run again for them, and runs for the calls after
(ADR 0023)."""

from __future__ import annotations

import uuid
from typing import Any

from db.connect import Pool
from db.llm_call import ReplaySource
from outlast.tool import TOOLS_KEY, Tool, ToolContext, ToolLimits
from outlast.toolcall import call_tool
from tests.support.queue import claim_one, count, new_worker, submit
from worker.tools import PgToolRuntime

RUNS: list[dict[str, Any]] = []


async def counted(arguments: dict[str, Any], context: ToolContext) -> Any:
    RUNS.append(arguments)
    return {"n": arguments["n"], "run": len(RUNS)}


COUNTER = Tool("counter", "Counts its runs.", {"type": "object"}, counted, idempotent=False)


def node(runtime: PgToolRuntime, step: int) -> dict[str, Any]:
    """A node run's config: its step and namespace (task-specific, as LangGraph's are)."""
    return {
        "metadata": {"langgraph_step": step, "langgraph_checkpoint_ns": f"agent:{uuid.uuid4()}"},
        "configurable": {TOOLS_KEY: runtime},
    }


async def answered(pool: Pool, task_id: uuid.UUID, epoch: int, n: int) -> None:
    """The task's n-th model call, completed (as the journal records one)."""
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO llm_calls (tenant, task_id, step_key, seq, lease_epoch, request_digest,"
            " request, status) VALUES ('default', %s, %s, 0, %s, 'd', '{}', 'completed')",
            (task_id, f"model-{n}", epoch),
        )


async def run_task(pool: Pool, replay: ReplaySource | None) -> tuple[uuid.UUID, list[Any]]:
    """Three turns: a model call, then a tool call (n = 1, 2, 3)."""
    await submit(pool)
    claim = await claim_one(pool, await new_worker(pool))
    runtime = PgToolRuntime(pool, claim.task_id, claim.epoch, ToolLimits(), replay)
    results = []
    for n in (1, 2, 3):
        await answered(pool, claim.task_id, claim.epoch, n)
        config = node(runtime, 2 * n)
        result = await call_tool(config, "counter", {"n": n}, tools={"counter": COUNTER})
        results.append((result.content, result.reused))
    return claim.task_id, results


async def test_tool_calls_before_call_n_are_not_run_again(pool: Pool) -> None:
    RUNS.clear()
    original, first = await run_task(pool, None)
    assert len(RUNS) == 3 and not any(reused for _, reused in first)

    # Replay from model call 3: the tool calls after calls 1 and 2 are the original's.
    replay, again = await run_task(pool, ReplaySource(original, 3))
    assert len(RUNS) == 4  # only the tool call after the fresh call 3 ran
    assert again[:2] == [(first[0][0], True), (first[1][0], True)]
    assert again[2] == ({"n": 3, "run": 4}, False)
    reused = await count(
        pool,
        "SELECT count(*) FROM tool_calls WHERE task_id = %s AND replay_of_call IS NOT NULL",
        replay,
    )
    assert reused == 2


async def test_other_arguments_run_the_tool(pool: Pool) -> None:
    RUNS.clear()
    original, _ = await run_task(pool, None)
    await submit(pool)
    claim = await claim_one(pool, await new_worker(pool))
    runtime = PgToolRuntime(
        pool, claim.task_id, claim.epoch, ToolLimits(), ReplaySource(original, 9)
    )
    result = await call_tool(node(runtime, 2), "counter", {"n": 7}, tools={"counter": COUNTER})
    assert not result.reused and len(RUNS) == 4
