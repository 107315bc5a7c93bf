"""`outlast tasks submit-batch FILE.jsonl`: many tasks from a file, one JSON object a line (each
as `POST /v1/tasks` takes it), posted in chunks to `POST /v1/tasks:batch`, with a progress bar
on a terminal.

The whole file is checked before any task is submitted: here, that each line is a JSON object
naming a graph or an agent; then by the API, chunk by chunk, with `?dry_run=true` (every check,
no write). A bad line ends the command with a message naming the line (exit code 2), and no
task is submitted. Blank lines are skipped. Each chunk is written all or none; should the API
refuse one after the check passed (an agent deleted meanwhile), the message names the line and
how many tasks the chunks before it submitted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from outlast.cli.client_commands import (
    Url,
    api_session,
    fail,
    json_object,
    print_json,
    tasks_app,
)
from outlast.cli.progress import bar
from outlast.client import DEFAULT_URL, ApiError, Client

Json = dict[str, Any]
MAX_CHUNK = 1000  # the API's most tasks in one batch


def _read(source: Path) -> list[tuple[int, Json]]:
    """(line number, task) for each non-blank line; exits naming the first bad line."""
    try:
        text = sys.stdin.read() if str(source) == "-" else source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {source}: {exc}")
    tasks: list[tuple[int, Json]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.strip():
            tasks.append((number, _task(source, number, raw)))
    if not tasks:
        fail(f"{source} holds no task")
    return tasks


def _task(source: Path, number: int, raw: str) -> Json:
    task = json_object(f"{source}, line {number}", raw)
    if task is None or ("graph" not in task and "agent" not in task):
        fail(f"{source}, line {number}: a task names a graph or an agent")
    return task


def _refused(exc: ApiError, chunk: list[tuple[int, Json]], done: int) -> str:
    """The API's refusal of a chunk, its `body.tasks.{i}.` fields named by line."""
    lines = []
    for error in exc.problem.get("errors") or []:
        parts = str(error.get("field", "")).split(".")
        if len(parts) > 2 and parts[:2] == ["body", "tasks"] and parts[2].isdigit():
            field = ".".join(parts[3:]) or "task"
            lines.append(f"line {chunk[int(parts[2])][0]}: {field}: {error.get('message')}")
    where = "; ".join(lines) or exc.summary()
    return f"{where} ({done} task(s) of earlier chunks were submitted)"


def _chunks(tasks: list[tuple[int, Json]], size: int) -> list[list[tuple[int, Json]]]:
    return [tasks[start : start + size] for start in range(0, len(tasks), size)]


def _send(api: Client, part: list[tuple[int, Json]], done: list[Json], dry_run: bool) -> None:
    """One chunk; a refusal ends the command naming the lines."""
    try:
        answer = api.submit_batch([task for _, task in part], dry_run=dry_run)
    except ApiError as exc:
        if exc.status != 422:
            raise
        fail(_refused(exc, part, len(done)))
    done += answer["tasks"]


def submit_all(api: Client, tasks: list[tuple[int, Json]], chunk: int) -> list[Json]:
    """Checks every chunk (the API's dry run), then submits them: a bad line is found before
    any task is written."""
    created: list[Json] = []
    parts = _chunks(tasks, chunk)
    for description, dry_run in (("checking", True), ("submitting", False)):
        with bar(description, len(tasks)) as advance:
            for part in parts:
                _send(api, part, created, dry_run)
                advance(len(part))
    return created


@tasks_app.command("submit-batch")
def submit_batch(
    file: Annotated[Path, typer.Argument(help="JSON Lines: one task object a line; - for stdin.")],
    chunk: Annotated[
        int, typer.Option(min=1, max=MAX_CHUNK, help="Tasks per request (all or none each).")
    ] = 100,
    url: Url = DEFAULT_URL,
) -> None:
    """Submit every task of a JSONL file; print {"tasks": [...]}, in the file's order."""
    tasks = _read(file)
    with api_session(url) as api:
        print_json({"tasks": submit_all(api, tasks, chunk)})
