"""The `outlast` command: run the processes, manage the database, drive the stack and the API.

    outlast api | worker | reaper            run one process in the foreground
    outlast db migrate | start | stop | url | admin-key  the database (embedded by default)
    outlast stack start | stop | scale | status | logs   the whole local stack (make start ...)
    outlast tasks | dead-letters | approvals | keys ...   the REST API, from the shell

Bad input ends with a one-line message on stderr and exit code 2; never a traceback.
"""

from __future__ import annotations

import sys

import typer

from outlast import database
from outlast.settings import Settings, load_or_exit

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
db_app = typer.Typer(no_args_is_help=True, help="The database: migrate, start, stop, url.")
app.add_typer(db_app, name="db")


def _settings() -> Settings:
    return load_or_exit("outlast")


@app.command()
def api(
    host: str | None = typer.Option(None, help="Bind address (OUTLAST_API_HOST)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (OUTLAST_API_PORT)."),
) -> None:
    """Run the REST API (and the console) in the foreground."""
    import uvicorn

    from outlast import logs

    settings = _settings()
    # JSON lines like every process: uvicorn's own loggers propagate to this root handler
    # (log_config=None keeps its plain-text config out), and the access log is api.access_log.
    logs.configure("api", settings.log_level)
    database.resolve_url(settings)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
    )


@app.command()
def worker(
    concurrency: int | None = typer.Option(
        None, min=1, max=1000, help="Tasks run at once (OUTLAST_WORKER_CONCURRENCY)."
    ),
) -> None:
    """Run one worker process in the foreground."""
    from worker import process

    process.main(_settings(), concurrency)


@app.command()
def reaper(
    once: bool = typer.Option(False, help="Run one pass, print its counts, exit."),
) -> None:
    """Run the reaper in the foreground."""
    from reaper import process

    process.main(_settings(), once=once)


@db_app.command("migrate")
def db_migrate() -> None:
    """Create or upgrade Outlast's tables and LangGraph's checkpoint tables."""
    from db import migrate
    from outlast.cli.progress import bar

    url = database.resolve_url(_settings())
    with bar("migrating", len(migrate.pending(url)) + 1) as advance:
        migrate.upgrade(url, on_step=lambda _: advance(1))
    typer.echo("migrated")


@db_app.command("start")
def db_start() -> None:
    """Start the embedded Postgres (no-op when DATABASE_URL is set); print its URL."""
    typer.echo(database.resolve_url(_settings()))


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded Postgres."""
    settings = _settings()
    if settings.database_url:
        typer.echo("DATABASE_URL is set: the external server is not ours to stop")
        return
    stopped = database.embedded(settings).stop()
    typer.echo("embedded postgres stopped" if stopped else "embedded postgres was not running")


@db_app.command("admin-key")
def db_admin_key(
    name: str = typer.Option("operator", help="Recorded on the key and on its decisions."),
) -> None:
    """Make an admin API key (tenant `default`) straight in the database; print it once.

    For deployments without `make start` (compose, Kubernetes): the first key, from which
    `outlast keys create` makes the others."""
    from outlast.cli import admin_key

    typer.echo(admin_key.create(database.resolve_url(_settings()), name))


@db_app.command("url")
def db_url() -> None:
    """Print the database URL the processes use."""
    typer.echo(database.resolve_url(_settings(), start=False))


def _mount_optional() -> None:
    """Sub-commands that live in their own modules."""
    from outlast.cli import (
        batch_commands,
        client_commands,
        schedule_commands,
        stack,
        task_logs,
        webhook_commands,
    )

    del batch_commands, task_logs  # imported for the commands they add to `outlast tasks`

    app.add_typer(stack.app, name="stack")
    app.add_typer(client_commands.tasks_app, name="tasks")
    app.add_typer(client_commands.dead_letters_app, name="dead-letters")
    app.add_typer(client_commands.approvals_app, name="approvals")
    app.add_typer(client_commands.keys_app, name="keys")
    app.add_typer(schedule_commands.schedules_app, name="schedules")
    app.add_typer(webhook_commands.webhooks_app, name="webhooks")


def main() -> None:
    _mount_optional()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
