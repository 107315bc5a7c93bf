"""The Python client and `outlast tasks` / `outlast dead-letters` against a live API server.
Failures end with one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from outlast.cli.client_commands import dead_letters_app, tasks_app
from outlast.client import ApiError, Client
from tests.support.api import free_port, live_server
from tests.support.keys import AUTH

runner = CliRunner()


@pytest.fixture
def base_url(db_url: str) -> Iterator[str]:
    with live_server(db_url) as url:
        yield url


def run(app: typer.Typer, *args: str, url: str | None = None) -> Result:
    extra = ["--url", url] if url else []
    return runner.invoke(app, [*args, *extra])


def ok(result: Result) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def assert_one_line_failure(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("outlast: ") and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_client_round_trip(base_url: str) -> None:
    with Client(base_url) as api:
        graphs = {g["name"] for g in api.graphs()["items"]}
        assert {"pipeline", "flaky"} <= graphs
        task = api.submit("pipeline", {"text": "Hi."}, priority=3, idempotency_key="c-1")
        assert (
            api.submit("pipeline", {"text": "Hi."}, priority=3, idempotency_key="c-1")["id"]
            == task["id"]
        )
        assert api.get(task["id"])["priority"] == 3
        assert [t["id"] for t in api.list(graph="pipeline")["items"]] == [task["id"]]
        assert api.cancel(task["id"], "done")["state"] == "cancelled"
        assert [e["kind"] for e in api.events(task["id"])["items"]] == ["submitted", "cancelled"]
        assert api.checkpoints(task["id"])["items"] == []
        assert api.workers()["items"] == []
        assert api.dead_letters()["items"] == [] and api.dead_letter_groups()["items"] == []
        assert api.redrive_many(dry_run=True) == {
            "dry_run": True,
            "count": 0,
            "tasks": None,
            "dead_letters": [],
        }
        with pytest.raises(ApiError) as caught:
            api.cancel(task["id"])
    assert caught.value.status == 409 and caught.value.problem["state"] == "cancelled"
    assert str(caught.value).startswith("409 Conflict: ")


def test_cli_tasks(base_url: str) -> None:
    task = ok(
        run(
            tasks_app,
            "submit",
            "pipeline",
            "--input",
            '{"text": "Hi."}',
            "--priority",
            "5",
            "--idempotency-key",
            "k",
            "--metadata",
            '{"who": "cli"}',
            url=base_url,
        )
    )
    assert (task["priority"], task["metadata"]) == (5, {"who": "cli"})
    assert ok(run(tasks_app, "get", task["id"], url=base_url))["id"] == task["id"]
    listed = ok(
        run(tasks_app, "list", "-o", "json", "--state", "queued", "--limit", "5", url=base_url)
    )
    assert [t["id"] for t in listed["items"]] == [task["id"]]
    assert (
        ok(run(tasks_app, "cancel", task["id"], "--reason", "x", url=base_url))["state"]
        == "cancelled"
    )
    events = ok(run(tasks_app, "events", task["id"], url=base_url))
    assert [e["kind"] for e in events["items"]] == ["submitted", "cancelled"]


def test_cli_reads_url_from_environment(base_url: str) -> None:
    result = runner.invoke(tasks_app, ["list", "-o", "json"], env={"OUTLAST_API_URL": base_url})
    assert ok(result) == {"items": [], "next_cursor": None}


def test_cli_dead_letters(base_url: str) -> None:
    assert (
        ok(run(dead_letters_app, "list", "-o", "json", "--graph", "flaky", url=base_url))["items"]
        == []
    )
    assert ok(run(dead_letters_app, "groups", "-o", "json", url=base_url))["items"] == []
    dry = ok(
        run(
            dead_letters_app,
            "redrive-many",
            "--error-type",
            "X",
            "--dry-run",
            "--limit",
            "10",
            url=base_url,
        )
    )
    assert dry == {"dry_run": True, "count": 0, "tasks": None, "dead_letters": []}
    real = ok(
        run(dead_letters_app, "redrive-many", "--graph", "flaky", "--mode", "scratch", url=base_url)
    )
    assert real["count"] == 0 and real["tasks"] == []


@pytest.mark.parametrize(
    ("app", "args", "needles"),
    [
        (tasks_app, ["submit", "nope"], ["422", "known graphs"]),
        (tasks_app, ["get", "not-a-uuid"], ["422", "path.task_id"]),
        (tasks_app, ["get", "00000000-0000-0000-0000-000000000000"], ["404", "does not exist"]),
        (tasks_app, ["list", "--limit", "500"], ["422", "query.limit"]),
        (dead_letters_app, ["get", "00000000-0000-0000-0000-000000000000"], ["404"]),
        (dead_letters_app, ["redrive", "00000000-0000-0000-0000-000000000000"], ["404"]),
        (
            dead_letters_app,
            ["redrive", "00000000-0000-0000-0000-000000000000", "--mode", "checkpoint"],
            ["422", "checkpoint_id"],
        ),
    ],
)
def test_cli_api_errors_are_one_line(
    base_url: str, app: typer.Typer, args: list[str], needles: list[str]
) -> None:
    assert_one_line_failure(run(app, *args, url=base_url), *needles)


def test_cli_cancel_twice_is_409(base_url: str) -> None:
    task = ok(run(tasks_app, "submit", "pipeline", url=base_url))
    ok(run(tasks_app, "cancel", task["id"], url=base_url))
    assert_one_line_failure(run(tasks_app, "cancel", task["id"], url=base_url), "409")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["submit", "pipeline", "--input", "{not json"], "--input is not valid JSON"),
        (["submit", "pipeline", "--input", "[1, 2]"], "--input must be a JSON object"),
        (["submit", "pipeline", "--metadata", "7"], "--metadata must be a JSON object"),
        (["submit", "pipeline", "--run-at", "someday"], "--run-at is not an ISO 8601 time"),
    ],
)
def test_cli_bad_options_never_call_the_api(args: list[str], needle: str) -> None:
    # No server at this URL: the options must be refused before any request is made.
    assert_one_line_failure(run(tasks_app, *args, url="http://127.0.0.1:9"), needle)


@pytest.mark.parametrize(
    ("app", "args"),
    [
        (tasks_app, ["list"]),
        (tasks_app, ["submit", "pipeline", "--input", "{}"]),
        (dead_letters_app, ["redrive-many", "--dry-run"]),
    ],
)
def test_cli_connection_refused(app: typer.Typer, args: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert_one_line_failure(run(app, *args, url=url), "cannot reach the API", url)


def test_cli_bad_url() -> None:
    assert_one_line_failure(run(tasks_app, "list", url="not a url"), "cannot reach the API")


def test_client_and_cli_submit_to_an_agent_and_replay(base_url: str) -> None:
    agent = {"name": "helper", "provider": "offline", "model": "offline"}
    assert httpx.post(f"{base_url}/v1/agents", json=agent, headers=AUTH).status_code == 201
    with Client(base_url) as api:
        task = api.submit(agent="helper", input={"messages": []})
        assert (task["agent"], task["agent_version"]) == ("helper", 1)
        with pytest.raises(ApiError) as caught:
            api.replay(task["id"], 1, model="other")
        assert caught.value.status == 409  # still queued
        assert api.replays(task["id"])["replays"] == []
    cli = ok(run(tasks_app, "submit", "--agent", "helper", url=base_url))
    assert cli["graph"] == "outlast.agent"
    assert_one_line_failure(
        run(tasks_app, "replay", cli["id"], "--from-call", "1", url=base_url), "409"
    )


def test_client_and_cli_submit_on_a_thread(base_url: str) -> None:
    """`thread_id` puts the task on a thread of the LangGraph API; another tenant's is a 404."""
    thread_id = httpx.post(f"{base_url}/threads", json={}, headers=AUTH).json()["thread_id"]
    with Client(base_url) as api:
        first = api.submit("pipeline", {"text": "Hi."}, thread_id=thread_id)
        assert first["thread_id"] == thread_id
        other = api.create_key(["admin"], tenant="acme")
    second = ok(run(tasks_app, "submit", "pipeline", "--thread-id", thread_id, url=base_url))
    assert second["thread_id"] == thread_id and second["id"] != first["id"]
    runs = httpx.get(f"{base_url}/threads/{thread_id}/runs", headers=AUTH).json()
    assert [r["run_id"] for r in runs] == [second["id"], first["id"]]
    with Client(base_url, api_key=other["key"]) as theirs, pytest.raises(ApiError) as caught:
        theirs.submit("pipeline", {"text": "Hi."}, thread_id=thread_id)
    assert caught.value.status == 404
    assert_one_line_failure(
        run(tasks_app, "submit", "pipeline", "--thread-id", "nope", url=base_url), "thread_id"
    )
