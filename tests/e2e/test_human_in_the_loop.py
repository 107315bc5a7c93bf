"""Humans in the loop, end to end: the API in-process, real worker and reaper processes.

A decision never holds a worker, is applied exactly once, and survives the pausing worker's
death; any worker resumes the task from its checkpoint."""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outlast.graphs.pipeline import STEPS
from tests.support import keys
from tests.support.api import api_client
from tests.support.observe import Observer
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

EXPENSE = {"amount": 250, "payee": "Fjord Hotel", "description": "hotel in Bergen"}


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url, graphs=TEST_ENV["OUTLAST_GRAPHS"]) as client:
        yield client


def submit(api: TestClient, graph: str, graph_input: dict[str, Any], **fields: Any) -> str:
    response = api.post("/v1/tasks", json={"graph": graph, "input": graph_input, **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def task(api: TestClient, task_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/tasks/{task_id}")
    assert response.status_code == 200
    return dict(response.json())


def reach(api: TestClient, task_id: str, *states: str, timeout: float = 30) -> dict[str, Any]:
    return wait_until(
        lambda: (t := task(api, task_id))["state"] in states and t,
        timeout,
        message=f"task {task_id} in {states}",
    )


def test_approve_resumes_with_the_proposed_args(api: TestClient, processes: Processes) -> None:
    processes.worker(concurrency=2)
    task_id = submit(api, "expense", EXPENSE)
    waiting = reach(api, task_id, "waiting_for_approval")
    assert waiting["worker_id"] is None  # no worker held while waiting
    inbox = api.get("/v1/approvals").json()["items"]
    assert [(a["task_id"], a["kind"], a["payload"]["action"]) for a in inbox] == [
        (task_id, "approval", "reimburse")
    ]
    assert inbox[0]["payload"]["args"] == {"amount": 250, "payee": "Fjord Hotel"}
    ana = keys.create(api, "approvals:decide", name="ana")
    response = api.post(
        f"/v1/tasks/{task_id}/approve", json={"comment": "ok"}, headers=ana["headers"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["wait"]["decision"] == "approved"
    assert response.json()["wait"]["decided_by"] == f"ana ({ana['id']})"  # from the key
    done = reach(api, task_id, "completed")
    assert done["result"]["payment"] == {
        "status": "paid",
        "reference": f"pay-{task_id}",
        "amount": 250,
        "payee": "Fjord Hotel",
    }
    assert api.get("/v1/approvals").json()["items"] == []


def test_edit_and_approve_acts_with_the_edited_args(api: TestClient, processes: Processes) -> None:
    processes.worker()
    task_id = submit(api, "expense", EXPENSE)
    reach(api, task_id, "waiting_for_approval")
    edited = {"amount": 200, "payee": "Fjord Hotel AS"}
    assert api.post(f"/v1/tasks/{task_id}/approve", json={"edited_args": edited}).status_code == 200
    payment = reach(api, task_id, "completed")["result"]["payment"]
    assert (payment["amount"], payment["payee"]) == (200, "Fjord Hotel AS")


def test_reject_with_a_reason(api: TestClient, processes: Processes) -> None:
    processes.worker()
    task_id = submit(api, "expense", EXPENSE)
    reach(api, task_id, "waiting_for_approval")
    assert api.post(f"/v1/tasks/{task_id}/reject", json={}).status_code == 422  # reason required
    response = api.post(f"/v1/tasks/{task_id}/reject", json={"reason": "no receipt"})
    assert response.status_code == 200
    assert reach(api, task_id, "completed")["result"]["payment"] == {
        "status": "rejected",
        "reason": "no receipt",
    }


def test_inputs_are_checked_against_the_schema_one_question_after_another(
    api: TestClient, processes: Processes, observe: Observer
) -> None:
    processes.worker()
    task_id = submit(api, "intake", {})
    reach(api, task_id, "waiting_for_input")
    events_before = len(observe.events(uuid.UUID(task_id)))
    bad = api.post(f"/v1/tasks/{task_id}/input", json={"value": ""})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.value"
    assert bad.json()["errors"][0]["rule"] == "minLength"
    assert task(api, task_id)["state"] == "waiting_for_input"  # nothing written
    assert len(observe.events(uuid.UUID(task_id))) == events_before
    assert api.post(f"/v1/tasks/{task_id}/approve", json={}).status_code == 409  # not an approval
    assert api.post(f"/v1/tasks/{task_id}/input", json={"value": "Ann"}).status_code == 200
    wait_until(
        lambda: (
            [
                w["payload"]["question"]
                for w in api.get(f"/v1/tasks/{task_id}/waits").json()
                if w["decided_at"] is None
            ]
            == ["How many units, Ann?"]
        ),
        30,
        message="second question",
    )
    reach(api, task_id, "waiting_for_input")
    wrong_type = api.post(f"/v1/tasks/{task_id}/input", json={"value": "three"})
    assert (wrong_type.status_code, wrong_type.json()["errors"][0]["rule"]) == (422, "type")
    assert api.post(f"/v1/tasks/{task_id}/input", json={"value": 3}).status_code == 200
    assert reach(api, task_id, "completed")["result"]["order"] == "3 unit(s) for Ann"


def test_resumes_on_another_worker_and_holds_no_slot_while_waiting(
    api: TestClient, processes: Processes, observe: Observer
) -> None:
    first = processes.worker(concurrency=1)
    task_id = submit(api, "expense", EXPENSE)
    reach(api, task_id, "waiting_for_approval")
    # With its only slot free, the same worker runs other tasks while the expense waits.
    others = [submit(api, "pipeline", {"text": f"Other task {i}."}) for i in range(3)]
    for other in others:
        reach(api, other, "completed")
    first.signal(signal.SIGTERM)
    assert first.wait(15) == 0
    second = processes.worker(concurrency=1)
    assert api.post(f"/v1/tasks/{task_id}/approve", json={}).status_code == 200
    reach(api, task_id, "completed")
    claimers = observe.rows(
        "SELECT w.pid FROM task_events e JOIN workers w ON w.id = e.worker_id"
        " WHERE e.task_id = %s AND e.kind = 'claimed' ORDER BY e.id",
        task_id,
    )
    assert [r["pid"] for r in claimers] == [first.pid, second.pid]


def test_two_racing_approvals_one_wins(api: TestClient, processes: Processes) -> None:
    processes.worker()
    task_id = submit(api, "expense", EXPENSE)
    reach(api, task_id, "waiting_for_approval")
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def approve() -> None:
        barrier.wait()
        codes.append(api.post(f"/v1/tasks/{task_id}/approve", json={}).status_code)

    racers = [threading.Thread(target=approve) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(codes) == [200, 409]
    reach(api, task_id, "completed")
    decided = [
        e for e in api.get(f"/v1/tasks/{task_id}/events").json()["items"] if e["kind"] == "decided"
    ]
    assert len(decided) == 1


def test_approval_after_the_pausing_worker_was_killed(
    api: TestClient, processes: Processes
) -> None:
    pauser = processes.worker()
    task_id = submit(api, "expense", EXPENSE)
    reach(api, task_id, "waiting_for_approval")
    pauser.signal(signal.SIGKILL)
    pauser.wait(10)
    assert api.post(f"/v1/tasks/{task_id}/approve", json={}).status_code == 200
    processes.worker()
    assert reach(api, task_id, "completed")["result"]["payment"]["status"] == "paid"


def test_parallel_interrupts_each_get_their_own_decision(
    api: TestClient, processes: Processes
) -> None:
    processes.worker()
    task_id = submit(api, "review", {})
    reach(api, task_id, "waiting_for_approval")
    waits = wait_until(
        lambda: len(w := api.get(f"/v1/tasks/{task_id}/waits").json()) == 2 and w,
        30,
        message="two waits",
    )
    ambiguous = api.post(f"/v1/tasks/{task_id}/approve", json={})
    assert ambiguous.status_code == 409 and "wait_id" in ambiguous.json()["detail"]
    first = api.post(f"/v1/tasks/{task_id}/approve", json={"wait_id": waits[0]["id"]})
    assert first.json()["task"]["state"] == "waiting_for_approval"  # one still open
    again = api.post(f"/v1/tasks/{task_id}/approve", json={"wait_id": waits[0]["id"]})
    assert again.status_code == 409
    second = api.post(f"/v1/tasks/{task_id}/approve", json={"wait_id": waits[1]["id"]})
    assert second.json()["task"]["state"] == "queued"
    assert reach(api, task_id, "completed")["result"]["verdict"] == "go"


@pytest.mark.parametrize(
    ("graph", "graph_input", "fields", "expect"),
    [
        ("expense", EXPENSE, {"wait_timeout_s": 1}, "failed"),
        ("expense", EXPENSE, {"wait_timeout_s": 1, "on_wait_timeout": "reject"}, "rejected"),
        ("intake", {}, {"wait_timeout_s": 1, "on_wait_timeout": "default"}, "defaulted"),
    ],
)
def test_wait_timeout_outcomes(
    api: TestClient,
    processes: Processes,
    graph: str,
    graph_input: dict[str, Any],
    fields: dict[str, Any],
    expect: str,
) -> None:
    processes.worker()
    processes.reaper()
    task_id = submit(api, graph, graph_input, **fields)
    done = reach(api, task_id, "completed", "failed")
    if expect == "failed":
        assert done["state"] == "failed" and done["error"]["type"] == "WaitTimeout"
        letters = api.get("/v1/dead-letters", params={"task_id": task_id}).json()["items"]
        assert [d["error_type"] for d in letters] == ["WaitTimeout"]
    elif expect == "rejected":
        assert done["result"]["payment"] == {"status": "rejected", "reason": "timed out"}
    else:
        assert done["result"]["order"] == "1 unit(s) for anonymous"
    decisions = {w["decision"] for w in api.get(f"/v1/tasks/{task_id}/waits").json()}
    assert decisions == {"timed_out"}


def test_cancel_while_waiting(api: TestClient, processes: Processes) -> None:
    processes.worker()
    task_id = submit(api, "expense", EXPENSE)
    reach(api, task_id, "waiting_for_approval")
    assert api.post(f"/v1/tasks/{task_id}/cancel", json={}).json()["state"] == "cancelled"
    assert api.post(f"/v1/tasks/{task_id}/approve", json={}).status_code == 409
    assert api.get("/v1/approvals").json()["items"] == []


def test_follow_up_continues_the_same_thread(api: TestClient, processes: Processes) -> None:
    processes.worker()
    task_id = submit(api, "chat", {"messages": [{"role": "user", "content": "hello"}]})
    first = reach(api, task_id, "completed")
    assert len(first["result"]["messages"]) == 2
    response = api.post(f"/v1/tasks/{task_id}/messages", json={"message": "and again"})
    assert response.status_code == 200 and response.json()["state"] == "queued"
    assert api.post(f"/v1/tasks/{task_id}/messages", json={"message": "x"}).status_code == 409
    again = wait_until(
        lambda: (
            (t := task(api, task_id))["state"] == "completed"
            and len(t["result"]["messages"]) == 4
            and t
        ),
        30,
        message="follow-up answered",
    )
    assert again["result"]["messages"][-1]["content"].endswith("hello | and again")
    both = api.post(f"/v1/tasks/{task_id}/messages", json={"message": "x", "input": {}})
    assert both.status_code == 422


def test_fork_from_a_middle_checkpoint_with_a_state_patch(
    api: TestClient, processes: Processes, tmp_path: Path
) -> None:
    log = tmp_path / "nodes.log"
    processes.worker()
    text = "Forks rewrite history. Forks keep the original."
    source = submit(api, "counted", {"text": text, "log": str(log)})
    reach(api, source, "completed")
    checkpoints = api.get(f"/v1/tasks/{source}/checkpoints", params={"limit": 20}).json()["items"]
    middle = next(c for c in checkpoints if c["step"] == 3)  # after count_words
    state = api.get(f"/v1/tasks/{source}/checkpoints/{middle['checkpoint_id']}").json()
    assert state["next"] == ["extract_keywords"]
    assert "keywords" not in state["values"] and state["values"]["word_counts"]["forks"] == 2
    foreign = api.post(f"/v1/tasks/{source}/fork", json={"checkpoint_id": "nope"})
    assert foreign.status_code == 422
    response = api.post(
        f"/v1/tasks/{source}/fork",
        json={
            "checkpoint_id": middle["checkpoint_id"],
            "state_patch": {"word_counts": {"timeline": 3, "branch": 2}},
        },
    )
    assert response.status_code == 201, response.text
    fork = response.json()
    assert fork["metadata"]["forked_from"]["task_id"] == source
    done = reach(api, fork["id"], "completed")
    assert done["result"]["keywords"] == ["timeline", "branch"]
    ran = [line.split()[0] for line in log.read_text().splitlines()]
    assert ran == [s.__name__ for s in STEPS] + ["extract_keywords", "summarize", "report"]
    assert task(api, source)["result"]["keywords"][0] == "forks"  # the original is untouched
