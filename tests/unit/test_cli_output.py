"""The CLI's list output (outlast.cli.output): a table with the columns a list names, the API's
body as JSON or YAML, and --watch re-rendering until Ctrl-C."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from outlast.cli.columns import SCHEDULE_COLUMNS, TASK_COLUMNS
from outlast.cli.output import CLEAR, Format, ago, render, show

NOW = datetime.now(UTC)
TASK_ID = "0b7f6c1e-8f5a-4a51-9a3b-2f7f0e0e2c11"


def page() -> dict[str, Any]:
    """A page of tasks created 5 minutes and 3 hours before now (now: when the test runs, not
    when the module was collected; a whole suite takes longer than a few minutes)."""
    now = datetime.now(UTC)
    return {
        "items": [
            {**item, "created_at": (now - age).isoformat()}
            for item, age in zip(
                PAGE["items"], (timedelta(minutes=5, seconds=3), timedelta(hours=3)), strict=True
            )
        ],
        "next_cursor": PAGE["next_cursor"],
    }


PAGE: dict[str, Any] = {
    "items": [
        {
            "id": TASK_ID,
            "state": "running",
            "graph": "pipeline",
            "agent": None,
            "attempts": 1,
            "max_attempts": 3,
            "cost_micro_usd": 12_300,
            "created_at": (NOW - timedelta(minutes=5, seconds=3)).isoformat(),
        },
        {
            "id": "1c8e7d2f-9a6b-4b62-8b4c-3e8f1f1f3d22",
            "state": "queued",
            "graph": "outlast.agent",
            "agent": "scout",
            "agent_version": 2,
            "attempts": 0,
            "max_attempts": 5,
            "created_at": (NOW - timedelta(hours=3)).isoformat(),
        },
    ],
    "next_cursor": "abc123",
}


def test_table_shows_the_columns_and_the_next_cursor() -> None:
    text = render(page(), Format.table, TASK_COLUMNS)
    lines = text.splitlines()
    assert lines[0].split() == ["ID", "STATE", "GRAPH/AGENT", "ATTEMPTS", "AGE", "COST"]
    row = next(line for line in lines if TASK_ID in line)  # the whole id, never cut
    assert row.split() == [TASK_ID, "running", "pipeline", "1/3", "5m", "$0.0123"]
    assert "agent scout v2" in text and "0/5" in text and " 3h" in text
    assert lines[-1] == "more: --cursor abc123"
    assert "\x1b[" not in text  # no colour codes when stdout is not a terminal


def test_an_empty_list_says_so() -> None:
    assert render({"items": [], "next_cursor": None}, Format.table, TASK_COLUMNS) == "(none)"


def test_json_and_yaml_are_the_body_as_is() -> None:
    assert json.loads(render(PAGE, Format.json, TASK_COLUMNS)) == PAGE
    assert yaml.safe_load(render(PAGE, Format.yaml, TASK_COLUMNS)) == PAGE


def test_a_paused_schedule_shows_paused() -> None:
    body = {
        "items": [
            {
                "name": "nightly",
                "cron": "30 2 * * *",
                "timezone": "UTC",
                "graph": "pipeline",
                "catch_up": "all",
                "paused": True,
            }
        ]
    }
    row = render(body, Format.table, SCHEDULE_COLUMNS).splitlines()[-1]
    assert row.split() == ["nightly", "30", "2", "*", "*", "*", "UTC", "pipeline", "all", "paused"]


@pytest.mark.parametrize(
    ("delta", "expected"),
    [(timedelta(seconds=42), "42s"), (timedelta(minutes=61), "1h"), (timedelta(days=2), "2d")],
)
def test_ago(delta: timedelta, expected: str) -> None:
    assert ago((NOW - delta).isoformat(), now=NOW) == expected
    assert ago(None) == ""


def test_watch_renders_again_until_ctrl_c(capsys: pytest.CaptureFixture[str]) -> None:
    fetched: list[int] = []
    slept: list[float] = []

    def fetch() -> dict[str, Any]:
        fetched.append(1)
        return PAGE

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            raise KeyboardInterrupt

    show(fetch, Format.table, TASK_COLUMNS, watch=2, sleep=sleep)
    out = capsys.readouterr().out
    assert len(fetched) == 3 and slept == [2, 2, 2]
    # click drops the clear-screen code when stdout is not a terminal: renderings follow each other.
    assert out.count("every 2s") == 3 and out.count(TASK_ID) == 3 and CLEAR not in out
