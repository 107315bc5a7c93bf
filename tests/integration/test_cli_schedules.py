"""`outlast schedules create|list|get|pause|resume|delete` and the client's schedule methods
against a live API server; failures are one line on stderr and exit code 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from outlast.cli.schedule_commands import schedules_app
from outlast.client import ApiError, Client
from tests.support.api import live_server

runner = CliRunner()


@pytest.fixture
def base_url(db_url: str) -> Iterator[str]:
    with live_server(db_url) as url:
        yield url


def run(url: str, *args: str) -> Result:
    return runner.invoke(schedules_app, [*args, "--url", url])


def ok(result: Result) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_cli_schedules(base_url: str) -> None:
    made = ok(
        run(
            base_url,
            "create",
            "nightly",
            "30 2 * * *",
            "--graph",
            "pipeline",
            "--input",
            '{"text": "Hi."}',
            "--timezone",
            "Europe/Berlin",
            "--catch-up",
            "all",
        )
    )
    assert made["name"] == "nightly" and made["catch_up"] == "all" and len(made["next_runs"]) == 5
    assert [s["name"] for s in ok(run(base_url, "list", "-o", "json"))["items"]] == ["nightly"]
    assert ok(run(base_url, "get", "nightly"))["tasks"] == []
    assert ok(run(base_url, "pause", "nightly"))["paused"] is True
    assert ok(run(base_url, "resume", "nightly"))["paused"] is False
    deleted = run(base_url, "delete", "nightly")
    assert deleted.exit_code == 0 and "deleted" in deleted.stdout
    gone = run(base_url, "get", "nightly")
    assert gone.exit_code == 2 and gone.stderr.startswith("outlast: 404")
    bad = run(base_url, "create", "x", "not cron", "--graph", "pipeline")
    assert bad.exit_code == 2 and "body.cron" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_client_schedules(base_url: str) -> None:
    with Client(base_url) as api:
        made = api.create_schedule("hourly", "@hourly", graph="pipeline", input={"text": "x"})
        assert made["timezone"] == "UTC"
        assert api.schedule("hourly")["tasks"] == []
        assert api.pause_schedule("hourly")["paused"]
        api.delete_schedule("hourly")
        with pytest.raises(ApiError) as caught:
            api.schedule("hourly")
    assert caught.value.status == 404


def test_lists_print_a_table_by_default_and_json_or_yaml_on_request(base_url: str) -> None:
    from outlast.cli.client_commands import tasks_app

    with Client(base_url) as api:
        task = api.submit("pipeline", {"text": "Hi."})
        api.create_schedule("nightly", "30 2 * * *", graph="pipeline", timezone="Europe/Berlin")
    tasks = runner.invoke(tasks_app, ["list", "--url", base_url])
    assert tasks.exit_code == 0, tasks.stderr
    assert tasks.stdout.split()[:5] == ["ID", "STATE", "GRAPH/AGENT", "ATTEMPTS", "AGE"]
    assert tasks.stdout.splitlines()[-1].split()[:4] == [task["id"], "queued", "pipeline", "0/3"]
    as_yaml = runner.invoke(tasks_app, ["list", "-o", "yaml", "--url", base_url])
    assert yaml.safe_load(as_yaml.stdout)["items"][0]["id"] == task["id"]
    table = run(base_url, "list")
    assert table.exit_code == 0 and "Europe/Berlin" in table.stdout.splitlines()[-1]
    listed = yaml.safe_load(run(base_url, "list", "-o", "yaml").stdout)
    assert listed["items"][0]["name"] == "nightly" and len(listed["items"][0]["next_runs"]) == 5
    bad = run(base_url, "list", "-o", "xml")
    assert bad.exit_code == 2
