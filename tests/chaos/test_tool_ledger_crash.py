"""SIGKILL a worker around a tool call (outlast.toolcall, docs/adr/0014-tool-ledger.md):

- between the tool's effect and its outcome row: an idempotent tool runs again on the next
  worker with the same idempotency key; a non-idempotent one does not run again and the task
  waits in the inbox (`unknown_tool_outcome`, arguments shown) until a person retries it,
  skips it, or records it as done with a result;
- after the outcome row, before the node's checkpoint: the tool is not called again, the node
  gets the recorded result."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import api_client
from tests.support.observe import Observer
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

GRAPHS = TEST_ENV["OUTLAST_GRAPHS"] + ",tooled=tests.support.tooled:tooled"
ENV = {"OUTLAST_GRAPHS": GRAPHS}


def effects(log: Path) -> list[list[str]]:
    """One `[key, pid]` per time the tool's effect happened."""
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def calls(observe: Observer, task_id: uuid.UUID) -> list[dict[str, Any]]:
    return observe.rows(
        "SELECT status, decision, lease_epoch, idempotency_key, tenant FROM tool_calls"
        " WHERE task_id = %s ORDER BY id",
        task_id,
    )


def crash_during_the_tool(
    processes: Processes, observe: Observer, tmp_path: Path, tool: str
) -> tuple[uuid.UUID, Path]:
    """Run `tool` on a worker, SIGKILL it after the effect (the tool holds), release the
    hold, start the next worker. Returns the task and the effect log."""
    log, hold = tmp_path / "effects", tmp_path / "hold"
    first = processes.worker(concurrency=1, **ENV)
    arguments = {"log": str(log), "hold": str(hold)}
    task_id = observe.submit("tooled", {"calls": [{"tool": tool, "arguments": arguments}]})
    wait_until(lambda: len(effects(log)) == 1, 60, message="the tool's effect")
    assert [c["status"] for c in calls(observe, task_id)] == ["started"]
    first.signal(signal.SIGKILL)
    first.wait(10)
    Path(f"{hold}.1").touch()
    processes.worker(concurrency=1, **ENV)
    processes.reaper(**ENV)
    return task_id, log


def test_an_idempotent_tool_runs_again_with_the_same_key(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    task_id, log = crash_during_the_tool(processes, observe, tmp_path, "effect_idem")
    Path(f"{tmp_path / 'hold'}.2").touch()  # the second run's effect goes through
    wait_until(lambda: observe.state(task_id) == "completed", 60, message="task completed")

    first, second = effects(log)
    assert first[0] == second[0]  # the same idempotency key
    assert first[1] != second[1]  # from two worker processes
    [result] = observe.task(task_id)["result"]["results"]
    assert result["content"] == {"done": True} and result["key"] == first[0]
    rows = calls(observe, task_id)
    assert [r["status"] for r in rows] == ["interrupted", "completed"]
    assert {r["idempotency_key"] for r in rows} == {first[0]}
    assert {r["tenant"] for r in rows} == {"default"}


@pytest.mark.parametrize(
    ("decision", "body", "effects_after", "expected"),
    [
        ("approve", {}, 2, {"content": {"done": True}, "error": None}),
        ("reject", {"reason": "it went through"}, 1, {"content": None, "error": "skipped by a person"}),
        ("approve", {"edited_args": {"result": {"by": "hand"}}}, 1, {"content": {"by": "hand"}, "error": None}),
    ],
    ids=["retry", "skip", "record-as-done"],
)  # fmt: skip
def test_a_non_idempotent_tool_waits_for_a_person(
    processes: Processes,
    observe: Observer,
    db_url: str,
    tmp_path: Path,
    decision: str,
    body: dict[str, Any],
    effects_after: int,
    expected: dict[str, Any],
) -> None:
    task_id, log = crash_during_the_tool(processes, observe, tmp_path, "effect")
    wait_until(lambda: observe.state(task_id) == "waiting_for_approval", 60, message="in the inbox")
    assert len(effects(log)) == 1  # not called again
    key = effects(log)[0][0]

    with api_client(db_url, graphs=GRAPHS) as api:
        [item] = api.get("/v1/approvals").json()["items"]
        assert item["task_id"] == str(task_id)
        payload = item["payload"]
        assert payload["kind"] == "unknown_tool_outcome"
        assert payload["args"]["tool"] == "effect"
        assert payload["args"]["arguments"] == {"log": str(log), "hold": str(tmp_path / "hold")}
        assert payload["args"]["idempotency_key"] == key
        Path(f"{tmp_path / 'hold'}.2").touch()  # a retry's effect goes through
        response = api.post(f"/v1/tasks/{task_id}/{decision}", json=body)
        assert response.status_code == 200, response.text

    wait_until(lambda: observe.state(task_id) == "completed", 60, message="task completed")
    assert len(effects(log)) == effects_after
    assert {k for k, _pid in effects(log)} == {key}  # a retry carries the same key
    [result] = observe.task(task_id)["result"]["results"]
    assert {k: result[k] for k in expected} == expected
    statuses = [(r["status"], r["decision"]) for r in calls(observe, task_id)]
    outcome = {"approve": "completed", "reject": "skipped"}[decision]
    decided = "done" if "edited_args" in body else {"approve": "retry", "reject": "skip"}[decision]
    assert statuses == [("interrupted", None), (outcome, decided)]


def test_a_retry_that_crashes_again_asks_again(
    processes: Processes, observe: Observer, db_url: str, tmp_path: Path
) -> None:
    """The person's first decision is about the first unknown call; when the retry it allowed
    is cut off by a crash too, the task asks again instead of retrying on its own."""
    hold = tmp_path / "hold"
    task_id, log = crash_during_the_tool(processes, observe, tmp_path, "effect")
    Path(f"{hold}.1").unlink()
    waiting = lambda: observe.state(task_id) == "waiting_for_approval"  # noqa: E731
    wait_until(waiting, 60, message="in the inbox")
    with api_client(db_url, graphs=GRAPHS) as api:
        assert api.post(f"/v1/tasks/{task_id}/approve", json={}).status_code == 200
        wait_until(lambda: len(effects(log)) == 2, 60, message="the retry's effect")
        second = [p for p in processes.started if p.name == "worker"][-1]
        second.signal(signal.SIGKILL)
        second.wait(10)
        processes.worker(concurrency=1, **ENV)
        wait_until(waiting, 60, message="in the inbox again")
        assert len(effects(log)) == 2  # not retried without a person
        [item] = api.get("/v1/approvals").json()["items"]
        assert item["payload"]["kind"] == "unknown_tool_outcome"
        assert api.post(f"/v1/tasks/{task_id}/approve", json={}).status_code == 200
        Path(f"{hold}.3").touch()
    wait_until(lambda: observe.state(task_id) == "completed", 60, message="task completed")
    assert len(effects(log)) == 3 and len({k for k, _ in effects(log)}) == 1
    statuses = [(r["status"], r["decision"]) for r in calls(observe, task_id)]
    assert statuses == [("interrupted", None), ("interrupted", "retry"), ("completed", "retry")]


def test_a_call_with_an_outcome_is_not_made_again(
    processes: Processes, observe: Observer, tmp_path: Path
) -> None:
    log, gate = tmp_path / "effects", tmp_path / "gate"
    first = processes.worker(concurrency=1, **ENV)
    task_id = observe.submit(
        "tooled",
        {"calls": [{"tool": "effect", "arguments": {"log": str(log)}}], "gate": str(gate)},
    )
    wait_until(
        lambda: [c["status"] for c in calls(observe, task_id)] == ["completed"],
        60,
        message="the outcome row",
    )
    first.signal(signal.SIGKILL)
    first.wait(10)
    assert observe.checkpoints(task_id)[-1]["step"] < 1  # the node's checkpoint never landed
    gate.touch()
    processes.worker(concurrency=1, **ENV)
    processes.reaper(**ENV)
    wait_until(lambda: observe.state(task_id) == "completed", 60, message="task completed")

    assert len(effects(log)) == 1
    [result] = observe.task(task_id)["result"]["results"]
    assert result["reused"] is True and result["content"] == {"done": True}
    assert [c["status"] for c in calls(observe, task_id)] == ["completed"]
