"""POST /v1/tasks:batch: up to 1,000 tasks in one transaction. A bad item is a 422 naming it by
index, and nothing of the batch is written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from db import tasks
from db.connect import Pool
from tests.support.api import api_client, counts, on_app_loop

PROBLEMS = "https://outlast.dev/problems/"
URL = "/v1/tasks:batch"


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url, max_body_bytes=1_048_576) as c:
        yield c


def fields(response: Any) -> list[tuple[str, str]]:
    assert response.headers["content-type"] == "application/problem+json"
    return [(e["field"], e["rule"]) for e in response.json()["errors"]]


def test_batch_creates_every_task_in_order(client: TestClient, db_url: str) -> None:
    items = [{"graph": "pipeline", "input": {"i": i}, "priority": i % 3} for i in range(25)]
    items[3].update(max_attempts=7, timeout_s=60, metadata={"owner": "me"})
    response = client.post(URL, json={"tasks": items})
    assert response.status_code == 201, response.text
    created = response.json()["tasks"]
    assert [t["input"] for t in created] == [{"i": i} for i in range(25)]
    assert {t["state"] for t in created} == {"queued"}
    assert (created[3]["max_attempts"], created[3]["timeout_s"]) == (7, 60)
    assert created[3]["metadata"] == {"owner": "me"}
    assert created[0]["max_attempts"] == 3  # the server default
    run_ats = [t["run_at"] for t in created]
    assert run_ats == sorted(run_ats), "run_at rises through the batch"
    for task in (created[0], created[24]):
        assert client.get(f"/v1/tasks/{task['id']}").json() == task
    assert counts(db_url) == {"tasks": 25, "task_events": 25, "dead_letters": 0}


def test_batch_of_a_thousand_is_one_statement(client: TestClient, db_url: str) -> None:
    items = [{"graph": "flaky"}] * 1000
    response = client.post(URL, json={"tasks": items})
    assert response.status_code == 201, response.text
    assert len(response.json()["tasks"]) == 1000
    assert counts(db_url)["tasks"] == 1000


@pytest.mark.parametrize(
    ("bad", "field", "rule"),
    [
        ({"graph": "pipeline", "priority": 500}, "body.tasks.2.priority", "less_than_equal"),
        ({"graph": "pipeline", "max_attempts": "5"}, "body.tasks.2.max_attempts", "int_type"),
        ({"graph": "pipeline", "surprise": 1}, "body.tasks.2.surprise", "extra_forbidden"),
        ({"input": {}}, "body.tasks.2.graph", "missing"),
        (
            {"graph": "pipeline", "input": {"k": "a\x00b"}},
            "body.tasks.2.input.k",
            "no_nul_character",
        ),
    ],
)
def test_a_bad_item_is_named_and_nothing_is_written(
    client: TestClient, db_url: str, bad: dict[str, Any], field: str, rule: str
) -> None:
    items = [{"graph": "pipeline"}, {"graph": "flaky"}, bad, {"graph": "pipeline"}]
    response = client.post(URL, json={"tasks": items})
    assert response.status_code == 422, response.text
    assert (field, rule) in fields(response)
    assert counts(db_url) == {"tasks": 0, "task_events": 0, "dead_letters": 0}


def test_unknown_graphs_are_each_named(client: TestClient, db_url: str) -> None:
    items = [{"graph": "pipeline"}, {"graph": "nope"}, {"graph": "flaky"}, {"graph": "gone"}]
    response = client.post(URL, json={"tasks": items})
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEMS + "unknown-graph"
    assert fields(response) == [
        ("body.tasks.1.graph", "known_graph"),
        ("body.tasks.3.graph", "known_graph"),
    ]
    assert counts(db_url)["tasks"] == 0


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"tasks": []}, "too_short"),
        ({"tasks": [{"graph": "flaky"}] * 1001}, "too_long"),
        ({}, "missing"),
    ],
)
def test_batch_size_is_bounded(client: TestClient, db_url: str, body: Any, rule: str) -> None:
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert ("body.tasks", rule) in fields(response)
    assert counts(db_url)["tasks"] == 0


def test_idempotency_key_is_refused_not_ignored(client: TestClient, db_url: str) -> None:
    response = client.post(
        URL, json={"tasks": [{"graph": "flaky"}]}, headers={"Idempotency-Key": "k-1"}
    )
    assert response.status_code == 422
    assert fields(response) == [("header.idempotency-key", "not_supported")]
    assert counts(db_url)["tasks"] == 0


def test_one_transaction_all_or_none(client: TestClient, db_url: str) -> None:
    """Past validation, a row the database refuses (here max_attempts=0, which the API never
    sends) takes the whole batch with it."""
    batch = [tasks.NewTask(graph="flaky", input={}, max_attempts=3) for _ in range(5)]
    batch[3] = tasks.NewTask(graph="flaky", input={}, max_attempts=0)

    async def insert(pool: Pool) -> None:
        await tasks.insert_many(pool, batch, tenant="default")

    with pytest.raises(psycopg.errors.CheckViolation):
        on_app_loop(client, insert)
    assert counts(db_url) == {"tasks": 0, "task_events": 0, "dead_letters": 0}


def test_a_batch_wakes_workers_with_one_notification(client: TestClient, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN outlast_tasks")
        response = client.post(URL, json={"tasks": [{"graph": "flaky"}] * 3})
        assert response.status_code == 201
        got = [n.payload for n in listener.notifies(timeout=1.0)]
    assert got == ["submitted"]


def test_dry_run_checks_every_item_and_writes_nothing(client: TestClient, db_url: str) -> None:
    good = [{"graph": "pipeline"}, {"graph": "flaky", "priority": 3}]
    response = client.post(URL, params={"dry_run": "true"}, json={"tasks": good})
    assert response.status_code == 200, response.text
    assert response.json() == {"tasks": []}
    bad = client.post(URL, params={"dry_run": "true"}, json={"tasks": [*good, {"graph": "nope"}]})
    assert bad.status_code == 422 and fields(bad) == [("body.tasks.2.graph", "known_graph")]
    assert counts(db_url) == {"tasks": 0, "task_events": 0, "dead_letters": 0}
