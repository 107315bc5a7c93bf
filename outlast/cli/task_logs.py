"""`outlast tasks logs <id> [--follow]`: a task's events, one readable line each.

    2026-11-28 23:20:01  claimed           attempt 1  worker 1a2b3c4d  queued→running
    2026-11-28 23:20:09  completed         attempt 1  worker 1a2b3c4d  running→completed

Without --follow, the events so far (every page), exit code 0. With --follow, then the task's
stream (resumed on a dropped connection) until the task ends: exit code 0 when it completed,
1 when it failed (dead-lettered) or was cancelled. Ctrl-C stops following (exit code 130).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

import typer

from outlast.cli.client_commands import Url, api_session, tasks_app
from outlast.client import DEFAULT_URL, Client

Json = dict[str, Any]
TERMINAL = ("completed", "failed", "cancelled")
DETAIL_WIDTH = 80


def exit_code(state: str) -> int:
    return 0 if state == "completed" else 1


def _when(text: object) -> str:
    if not isinstance(text, str):
        return ""
    return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")


def _detail(detail: object) -> str:
    """The event's detail as `key=value` pairs, cut to one short line."""
    if not isinstance(detail, dict) or not detail:
        return ""
    pairs = [f"{key}={_value(value)}" for key, value in detail.items()]
    text = " ".join(" ".join(pairs).split())
    return text if len(text) <= DETAIL_WIDTH else text[: DETAIL_WIDTH - 1] + "…"


def _value(value: object) -> str:
    """A string as is, an error as `Type: message`, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and {"type", "message"} <= value.keys():
        return f"{value['type']}: {value['message']}"
    return json.dumps(value, separators=(",", ":"))


def line(event: Json) -> str:
    """One event: time (UTC), kind, attempt, worker, state change, short detail."""
    attempt = f"attempt {event['attempt']}" if event.get("attempt") else ""
    worker = f"worker {str(event['worker_id'])[:8]}" if event.get("worker_id") else ""
    moved = ""
    if event.get("to_state") and event.get("to_state") != event.get("from_state"):
        moved = f"{event.get('from_state') or ''}→{event['to_state']}"
    parts = [
        _when(event.get("at")),
        f"{event.get('kind', ''):<17}",
        f"{attempt:<10}",
        f"{worker:<15}",
        f"{moved:<26}",
        _detail(event.get("detail")),
    ]
    return "  ".join(parts).rstrip()


def _print(events: Iterable[Json]) -> int | None:
    """Prints the events; the last one's id (None when there was none)."""
    last = None
    for event in events:
        typer.echo(line(event))
        last = int(event["id"])
    return last


def follow(api: Client, task_id: str) -> int:
    """Prints the task's events until it ends; its exit code."""
    task = api.get(task_id)
    last = _print(api.iter_events(task_id))
    if task["state"] in TERMINAL:
        return exit_code(task["state"])
    for event in api.stream(task_id, last_event_id=last or 0):
        typer.echo(line(event))
        if event.get("to_state") in TERMINAL:
            return exit_code(event["to_state"])
    raise AssertionError("a task's stream does not end")  # pragma: no cover


@tasks_app.command("logs")
def logs(
    task_id: str,
    follow_: Annotated[
        bool, typer.Option("--follow", "-f", help="Follow the task until it ends.")
    ] = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Print a task's events; -f: follow until it ends (exit 0 completed, 1 failed/cancelled)."""
    with api_session(url) as api:
        if not follow_:
            _print(api.iter_events(task_id))
            return
        try:
            code = follow(api, task_id)
        except KeyboardInterrupt:
            code = 130
    raise typer.Exit(code)
