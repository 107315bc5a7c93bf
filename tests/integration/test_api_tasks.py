"""Tasks over REST: submit, read, list with cursors, idempotency, events, checkpoints, cancel."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from tests.support.api import add_checkpoints, api_client, counts, submit

PROBLEM = "application/problem+json"


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as c:
        yield c


def test_submit_then_get(client: TestClient) -> None:
    body = {
        "graph": "pipeline",
        "input": {"text": "Hi."},
        "priority": 7,
        "max_attempts": 5,
        "timeout_s": 60,
        "metadata": {"owner": "me"},
        "run_at": "2030-01-01T00:00:00+02:00",
    }
    created = client.post("/v1/tasks", json=body)
    assert created.status_code == 201
    task = created.json()
    assert created.headers["location"].endswith(f"/v1/tasks/{task['id']}")
    assert task["state"] == "queued"
    assert (task["graph"], task["priority"], task["max_attempts"]) == ("pipeline", 7, 5)
    assert task["input"] == {"text": "Hi."} and task["metadata"] == {"owner": "me"}
    assert task["run_at"].startswith("2029-12-31T22:00:00")
    assert task["worker_id"] is None and task["attempts"] == 0
    assert "request_hash" not in task
    fetched = client.get(f"/v1/tasks/{task['id']}")
    assert fetched.status_code == 200 and fetched.json() == task


def test_submit_defaults(client: TestClient) -> None:
    task = submit(client, "pipeline")
    assert task["priority"] == 0 and task["max_attempts"] == 3 and task["timeout_s"] is None
    assert task["input"] == {} and task["metadata"] == {}


def test_list_walks_every_page_once(client: TestClient) -> None:
    ids = {submit(client, "pipeline")["id"] for _ in range(7)}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get("/v1/tasks", params=params).json()
        seen += [t["id"] for t in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7 and set(seen) == ids
    created = [client.get(f"/v1/tasks/{i}").json()["created_at"] for i in seen]
    assert created == sorted(created, reverse=True)


def test_list_filters(client: TestClient) -> None:
    a = submit(client, "pipeline")
    b = submit(client, "flaky")
    client.post(f"/v1/tasks/{b['id']}/cancel")
    by_graph = client.get("/v1/tasks", params={"graph": "pipeline"}).json()["items"]
    assert [t["id"] for t in by_graph] == [a["id"]]
    cancelled = client.get("/v1/tasks", params={"state": "cancelled"}).json()["items"]
    assert [t["id"] for t in cancelled] == [b["id"]]
    assert client.get("/v1/tasks", params={"state": "queued", "graph": "flaky"}).json() == {
        "items": [],
        "next_cursor": None,
    }


def test_idempotent_replay(client: TestClient, db_url: str) -> None:
    body = {"graph": "pipeline", "input": {"text": "x"}}
    headers = {"Idempotency-Key": "order-42"}
    first = client.post("/v1/tasks", json=body, headers=headers)
    before = counts(db_url)
    again = client.post("/v1/tasks", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    assert first.json()["idempotency_key"] == "order-42"
    assert counts(db_url) == before


def test_idempotency_key_with_other_body_is_422(client: TestClient, db_url: str) -> None:
    headers = {"Idempotency-Key": "k1"}
    client.post("/v1/tasks", json={"graph": "pipeline", "input": {"n": 1}}, headers=headers)
    before = counts(db_url)
    other = client.post("/v1/tasks", json={"graph": "pipeline", "input": {"n": 2}}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == PROBLEM
    assert other.json()["type"] == "https://outlast.dev/problems/idempotency-mismatch"
    assert counts(db_url) == before


def test_concurrent_same_key_submits_make_one_task(client: TestClient, db_url: str) -> None:
    body = {"graph": "pipeline", "input": {"text": "race"}}

    def post(_: int) -> tuple[int, str]:
        r = client.post("/v1/tasks", json=body, headers={"Idempotency-Key": "race"})
        return r.status_code, r.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(16)))
    assert len({task_id for _, task_id in results}) == 1
    assert sorted(status for status, _ in results) == [200] * 15 + [201]
    assert counts(db_url)["tasks"] == 1


def test_events_after_submit_and_cancel(client: TestClient) -> None:
    task = submit(client, "pipeline")
    client.post(f"/v1/tasks/{task['id']}/cancel", json={"reason": "changed my mind"})
    first = client.get(f"/v1/tasks/{task['id']}/events", params={"limit": 1}).json()
    assert [e["kind"] for e in first["items"]] == ["submitted"]
    rest = client.get(
        f"/v1/tasks/{task['id']}/events", params={"cursor": first["next_cursor"]}
    ).json()
    assert [e["kind"] for e in rest["items"]] == ["cancelled"]
    assert rest["items"][0]["detail"] == {"reason": "changed my mind"}
    assert rest["next_cursor"] is None


def test_checkpoints_newest_first_paginated(client: TestClient, db_url: str) -> None:
    task = submit(client, "pipeline")
    add_checkpoints(db_url, task["id"], ["1ef-a", "1ef-b", "1ef-c"])
    first = client.get(f"/v1/tasks/{task['id']}/checkpoints", params={"limit": 2}).json()
    assert [c["checkpoint_id"] for c in first["items"]] == ["1ef-c", "1ef-b"]
    assert first["items"][0]["parent_checkpoint_id"] == "1ef-b"
    assert first["items"][0]["step"] == 2 and first["items"][0]["source"] == "loop"
    rest = client.get(
        f"/v1/tasks/{task['id']}/checkpoints", params={"cursor": first["next_cursor"]}
    ).json()
    assert [c["checkpoint_id"] for c in rest["items"]] == ["1ef-a"]
    assert rest["next_cursor"] is None


def test_cancel_queued_then_twice_then_unknown(client: TestClient, db_url: str) -> None:
    task = submit(client, "pipeline")
    cancelled = client.post(f"/v1/tasks/{task['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled" and cancelled.json()["cancel_requested"]
    before = counts(db_url)
    again = client.post(f"/v1/tasks/{task['id']}/cancel")
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["type"] == "https://outlast.dev/problems/conflict"
    assert again.json()["state"] == "cancelled"
    missing = client.post(f"/v1/tasks/{uuid.uuid4()}/cancel")
    assert missing.status_code == 404
    assert missing.json()["type"] == "https://outlast.dev/problems/not-found"
    assert counts(db_url) == before


@pytest.mark.parametrize("path", ["", "/events", "/checkpoints"])
def test_unknown_task_is_404(client: TestClient, path: str) -> None:
    response = client.get(f"/v1/tasks/{uuid.uuid4()}{path}")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert set(response.json()) >= {"type", "title", "status", "detail"}
