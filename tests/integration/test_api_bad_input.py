"""SPEC §10: every malformed or hostile request gets a clear 4xx naming the field and the rule,
as application/problem+json, never a 500, and writes nothing (row counts are unchanged)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.pagination import encode
from tests.support.api import api_client, counts, submit

PROBLEMS = "https://outlast.dev/problems/"
MAX_BYTES = 16_384


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url, max_body_bytes=MAX_BYTES, max_json_depth=8) as c:
        yield c


# TestClient's response type (from httpx or its fork, by Starlette version): duck-typed.
Response = Any


def post_raw(client: TestClient, path: str, raw: bytes | str, **headers: str) -> Response:
    return client.post(path, content=raw, headers={"content-type": "application/json", **headers})


def assert_problem(
    response: Response, status: int, slug: str, field: str | None = None, rule: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"] == PROBLEMS + slug and problem["status"] == status
    assert problem["title"] and problem["detail"]
    if field is not None:
        assert {"field": field, "rule": rule} in [
            {"field": e["field"], "rule": e["rule"]} for e in problem["errors"]
        ], problem
    return problem


def deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"a": value}
    return value


# (body, status, slug, field, rule): each a submit that must be refused.
BAD_SUBMITS: list[tuple[Any, int, str, str, str]] = [
    ({"graph": "nope"}, 422, "unknown-graph", "body.graph", "known_graph"),
    ({"input": {}}, 422, "validation-error", "body.graph", "missing"),
    (
        {"graph": "pipeline", "input": {"k": "a\x00b"}},
        422,
        "validation-error",
        "body.input.k",
        "no_nul_character",
    ),
    (
        {"graph": "pipeline", "input": {"k\x00": 1}},
        422,
        "validation-error",
        "body.input.k\x00",
        "no_nul_character",
    ),
    (
        {"graph": "pipeline", "metadata": {"list": ["ok", "\x00"]}},
        422,
        "validation-error",
        "body.metadata.list.1",
        "no_nul_character",
    ),
    ({"graph": "pipe\x00line"}, 422, "validation-error", "body.graph", "no_nul_character"),
    ({"graph": "pipeline", "input": deep(8)}, 422, "validation-error", "body", "max_depth"),
    (
        {"graph": "pipeline", "priority": -101},
        422,
        "validation-error",
        "body.priority",
        "greater_than_equal",
    ),
    (
        {"graph": "pipeline", "priority": 101},
        422,
        "validation-error",
        "body.priority",
        "less_than_equal",
    ),
    # Beyond 64 bits the body guard answers first, for every field alike.
    ({"graph": "pipeline", "priority": 10**30}, 422, "validation-error", "body.priority", "int64"),
    ({"graph": "pipeline", "priority": "5"}, 422, "validation-error", "body.priority", "int_type"),
    (
        {"graph": "pipeline", "max_attempts": 0},
        422,
        "validation-error",
        "body.max_attempts",
        "greater_than_equal",
    ),
    (
        {"graph": "pipeline", "max_attempts": 1001},
        422,
        "validation-error",
        "body.max_attempts",
        "less_than_equal",
    ),
    (
        {"graph": "pipeline", "timeout_s": -1},
        422,
        "validation-error",
        "body.timeout_s",
        "greater_than_equal",
    ),
    (
        {"graph": "pipeline", "timeout_s": 30 * 86400 + 1},
        422,
        "validation-error",
        "body.timeout_s",
        "less_than_equal",
    ),
    (
        {"graph": "pipeline", "run_at": "2030-01-01T00:00:00"},
        422,
        "validation-error",
        "body.run_at",
        "timezone_aware",
    ),
    (
        {"graph": "pipeline", "run_at": "tomorrow"},
        422,
        "validation-error",
        "body.run_at",
        "datetime_from_date_parsing",
    ),
    (
        {"graph": "pipeline", "surprise": 1},
        422,
        "validation-error",
        "body.surprise",
        "extra_forbidden",
    ),
    ({"graph": "pipeline", "input": [1, 2]}, 422, "validation-error", "body.input", "dict_type"),
    ({"graph": "pipeline", "input": "text"}, 422, "validation-error", "body.input", "dict_type"),
    ({"graph": "pipeline", "metadata": 3}, 422, "validation-error", "body.metadata", "dict_type"),
    (["graph", "pipeline"], 422, "validation-error", "body", "model_attributes_type"),
]


@pytest.mark.parametrize(("body", "status", "slug", "field", "rule"), BAD_SUBMITS)
def test_bad_submit_is_refused_and_writes_nothing(
    client: TestClient, db_url: str, body: Any, status: int, slug: str, field: str, rule: str
) -> None:
    before = counts(db_url)
    response = post_raw(client, "/v1/tasks", json.dumps(body))
    assert_problem(response, status, slug, field, rule)
    assert counts(db_url) == before


def test_unknown_graph_lists_known_graphs(client: TestClient) -> None:
    problem = client.post("/v1/tasks", json={"graph": "nope"}).json()
    assert {"pipeline", "flaky"} <= set(problem["known_graphs"])
    assert "pipeline" in problem["detail"]


# Raw bodies Python's json parses but Postgres jsonb refuses, and bodies that are not JSON.
BAD_RAW: list[tuple[bytes, int, str, str, str]] = [
    (b'{"graph": "pipeline", "input": {', 400, "malformed-json", "body", "json"),
    (b"", 422, "validation-error", "body", "missing"),
    (
        b'{"graph": "pipeline", "input": {"x": NaN}}',
        422,
        "validation-error",
        "body.input.x",
        "finite_number",
    ),
    (
        b'{"graph": "pipeline", "input": {"x": 1e400}}',
        422,
        "validation-error",
        "body.input.x",
        "finite_number",
    ),
    (
        b'{"graph": "pipeline", "input": {"x": -Infinity}}',
        422,
        "validation-error",
        "body.input.x",
        "finite_number",
    ),
    (
        b'{"graph": "pipeline", "input": {"x": "\\ud800"}}',
        422,
        "validation-error",
        "body.input.x",
        "valid_unicode",
    ),
    (
        b'{"graph": "pipeline", "input": {"x": ' + b"9" * 5000 + b"}}",
        422,
        "validation-error",
        "body",
        "number_size",
    ),
    (b'{"graph": "pipeline", "input": {"x": "\xff\xfe"}}', 400, "malformed-json", "body", "json"),
    (b"[" * 10_000, 422, "validation-error", "body", "max_depth"),
]


@pytest.mark.parametrize(("raw", "status", "slug", "field", "rule"), BAD_RAW)
def test_bad_raw_body_is_refused_and_writes_nothing(
    client: TestClient, db_url: str, raw: bytes, status: int, slug: str, field: str, rule: str
) -> None:
    before = counts(db_url)
    response = post_raw(client, "/v1/tasks", raw)
    assert_problem(response, status, slug, field, rule)
    assert counts(db_url) == before


def test_events_cursor_out_of_bigint_range(client: TestClient) -> None:
    task = submit(client, "pipeline")
    cursor = encode("events", "9" * 40)
    assert_problem(
        client.get(f"/v1/tasks/{task['id']}/events", params={"cursor": cursor}),
        422,
        "validation-error",
        "query.cursor",
        "cursor",
    )


def test_nesting_up_to_the_limit_is_accepted(client: TestClient) -> None:
    # max_json_depth=8: the body object, `input`, and six more levels.
    assert client.post("/v1/tasks", json={"graph": "pipeline", "input": deep(6)}).status_code == 201


def test_brackets_inside_strings_do_not_count_as_depth(client: TestClient) -> None:
    response = client.post("/v1/tasks", json={"graph": "pipeline", "input": {"t": "[[[[" * 50}})
    assert response.status_code == 201


def test_oversize_body_by_content_length(client: TestClient, db_url: str) -> None:
    before = counts(db_url)
    body = json.dumps({"graph": "pipeline", "input": {"t": "x" * MAX_BYTES}})
    problem = assert_problem(
        post_raw(client, "/v1/tasks", body), 413, "payload-too-large", "body", "max_bytes"
    )
    assert problem["max_bytes"] == MAX_BYTES
    assert counts(db_url) == before


def test_oversize_streamed_body_without_content_length(client: TestClient, db_url: str) -> None:
    before = counts(db_url)
    chunks = [b'{"graph": "pipeline", "input": {"t": "', b"x" * MAX_BYTES, b'"}}']
    response = client.post(
        "/v1/tasks", content=iter(chunks), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload-too-large", "body", "max_bytes")
    assert counts(db_url) == before


def test_body_that_is_not_json_is_415(client: TestClient, db_url: str) -> None:
    before = counts(db_url)
    response = client.post(
        "/v1/tasks",
        content=b"graph=pipeline",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(
        response, 415, "unsupported-media-type", "header.content-type", "json_media_type"
    )
    assert counts(db_url) == before


@pytest.mark.parametrize("key", [b"", b"x" * 256, "caf\u00e9".encode(), b"tab\tkey"])
def test_bad_idempotency_key(client: TestClient, db_url: str, key: bytes) -> None:
    before = counts(db_url)
    response = client.post(
        "/v1/tasks", json={"graph": "pipeline"}, headers=[(b"Idempotency-Key", key)]
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["field"] == "header.Idempotency-Key"
    assert counts(db_url) == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/tasks/not-a-uuid",
        "/v1/tasks/123/events",
        "/v1/tasks/x/checkpoints",
        "/v1/dead-letters/nope",
    ],
)
def test_malformed_uuid_in_path_is_422(client: TestClient, path: str) -> None:
    problem = assert_problem(client.get(path), 422, "validation-error")
    field = problem["errors"][0]["field"]
    assert field.startswith("path.") and problem["errors"][0]["rule"] == "uuid_parsing"


def test_malformed_uuid_on_cancel_writes_nothing(client: TestClient, db_url: str) -> None:
    before = counts(db_url)
    assert_problem(
        client.post("/v1/tasks/zzz/cancel"), 422, "validation-error", "path.task_id", "uuid_parsing"
    )
    assert counts(db_url) == before


@pytest.mark.parametrize(
    ("path", "params", "field", "rule"),
    [
        ("/v1/tasks", {"limit": 0}, "query.limit", "greater_than_equal"),
        ("/v1/tasks", {"limit": 201}, "query.limit", "less_than_equal"),
        ("/v1/tasks", {"limit": "many"}, "query.limit", "int_parsing"),
        ("/v1/tasks", {"cursor": "!!!"}, "query.cursor", "cursor"),
        ("/v1/tasks", {"cursor": "bm90IGpzb24"}, "query.cursor", "cursor"),
        (
            "/v1/tasks",
            {"cursor": encode("tasks", "2026-01-01T00:00:00+00:00", "nope")},
            "query.cursor",
            "cursor",
        ),
        (
            "/v1/tasks",
            {"cursor": encode("tasks", "yesterday", uuid.uuid4())},
            "query.cursor",
            "cursor",
        ),
        ("/v1/tasks", {"cursor": encode("tasks", "a\x00", uuid.uuid4())}, "query.cursor", "cursor"),
        ("/v1/workers", {"cursor": encode("workers", "2026-01-01")}, "query.cursor", "cursor"),
        ("/v1/tasks", {"cursor": "x" * 513}, "query.cursor", "string_too_long"),
        ("/v1/tasks", {"state": "sleeping"}, "query.state", "enum"),
        ("/v1/tasks", {"graph": "a\x00b"}, "query.graph", "string_pattern_mismatch"),
        ("/v1/workers", {"state": "zombie"}, "query.state", "literal_error"),
        ("/v1/dead-letters", {"task_id": "x"}, "query.task_id", "uuid_parsing"),
        ("/v1/dead-letters", {"limit": -5}, "query.limit", "greater_than_equal"),
    ],
)
def test_bad_query(
    client: TestClient, path: str, params: dict[str, Any], field: str, rule: str
) -> None:
    assert_problem(client.get(path, params=params), 422, "validation-error", field, rule)


def test_cursor_of_another_list_is_refused(client: TestClient) -> None:
    for _ in range(2):
        submit(client, "pipeline")
    cursor = client.get("/v1/tasks", params={"limit": 1}).json()["next_cursor"]
    assert cursor
    assert_problem(
        client.get("/v1/workers", params={"cursor": cursor}),
        422,
        "validation-error",
        "query.cursor",
        "cursor",
    )
    task_id = client.get("/v1/tasks").json()["items"][0]["id"]
    assert_problem(
        client.get(f"/v1/tasks/{task_id}/events", params={"cursor": cursor}),
        422,
        "validation-error",
        "query.cursor",
        "cursor",
    )


def test_cancel_body_is_checked(client: TestClient, db_url: str) -> None:
    task = submit(client, "pipeline")
    before = counts(db_url)
    for body, field, rule in [
        ({"reason": "x" * 1001}, "body.reason", "string_too_long"),
        ({"why": "x"}, "body.why", "extra_forbidden"),
        ({"reason": "a\x00"}, "body.reason", "no_nul_character"),
    ]:
        assert_problem(
            client.post(f"/v1/tasks/{task['id']}/cancel", json=body),
            422,
            "validation-error",
            field,
            rule,
        )
    assert counts(db_url) == before
    assert client.get(f"/v1/tasks/{task['id']}").json()["state"] == "queued"


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/v1/nothing"), 404, "not-found")
    response = client.delete("/v1/tasks")
    assert_problem(response, 405, "method-not-allowed")
    assert "allow" in response.headers


def test_unexpected_error_is_a_bare_500(client: TestClient, db_url: str) -> None:
    # Break the schema under the running app: the failure must not leak SQL or a traceback.
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE tasks RENAME COLUMN graph TO graph_name")
    response = client.get("/v1/tasks", params={"graph": "pipeline"})
    problem = assert_problem(response, 500, "internal-error")
    assert (
        "graph_name" not in response.text
        and "column" not in response.text
        and "Traceback" not in response.text
    )
    assert set(problem) == {"type", "title", "status", "detail"}


@pytest.mark.parametrize(
    ("checkpoint_id", "rule"),
    [
        ("a\x00b", "string_pattern_mismatch"),
        ("a\nb", "string_pattern_mismatch"),
        ("x" * 256, "string_too_long"),
    ],
)
def test_checkpoint_id_in_the_path_is_checked(
    client: TestClient, checkpoint_id: str, rule: str
) -> None:
    # A NUL reached Postgres as a query parameter and came back as a 500.
    task = submit(client, "pipeline")
    path = f"/v1/tasks/{task['id']}/checkpoints/{quote(checkpoint_id, safe='')}"
    assert_problem(client.get(path), 422, "validation-error", "path.checkpoint_id", rule)


@pytest.mark.parametrize("number", ["\u00b2", "\u0661\u0662", "\uff11\uff12", "-1", "+1", " 1"])
def test_events_cursor_takes_ascii_digits_only(client: TestClient, number: str) -> None:
    # '²'.isdigit() is true and int('²') raises: that cursor was a 500.
    task = submit(client, "pipeline")
    cursor = encode("events", number)
    assert_problem(
        client.get(f"/v1/tasks/{task['id']}/events", params={"cursor": cursor}),
        422,
        "validation-error",
        "query.cursor",
        "cursor",
    )
