"""`outlast webhooks create|list|get|pause|resume|delete` and the client's webhook methods
against a live API server; failures are one line on stderr and exit code 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from outlast.cli.webhook_commands import webhooks_app
from outlast.client import ApiError, Client
from tests.support.api import live_server

runner = CliRunner()
RECEIVER = "http://127.0.0.1:9/hook"  # never called: no reaper runs here


@pytest.fixture
def base_url(db_url: str) -> Iterator[str]:
    with live_server(db_url) as url:
        yield url


def run(url: str, *args: str) -> Result:
    return runner.invoke(webhooks_app, [*args, "--url", url])


def ok(result: Result) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_cli_webhooks(base_url: str) -> None:
    made = ok(
        run(base_url, "create", "ops", RECEIVER, "--events", "task.failed", "--allow-private")
    )
    assert made["events"] == ["task.failed"] and made["secret"].startswith("whsec_")
    listed = ok(run(base_url, "list", "-o", "json"))["items"]
    assert [w["name"] for w in listed] == ["ops"] and "secret" not in listed[0]
    as_yaml = yaml.safe_load(run(base_url, "list", "-o", "yaml").stdout)
    assert as_yaml["items"][0]["url"] == RECEIVER
    table = run(base_url, "list")
    assert table.exit_code == 0, table.stderr
    assert table.stdout.split()[:5] == ["NAME", "URL", "EVENTS", "STATE", "AGE"]
    assert table.stdout.splitlines()[-1].split()[:4] == ["ops", RECEIVER, "task.failed", "active"]
    assert ok(run(base_url, "get", "ops"))["deliveries"] == []
    assert ok(run(base_url, "pause", "ops"))["paused"] is True
    assert ok(run(base_url, "resume", "ops"))["paused"] is False
    deleted = run(base_url, "delete", "ops")
    assert deleted.exit_code == 0 and "deleted" in deleted.stdout
    gone = run(base_url, "get", "ops")
    assert gone.exit_code == 2 and gone.stderr.startswith("outlast: 404")
    refused = run(base_url, "create", "ops", RECEIVER)  # loopback, not allowed
    assert refused.exit_code == 2 and "body.url" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1


def test_client_webhooks(base_url: str) -> None:
    with Client(base_url) as api:
        made = api.create_webhook("ops", RECEIVER, ["task.completed"], allow_private=True)
        assert made["allow_private"] and "secret" in made
        changed = api.update_webhook("ops", events=["task.completed", "task.waiting"])
        assert changed["events"] == ["task.completed", "task.waiting"] and "secret" not in changed
        assert [w["name"] for w in api.webhooks()["items"]] == ["ops"]
        assert api.pause_webhook("ops")["paused"]
        assert not api.resume_webhook("ops")["paused"]
        assert api.webhook("ops")["deliveries"] == []
        api.delete_webhook("ops")
        with pytest.raises(ApiError) as caught:
            api.webhook("ops")
    assert caught.value.status == 404
