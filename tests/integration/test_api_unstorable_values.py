"""SPEC §4.9: a value the checkpointer cannot store is refused at the edge (422 naming the field
by its path, and the rule), on every route whose body reaches a task's state or the database.

LangGraph's serializer (msgpack) takes integers of at most 64 bits; Postgres `jsonb` refuses
NUL and lone surrogates, and JSON has no NaN. Before the int64 rule, a human's answer with a
huge integer was accepted (200), then failed the task in the worker, for good: a decision is
final, and a redrive replays it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from db import lease, waits
from db.connect import Pool
from tests.integration.test_api_bad_input import assert_problem, post_raw
from tests.support.api import add_checkpoints, api_client, counts, on_app_loop, submit
from tests.support.queue import GRAPHS, complete, new_worker

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as c:
        yield c


def park(client: TestClient, kind: waits.Kind, payload: dict[str, Any]) -> str:
    """A task waiting on a person, through the queue's own statements."""
    task = submit(client, "pipeline")

    async def run(pool: Pool) -> None:
        worker_id = await new_worker(pool)
        (claim,) = await lease.claim_many(pool, worker_id, limit=1, ttl_s=30, graphs=GRAPHS)
        wait = waits.NewWait("interrupt-1", kind, payload)
        await waits.park(pool, worker_id, claim.task_id, claim.epoch, [wait], default_timeout_s=60)

    on_app_loop(client, run)
    return str(task["id"])


def completed(client: TestClient) -> str:
    task = submit(client, "pipeline")

    async def run(pool: Pool) -> None:
        worker_id = await new_worker(pool)
        (claim,) = await lease.claim_many(pool, worker_id, limit=1, ttl_s=30, graphs=GRAPHS)
        await complete(pool, worker_id, claim.task_id, claim.epoch, {"ok": True})

    on_app_loop(client, run)
    return str(task["id"])


def with_checkpoint(client: TestClient, db_url: str) -> str:
    task_id = str(submit(client, "pipeline")["id"])
    add_checkpoints(db_url, task_id, ["cp-1"])
    return task_id


# Each entry point: (name, a (client, db_url) -> (path, body builder)). The builder puts the bad
# value where the route takes free JSON; `field` is the dotted path the problem must name.
Route = Callable[[TestClient, str], str]
ENTRY_POINTS: list[tuple[str, Route, Callable[[Any], Any], str, str]] = [
    ("submit input", lambda c, u: "/v1/tasks", lambda v: {"graph": "pipeline", "input": {"n": v}},
     "body.input.n", "/input/n"),
    ("submit metadata", lambda c, u: "/v1/tasks",
     lambda v: {"graph": "pipeline", "metadata": {"m": [0, v]}}, "body.metadata.m.1",
     "/metadata/m/1"),
    ("batch", lambda c, u: "/v1/tasks:batch",
     lambda v: {"tasks": [{"graph": "pipeline"}, {"graph": "pipeline", "input": {"n": v}}]},
     "body.tasks.1.input.n", "/tasks/1/input/n"),
    ("input", lambda c, u: f"/v1/tasks/{park(c, 'input', {'question': 'n?'})}/input",
     lambda v: {"value": {"answer": v}}, "body.value.answer", "/value/answer"),
    ("approve", lambda c, u: f"/v1/tasks/{park(c, 'approval', {'args': {}})}/approve",
     lambda v: {"edited_args": {"a/b": v}}, "body.edited_args.a/b", "/edited_args/a~1b"),
    ("follow-up", lambda c, u: f"/v1/tasks/{completed(c)}/messages",
     lambda v: {"input": {"n": v}}, "body.input.n", "/input/n"),
    ("fork", lambda c, u: f"/v1/tasks/{with_checkpoint(c, u)}/fork",
     lambda v: {"checkpoint_id": "cp-1", "state_patch": {"n": v}}, "body.state_patch.n",
     "/state_patch/n"),
]  # fmt: skip


@pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, 2**64, -(2**200)])
@pytest.mark.parametrize(
    ("route", "body", "field", "pointer"),
    [entry[1:] for entry in ENTRY_POINTS],
    ids=[entry[0] for entry in ENTRY_POINTS],
)
def test_integer_beyond_int64_is_refused_everywhere(
    client: TestClient,
    db_url: str,
    route: Route,
    body: Callable[[Any], Any],
    field: str,
    pointer: str,
    value: int,
) -> None:
    path = route(client, db_url)
    before = counts(db_url)
    problem = assert_problem(
        client.post(path, json=body(value)), 422, "validation-error", field, "int64"
    )
    assert problem["errors"][0]["pointer"] == pointer
    assert counts(db_url) == before


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ('"a\\u0000b"', "no_nul_character"),
        ('"\\udc00"', "valid_unicode"),
        ("NaN", "finite_number"),
        ("-1e999", "finite_number"),
    ],
)
@pytest.mark.parametrize(
    ("route", "body", "field", "pointer"),
    [entry[1:] for entry in ENTRY_POINTS],
    ids=[entry[0] for entry in ENTRY_POINTS],
)
def test_unstorable_scalars_are_refused_everywhere(
    client: TestClient,
    db_url: str,
    route: Route,
    body: Callable[[Any], Any],
    field: str,
    pointer: str,
    raw: str,
    rule: str,
) -> None:
    path = route(client, db_url)
    marker = "__VALUE__"
    text = json.dumps(body(marker)).replace(f'"{marker}"', raw)
    before = counts(db_url)
    problem = assert_problem(post_raw(client, path, text), 422, "validation-error", field, rule)
    assert problem["errors"][0]["pointer"] == pointer
    assert counts(db_url) == before


def test_key_with_nul_is_named_by_its_pointer(client: TestClient) -> None:
    response = post_raw(client, "/v1/tasks", '{"graph": "pipeline", "input": {"a\\u0000": 1}}')
    problem = assert_problem(
        response, 422, "validation-error", "body.input.a\x00", "no_nul_character"
    )
    assert problem["errors"][0]["pointer"] == "/input/a\x00"


@pytest.mark.parametrize("reason", ['"a\\u0000"', '"\\ud800"'])
def test_reject_reason_must_be_storable(client: TestClient, db_url: str, reason: str) -> None:
    task_id = park(client, "approval", {"args": {}})
    before = counts(db_url)
    response = post_raw(client, f"/v1/tasks/{task_id}/reject", '{"reason": ' + reason + "}")
    assert_problem(response, 422, "validation-error")
    assert counts(db_url) == before


def test_redrive_max_attempts_beyond_int64(client: TestClient, db_url: str) -> None:
    response = client.post(f"/v1/dead-letters/{uuid.uuid4()}/redrive", json={"max_attempts": 2**64})
    assert_problem(response, 422, "validation-error", "body.max_attempts", "int64")


def test_the_int64_bounds_themselves_are_accepted(client: TestClient) -> None:
    task_id = park(client, "input", {"question": "n?"})  # first: park claims the oldest task
    task = submit(client, "pipeline", input={"max": INT64_MAX, "min": INT64_MIN})
    assert task["input"] == {"max": INT64_MAX, "min": INT64_MIN}
    answered = client.post(f"/v1/tasks/{task_id}/input", json={"value": INT64_MAX})
    assert answered.status_code == 200, answered.text
