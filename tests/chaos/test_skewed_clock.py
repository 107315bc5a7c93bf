"""A task's checkpoints are ordered by the database, never by a worker's clock.

LangGraph's checkpoint ids are uuid6, read from the writing process's wall clock. A worker whose
clock is behind (or that takes over from one whose clock was ahead) writes ids that sort before
the older ones. Here real worker processes run under libfaketime: the first attempt on one clock,
a SIGKILL, the takeover on a clock 300 s away. The task must still run every node once and in
order, stop for its sign-off, and finish only after the person answered."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import keys
from tests.support.api import api_client
from tests.support.clock import skewed
from tests.support.graphs import SIGNED_NODES
from tests.support.observe import Observer, assert_linear
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

TEXT = "Clocks drift. Hosts disagree. The database decides which checkpoint came last."
PARKED = ("waiting_for_approval", "completed", "failed", "cancelled")


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url, graphs=TEST_ENV["OUTLAST_GRAPHS"]) as client:
        yield client


def node_runs(log: Path) -> list[str]:
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def clock(offset: str | None) -> dict[str, str]:
    return skewed(offset) if offset else {}


def state(api: TestClient, task_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def reach(api: TestClient, task_id: str, states: tuple[str, ...]) -> dict[str, Any]:
    return wait_until(
        lambda: (t := state(api, task_id))["state"] in states and t, 60, message=str(states)
    )


@pytest.mark.parametrize(
    ("first", "takeover"),
    [(None, "-300s"), ("+300s", None)],
    ids=["takeover-clock-behind", "first-clock-ahead"],
)
def test_takeover_on_a_skewed_clock_runs_every_node_and_honours_the_wait(
    api: TestClient,
    processes: Processes,
    observe: Observer,
    tmp_path: Path,
    first: str | None,
    takeover: str | None,
) -> None:
    log = tmp_path / "nodes.log"
    victim = processes.worker(concurrency=1, **clock(first))
    response = api.post(
        "/v1/tasks",
        json={"graph": "signed", "input": {"text": TEXT, "delay_s": 0.3, "log": str(log)}},
    )
    assert response.status_code == 201, response.text
    task_id = response.json()["id"]
    wait_until(
        lambda: max((c["step"] for c in observe.checkpoints(task_id)), default=-1) >= 2,
        60,
        message="two nodes checkpointed",
    )
    victim.signal(signal.SIGKILL)
    victim.wait(10)
    checkpointed = SIGNED_NODES[: max(c["step"] for c in observe.checkpoints(task_id))]

    processes.worker(concurrency=1, **clock(takeover))
    processes.reaper()
    parked = reach(api, task_id, PARKED)
    assert parked["state"] == "waiting_for_approval", parked  # not completed with partial state
    assert "sign_off" not in node_runs(log)

    ana = keys.create(api, "approvals:decide", name="ana")
    response = api.post(f"/v1/tasks/{task_id}/approve", json={}, headers=ana["headers"])
    assert response.status_code == 200, response.text
    done = reach(api, task_id, ("completed", "failed", "cancelled"))
    assert done["state"] == "completed", done
    assert done["result"]["approved_by"] == f"ana ({ana['id']})"
    assert done["result"]["report"]["words"] > 0

    runs = node_runs(log)
    assert list(dict.fromkeys(runs)) == SIGNED_NODES, runs  # every node, in order
    assert all(runs.count(node) == 1 for node in checkpointed), runs  # never re-run
    assert len(runs) <= len(SIGNED_NODES) + 1, runs  # at most the node in flight ran twice

    history = observe.checkpoints(task_id)  # in the order they were written
    assert_linear(history)
    ids = [c["checkpoint_id"] for c in history]
    assert ids != sorted(ids), "the clocks were not skewed: ids sort in write order"
    listed = api.get(f"/v1/tasks/{task_id}/checkpoints", params={"limit": 100}).json()["items"]
    assert [c["checkpoint_id"] for c in listed] == ids[::-1]  # newest first, by write order
