"""Lists are projections, and bounded: a task list leaves out `input`, `metadata` and `result`
(a dead-letter list its `traceback` and `attempt_history`) unless `?include=` names them, and a
page stops once its items pass MAX_PAGE_BYTES, its cursor continuing after the last one sent."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.pagination import MAX_PAGE_BYTES
from tests.integration.test_api_bad_input import assert_problem
from tests.support.api import api_client, dead_letter, submit


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url, max_body_bytes=2 * MAX_PAGE_BYTES) as c:
        yield c


def test_task_list_leaves_user_sized_fields_out(client: TestClient) -> None:
    submit(client, "pipeline", input={"n": 1}, metadata={"m": 2})
    (item,) = client.get("/v1/tasks").json()["items"]
    assert not {"input", "metadata", "result"} & set(item)
    assert {"id", "state", "graph", "attempts", "worker_id", "error", "created_at"} <= set(item)


def test_include_adds_the_named_fields(client: TestClient) -> None:
    task = submit(client, "pipeline", input={"n": 1}, metadata={"m": 2})
    (item,) = client.get("/v1/tasks", params={"include": "input,result"}).json()["items"]
    assert item["input"] == {"n": 1} and item["result"] is None and "metadata" not in item
    assert client.get(f"/v1/tasks/{task['id']}").json()["metadata"] == {"m": 2}


def test_dead_letter_list_leaves_the_traceback_out(client: TestClient) -> None:
    dead_letter(client)
    (item,) = client.get("/v1/dead-letters").json()["items"]
    assert "traceback" not in item and "attempt_history" not in item
    (full,) = client.get(
        "/v1/dead-letters", params={"include": "traceback,attempt_history"}
    ).json()["items"]
    assert full["traceback"] == "Traceback: boom" and isinstance(full["attempt_history"], list)


@pytest.mark.parametrize("include", ["inputs", "input,", ",input", "input;result", "error"])
def test_unknown_include_is_refused(client: TestClient, include: str) -> None:
    response = client.get("/v1/tasks", params={"include": include})
    assert_problem(response, 422, "validation-error", "query.include", "string_pattern_mismatch")


def test_page_is_cut_at_the_byte_cap_and_the_cursor_continues(client: TestClient) -> None:
    blob = "x" * (MAX_PAGE_BYTES // 4 - 2000)  # four fit on a page, a fifth does not
    ids = {submit(client, "pipeline", input={"blob": blob})["id"] for _ in range(6)}
    first = client.get("/v1/tasks", params={"include": "input", "limit": 50}).json()
    assert len(first["items"]) == 4 and first["next_cursor"]
    rest = client.get(
        "/v1/tasks", params={"include": "input", "cursor": first["next_cursor"]}
    ).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert {i["id"] for i in first["items"] + rest["items"]} == ids
    # Without the user-sized fields the same tasks fit one page.
    assert len(client.get("/v1/tasks").json()["items"]) == 6


def test_task_list_items_carry_their_cost_so_far(client: TestClient, db_url: str) -> None:
    spent, idle = submit(client, "pipeline"), submit(client, "pipeline")
    with psycopg.connect(db_url) as conn:
        for seq, cost in enumerate((1_500, 2_500, None)):  # a call still under way has none
            conn.execute(
                "INSERT INTO llm_calls (tenant, task_id, step_key, seq, lease_epoch,"
                " request_digest, request, cost_micro_usd)"
                " VALUES ('default', %s, 'k', %s, 1, 'd', '{}', %s)",
                (spent["id"], seq, cost),
            )
    items = {i["id"]: i for i in client.get("/v1/tasks").json()["items"]}
    assert items[spent["id"]]["cost_micro_usd"] == 4_000
    assert items[idle["id"]]["cost_micro_usd"] == 0
