"""`outlast tasks ...` and `outlast dead-letters ...`: the REST API from the shell.

Each command prints the API's JSON on stdout, but for lists: a table by default, `-o json` or
`-o yaml` for scripts, `--watch N` to re-render (outlast.cli.output). Any failure (the API
refused the request, it could not be reached, an option is not valid JSON) is one line on
stderr and exit code 2, never a traceback. The API's address: `--url`, else $OUTLAST_API_URL, else http://127.0.0.1:8000.
The API key: $OUTLAST_API_KEY, else the admin key `make start` saved in .data/admin.key
(outlast.apikey); decisions (approve, reject, answer) are recorded as made by that key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Annotated, Any, NoReturn

import httpx
import typer

from outlast.cli.columns import (
    DEAD_LETTER_COLUMNS,
    GROUP_COLUMNS,
    KEY_COLUMNS,
    TASK_COLUMNS,
    WAIT_COLUMNS,
)
from outlast.cli.output import Format, OutputOption, WatchOption, show
from outlast.cli.progress import bar
from outlast.client import DEFAULT_URL, ApiError, Client

tasks_app = typer.Typer(
    no_args_is_help=True, help="Submit, inspect and cancel tasks.", pretty_exceptions_enable=False
)
dead_letters_app = typer.Typer(
    no_args_is_help=True, help="Inspect and redrive dead letters.", pretty_exceptions_enable=False
)
keys_app = typer.Typer(
    no_args_is_help=True,
    help="API keys: create (shown once), list, revoke. Needs an admin key.",
    pretty_exceptions_enable=False,
)
approvals_app = typer.Typer(
    no_args_is_help=True,
    help="What waits on people: list, approve, reject, answer.",
    pretty_exceptions_enable=False,
)

Url = Annotated[str, typer.Option("--url", envvar="OUTLAST_API_URL", help="The API's base URL.")]
Limit = Annotated[int | None, typer.Option(help="Items per page (1-200).")]
Cursor = Annotated[str | None, typer.Option(help="next_cursor from the previous page.")]


REDRIVE_CHUNK = 50  # dead letters redriven per request: the bar's step


class Mode(StrEnum):
    last_checkpoint = "last_checkpoint"
    scratch = "scratch"
    checkpoint = "checkpoint"


class ManyMode(StrEnum):
    last_checkpoint = "last_checkpoint"
    scratch = "scratch"


def fail(message: str) -> NoReturn:
    typer.echo(f"outlast: {message}", err=True)
    raise typer.Exit(2)


NO_KEY_HINT = (
    "set OUTLAST_API_KEY to a key (outlast keys create), or run `make start`, which saves an"
    " admin key in .data/admin.key"
)


@contextmanager
def api_session(url: str) -> Iterator[Client]:
    """A client whose failures end the command with one line on stderr and exit code 2."""
    client = Client(url)
    try:
        with client:
            yield client
    except ApiError as exc:
        if exc.status == 401 and not client.has_key:
            fail(f"no API key: {NO_KEY_HINT}")
        fail(exc.summary() + (f" ({NO_KEY_HINT})" if exc.status == 401 else ""))
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        fail(f"cannot reach the API at {url}: {exc or type(exc).__name__}")


def print_json(body: Any) -> None:
    typer.echo(json.dumps(body, indent=2))


def json_object(option: str, text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        fail(f"{option} is not valid JSON: {exc}")
    if not isinstance(value, dict):
        fail(f"{option} must be a JSON object, not {type(value).__name__}")
    return value


def _when(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        fail(f"--run-at is not an ISO 8601 time: {text!r}")


# Tasks


@tasks_app.command("submit")
def submit(
    graph: Annotated[
        str | None, typer.Argument(help="A registered graph (GET /v1/graphs); or --agent.")
    ] = None,
    agent: Annotated[str | None, typer.Option(help="An agent instead of a graph.")] = None,
    input_: Annotated[str | None, typer.Option("--input", help="The input, a JSON object.")] = None,
    metadata: Annotated[str | None, typer.Option(help="Metadata, a JSON object.")] = None,
    priority: Annotated[int | None, typer.Option(help="-100..100; higher runs first.")] = None,
    max_attempts: Annotated[int | None, typer.Option(help="1..1000.")] = None,
    timeout_s: Annotated[int | None, typer.Option(help="Longest one attempt may run.")] = None,
    run_at: Annotated[str | None, typer.Option(help="Not before (ISO 8601, with offset).")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Same key, same task.")] = None,
    thread_id: Annotated[
        str | None, typer.Option(help="Run on this thread, from its state (POST /threads).")
    ] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Submit a task; print it."""
    body = json_object("--input", input_)
    meta = json_object("--metadata", metadata)
    with api_session(url) as api:
        print_json(
            api.submit(
                graph,
                body,
                agent=agent,
                metadata=meta,
                priority=priority,
                run_at=_when(run_at),
                max_attempts=max_attempts,
                timeout_s=timeout_s,
                idempotency_key=idempotency_key,
                thread_id=thread_id,
            )
        )


@tasks_app.command("replay")
def replay(
    task_id: str,
    from_call: Annotated[int, typer.Option(help="N: calls before the N-th reuse the journal.")],
    model: Annotated[str | None, typer.Option(help="Another model name.")] = None,
    provider: Annotated[str | None, typer.Option(help="Another provider.")] = None,
    system_prompt: Annotated[str | None, typer.Option(help="Another system prompt.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Another temperature.")] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Replay a finished agent task from its N-th model call; print the new task."""
    with api_session(url) as api:
        print_json(
            api.replay(
                task_id,
                from_call,
                provider=provider,
                model=model,
                system_prompt=system_prompt,
                temperature=temperature,
            )
        )


@tasks_app.command("get")
def get(task_id: str, url: Url = DEFAULT_URL) -> None:
    """Print one task."""
    with api_session(url) as api:
        print_json(api.get(task_id))


@tasks_app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
    graph: Annotated[str | None, typer.Option(help="Only this graph.")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
    output: OutputOption = Format.table,
    watch: WatchOption = None,
    url: Url = DEFAULT_URL,
) -> None:
    """List a page of tasks, newest first: id, state, graph or agent, attempts, age, cost."""
    with api_session(url) as api:
        page = partial(api.list, state=state, graph=graph, limit=limit, cursor=cursor)
        show(page, output, TASK_COLUMNS, watch)


@tasks_app.command("cancel")
def cancel(
    task_id: str,
    reason: Annotated[str | None, typer.Option(help="Recorded in the task's events.")] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Cancel a task (a running one stops at its next node boundary)."""
    with api_session(url) as api:
        print_json(api.cancel(task_id, reason))


@tasks_app.command("events")
def events(
    task_id: str, limit: Limit = None, cursor: Cursor = None, url: Url = DEFAULT_URL
) -> None:
    """Print a page of a task's events, oldest first."""
    with api_session(url) as api:
        print_json(api.events(task_id, limit=limit, cursor=cursor))


@tasks_app.command("message")
def message(task_id: str, text: str, url: Url = DEFAULT_URL) -> None:
    """Continue a completed (chat) task with a follow-up user message."""
    with api_session(url) as api:
        print_json(api.follow_up(task_id, message=text))


@tasks_app.command("fork")
def fork(
    task_id: str,
    checkpoint_id: str,
    patch: Annotated[str | None, typer.Option(help="State values to set, a JSON object.")] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Start a new task from one of this task's checkpoints."""
    state_patch = json_object("--patch", patch)
    with api_session(url) as api:
        print_json(api.fork(task_id, checkpoint_id, state_patch))


# Humans in the loop

WaitId = Annotated[str | None, typer.Option(help="Which wait, when several are open.")]


@approvals_app.command("list")
def approvals(
    graph: Annotated[str | None, typer.Option(help="Only this graph.")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
    output: OutputOption = Format.table,
    watch: WatchOption = None,
    url: Url = DEFAULT_URL,
) -> None:
    """List a page of what waits on people, oldest first."""
    with api_session(url) as api:
        page = partial(api.approvals, graph=graph, limit=limit, cursor=cursor)
        show(page, output, WAIT_COLUMNS, watch)


@approvals_app.command("approve")
def approve(
    task_id: str,
    edited_args: Annotated[str | None, typer.Option(help="Arguments to act with (JSON).")] = None,
    comment: Annotated[str | None, typer.Option(help="Stored with the decision.")] = None,
    wait_id: WaitId = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Approve the action a task waits on."""
    args = json_object("--edited-args", edited_args)
    with api_session(url) as api:
        print_json(api.approve(task_id, edited_args=args, comment=comment, wait_id=wait_id))


@approvals_app.command("reject")
def reject(
    task_id: str,
    reason: Annotated[str, typer.Option(help="Why; the graph receives it.")],
    wait_id: WaitId = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Reject the action a task waits on."""
    with api_session(url) as api:
        print_json(api.reject(task_id, reason, wait_id=wait_id))


@approvals_app.command("answer")
def answer(
    task_id: str,
    value: Annotated[str, typer.Argument(help="The answer, as JSON (a string needs quotes).")],
    wait_id: WaitId = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Answer the question a task waits on."""
    try:
        parsed = json.loads(value)
    except ValueError:
        fail(f"the answer must be JSON (a string needs quotes: '\"{value}\"')")
    with api_session(url) as api:
        print_json(api.answer(task_id, parsed, wait_id=wait_id))


# Dead letters


@dead_letters_app.command("list")
def dead_letters(
    graph: Annotated[str | None, typer.Option(help="Only this graph.")] = None,
    error_type: Annotated[str | None, typer.Option(help="Only this error type.")] = None,
    task_id: Annotated[str | None, typer.Option(help="Only this task's.")] = None,
    include_redriven: Annotated[bool, typer.Option(help="Also those redriven.")] = False,
    limit: Limit = None,
    cursor: Cursor = None,
    output: OutputOption = Format.table,
    watch: WatchOption = None,
    url: Url = DEFAULT_URL,
) -> None:
    """List a page of dead letters, oldest first."""
    with api_session(url) as api:
        page = partial(
            api.dead_letters,
            graph=graph,
            error_type=error_type,
            task_id=task_id,
            include_redriven=include_redriven or None,
            limit=limit,
            cursor=cursor,
        )
        show(page, output, DEAD_LETTER_COLUMNS, watch)


@dead_letters_app.command("get")
def dead_letter(dead_letter_id: str, url: Url = DEFAULT_URL) -> None:
    """Print one dead letter (error, traceback, attempt history)."""
    with api_session(url) as api:
        print_json(api.dead_letter(dead_letter_id))


@dead_letters_app.command("groups")
def groups(
    output: OutputOption = Format.table, watch: WatchOption = None, url: Url = DEFAULT_URL
) -> None:
    """List open dead letters counted by graph and error type."""
    with api_session(url) as api:
        show(api.dead_letter_groups, output, GROUP_COLUMNS, watch)


@dead_letters_app.command("redrive")
def redrive(
    dead_letter_id: str,
    mode: Annotated[Mode, typer.Option(help="Where the task resumes.")] = Mode.last_checkpoint,
    checkpoint_id: Annotated[str | None, typer.Option(help="With --mode checkpoint.")] = None,
    max_attempts: Annotated[int | None, typer.Option(help="New attempt budget.")] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Queue a dead letter's task again; print the task."""
    with api_session(url) as api:
        print_json(
            api.redrive(
                dead_letter_id,
                mode=mode.value,
                checkpoint_id=checkpoint_id,
                max_attempts=max_attempts,
            )
        )


@dead_letters_app.command("redrive-many")
def redrive_many(
    graph: Annotated[str | None, typer.Option(help="Only this graph.")] = None,
    error_type: Annotated[str | None, typer.Option(help="Only this error type.")] = None,
    mode: Annotated[ManyMode, typer.Option(help="Where tasks resume.")] = ManyMode.last_checkpoint,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be redriven.")] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many (1-1000).")] = None,
    max_attempts: Annotated[int | None, typer.Option(help="New attempt budget.")] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Redrive open dead letters matching the filters (oldest first, up to --limit), in chunks
    of REDRIVE_CHUNK with a progress bar on a terminal; print what was requeued."""
    with api_session(url) as api:
        listed = api.redrive_many(graph=graph, error_type=error_type, limit=limit, dry_run=True)
        if dry_run:
            print_json(listed)
            return
        moved: list[dict[str, Any]] = []
        with bar("redriving", listed["count"]) as advance:
            while len(moved) < listed["count"]:
                step = api.redrive_many(
                    graph=graph,
                    error_type=error_type,
                    mode=mode.value,
                    limit=min(REDRIVE_CHUNK, listed["count"] - len(moved)),
                    max_attempts=max_attempts,
                )
                if not step["tasks"]:
                    break  # redriven meanwhile by someone else
                moved += step["tasks"]
                advance(len(step["tasks"]))
        print_json({"dry_run": False, "count": len(moved), "tasks": moved, "dead_letters": None})


# API keys

SCOPES = (
    "tasks:write",
    "tasks:read",
    "approvals:decide",
    "dead-letters:operate",
    "agents:admin",
    "metrics:read",
    "admin",
)
TenantOpt = Annotated[str | None, typer.Option(help="Another tenant (operator only).")]


@keys_app.command("create")
def create_key(
    scope: Annotated[
        list[str], typer.Option("--scope", help=f"Repeat for several: {', '.join(SCOPES)}.")
    ],
    name: Annotated[str | None, typer.Option(help="Who holds it; decisions record it.")] = None,
    tenant: TenantOpt = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Create a key; print it with its secret, which is shown this once only."""
    with api_session(url) as api:
        print_json(api.create_key(scope, name=name, tenant=tenant))


@keys_app.command("list")
def list_keys(
    tenant: TenantOpt = None,
    limit: Limit = None,
    cursor: Cursor = None,
    output: OutputOption = Format.table,
    watch: WatchOption = None,
    url: Url = DEFAULT_URL,
) -> None:
    """List a page of keys, newest first (no secrets: the server has none)."""
    with api_session(url) as api:
        page = partial(api.keys, tenant=tenant, limit=limit, cursor=cursor)
        show(page, output, KEY_COLUMNS, watch)


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key's public id, olk_<id>.")],
    tenant: TenantOpt = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Revoke a key; refused from its next request on."""
    with api_session(url) as api:
        print_json(api.revoke_key(key_id, tenant=tenant))
