"""`outlast schedules ...`: cron schedules over the REST API (docs/howto/schedules.md).

Output and failures as in client_commands: the API's JSON on stdout (`list`: a table, or
`-o json|yaml`, `--watch N`); a failure is one line on stderr and exit code 2.
"""

from __future__ import annotations

from typing import Annotated

import typer

from outlast.cli.client_commands import Url, api_session, json_object, print_json
from outlast.cli.columns import SCHEDULE_COLUMNS
from outlast.cli.output import Format, OutputOption, WatchOption, show
from outlast.client import DEFAULT_URL

schedules_app = typer.Typer(
    no_args_is_help=True,
    help="Cron schedules: create, list, pause, resume, delete.",
    pretty_exceptions_enable=False,
)


@schedules_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Unique in your tenant (a slug).")],
    cron: Annotated[str, typer.Argument(help="Five cron fields, e.g. '30 2 * * *', or @daily.")],
    graph: Annotated[str | None, typer.Option(help="A registered graph; or --agent.")] = None,
    agent: Annotated[str | None, typer.Option(help="An agent instead of a graph.")] = None,
    input_: Annotated[str | None, typer.Option("--input", help="Each task's input (JSON).")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone (default UTC).")] = None,
    catch_up: Annotated[
        str | None, typer.Option(help="Missed slots: latest (default), all or none.")
    ] = None,
    max_attempts: Annotated[int | None, typer.Option(help="Each task's attempts.")] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Create a schedule; print it with its next runs."""
    body = json_object("--input", input_)
    with api_session(url) as api:
        print_json(
            api.create_schedule(
                name,
                cron,
                graph=graph,
                agent=agent,
                input=body,
                timezone=timezone,
                catch_up=catch_up,
                max_attempts=max_attempts,
            )
        )


@schedules_app.command("list")
def list_(
    output: OutputOption = Format.table, watch: WatchOption = None, url: Url = DEFAULT_URL
) -> None:
    """List every schedule with its next run (-o json|yaml: the next five, and every field)."""
    with api_session(url) as api:
        show(api.schedules, output, SCHEDULE_COLUMNS, watch)


@schedules_app.command("get")
def get(name: str, url: Url = DEFAULT_URL) -> None:
    """Print one schedule, its next runs and the latest tasks it submitted."""
    with api_session(url) as api:
        print_json(api.schedule(name))


@schedules_app.command("pause")
def pause(name: str, url: Url = DEFAULT_URL) -> None:
    """Stop firing a schedule."""
    with api_session(url) as api:
        print_json(api.pause_schedule(name))


@schedules_app.command("resume")
def resume(name: str, url: Url = DEFAULT_URL) -> None:
    """Fire again from the next slot (slots missed while paused are skipped)."""
    with api_session(url) as api:
        print_json(api.resume_schedule(name))


@schedules_app.command("delete")
def delete(name: str, url: Url = DEFAULT_URL) -> None:
    """Delete a schedule (the tasks it submitted stay)."""
    with api_session(url) as api:
        api.delete_schedule(name)
    typer.echo(f"deleted schedule {name}")
