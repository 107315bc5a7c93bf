"""`outlast approvals` against a live API: list, answer (JSON checked), approve, and a second
decision refused in one line."""

from __future__ import annotations

import asyncio
import uuid

from db import lease, waits
from db.connect import open_pool
from outlast.cli.client_commands import approvals_app
from tests.integration.test_api_client_cli import assert_one_line_failure, base_url, ok, run
from tests.support.queue import GRAPHS, new_worker, submit

__all__ = ["base_url"]  # the fixture, imported for pytest


def park(db_url: str, graph: str, kind: waits.Kind, payload: dict[str, object]) -> uuid.UUID:
    """A task waiting on a person, through the queue's own statements (claim, then waits_park)."""

    async def run_() -> uuid.UUID:
        pool = await open_pool(db_url)
        async with pool:
            worker_id = await new_worker(pool)
            task_id = await submit(pool, graph)
            (claim,) = await lease.claim_many(pool, worker_id, limit=1, ttl_s=30, graphs=GRAPHS)
            wait = waits.NewWait("interrupt-1", kind, payload)
            await waits.park(pool, worker_id, task_id, claim.epoch, [wait], default_timeout_s=60)
            return task_id

    return asyncio.run(run_())


def test_cli_lists_answers_and_approves(base_url: str, db_url: str) -> None:
    asked = park(
        db_url,
        "intake",
        "input",
        {"outlast": "input", "question": "Name?", "schema": {"type": "string"}},
    )
    proposed = park(
        db_url,
        "expense",
        "approval",
        {"outlast": "approval", "action": "pay", "args": {"amount": 5}},
    )
    inbox = ok(run(approvals_app, "list", "-o", "json", url=base_url))["items"]
    assert [(i["task_id"], i["kind"]) for i in inbox] == [
        (str(asked), "input"),
        (str(proposed), "approval"),
    ]
    assert_one_line_failure(run(approvals_app, "answer", str(asked), "Ann", url=base_url), "JSON")
    assert_one_line_failure(run(approvals_app, "answer", str(asked), "3", url=base_url), "422")
    answered = ok(run(approvals_app, "answer", str(asked), '"Ann"', url=base_url))
    assert (answered["task"]["state"], answered["wait"]["value"]) == ("queued", "Ann")
    approved = ok(
        run(approvals_app, "approve", str(proposed), "--edited-args", '{"amount": 4}', url=base_url)
    )
    assert approved["wait"]["value"]["args"] == {"amount": 4}
    assert_one_line_failure(
        run(approvals_app, "reject", str(proposed), "--reason", "late", url=base_url), "409"
    )
