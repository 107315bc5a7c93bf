"""The shape shared by command groups over named objects of the REST API (schedules,
webhooks): `list`, `get`, `pause`, `resume`, `delete` of an object found by its name, over
the client methods `<plural>()`, `<noun>(name)`, `pause_<noun>(name)`, `resume_<noun>(name)`
and `delete_<noun>(name)`. Each group adds its own `create` (its fields differ).

Output and failures as in client_commands: the API's JSON on stdout (`list`: a table, or
`-o json|yaml`, `--watch N`); a failure is one line on stderr and exit code 2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import typer

from outlast.cli.client_commands import Url, api_session, print_json
from outlast.cli.output import Column, Format, OutputOption, WatchOption, show
from outlast.client import DEFAULT_URL


@dataclass(frozen=True)
class NamedObjects:
    """One kind of named object: its client method names and the help of each command."""

    noun: str  # "schedule": the client's `schedule(name)`, `pause_schedule(name)`, ...
    plural: str  # "schedules": the client's `schedules()`
    columns: Sequence[Column]
    help: str
    list_help: str
    get_help: str
    pause_help: str
    resume_help: str
    delete_help: str


def named_objects_app(kind: NamedObjects) -> typer.Typer:
    """A sub-app with list/get/pause/resume/delete of `kind`; the caller adds `create`."""
    app = typer.Typer(no_args_is_help=True, help=kind.help, pretty_exceptions_enable=False)

    @app.command("list", help=kind.list_help)
    def list_(
        output: OutputOption = Format.table, watch: WatchOption = None, url: Url = DEFAULT_URL
    ) -> None:
        with api_session(url) as api:
            show(getattr(api, kind.plural), output, kind.columns, watch)

    for verb, prefix, text in (
        ("get", "", kind.get_help),
        ("pause", "pause_", kind.pause_help),
        ("resume", "resume_", kind.resume_help),
    ):
        app.command(verb, help=text)(_printing(f"{prefix}{kind.noun}"))

    @app.command("delete", help=kind.delete_help)
    def delete(name: str, url: Url = DEFAULT_URL) -> None:
        with api_session(url) as api:
            getattr(api, f"delete_{kind.noun}")(name)
        typer.echo(f"deleted {kind.noun} {name}")

    return app


def _printing(method: str) -> Callable[[str, str], None]:
    """A command taking a name that prints what the client's `method(name)` answers."""

    def command(name: str, url: Url = DEFAULT_URL) -> None:
        with api_session(url) as api:
            print_json(getattr(api, method)(name))

    return command
