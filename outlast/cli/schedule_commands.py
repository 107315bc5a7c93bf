"""`outlast schedules ...`: cron schedules over the REST API (docs/howto/schedules.md);
list, get, pause, resume and delete come from named_objects.

Output and failures as in client_commands: the API's JSON on stdout (`list`: a table, or
`-o json|yaml`, `--watch N`); a failure is one line on stderr and exit code 2.
"""

from __future__ import annotations

from typing import Annotated

import typer

from outlast.cli.client_commands import Url, api_session, json_object, print_json
from outlast.cli.columns import SCHEDULE_COLUMNS
from outlast.cli.named_objects import NamedObjects, named_objects_app
from outlast.client import DEFAULT_URL

schedules_app = named_objects_app(
    NamedObjects(
        noun="schedule",
        plural="schedules",
        columns=SCHEDULE_COLUMNS,
        help="Cron schedules: create, list, get, pause, resume, delete.",
        list_help="List every schedule with its next run (-o json|yaml: the next five, and every"
        " field).",
        get_help="Print one schedule, its next runs and the latest tasks it submitted.",
        pause_help="Stop firing a schedule.",
        resume_help="Fire again from the next slot (slots missed while paused are skipped).",
        delete_help="Delete a schedule (the tasks it submitted stay).",
    )
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
