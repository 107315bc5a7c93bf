"""The local process manager behind the Makefile: `outlast stack start|stop|scale|status|logs`.

It runs the whole stack on one machine: the database (embedded unless DATABASE_URL is set), the
API, the reaper and N workers, each a detached process (its own session, so a Ctrl-C in the shell
that ran `make start` does not reach it) with its log in `<data_dir>/logs/<name>.log` and its pid in
`<data_dir>/run/<name>.pid`. Workers are named `worker-1` ... `worker-N`.

A pid file is trusted only while the pid runs the command line we started (pids are reused), so
every command is idempotent: `start` twice starts nothing new, `stop` twice stops nothing twice.

Bad input (a negative worker count, an unknown log name) ends with one line on stderr and exit 2;
a failure of the stack itself (the API dies at start, the database is unreachable) with exit 1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import httpx
import typer
from pydantic import ValidationError

from outlast import apikey, database
from outlast.cli import admin_key
from outlast.cli.supervisor import (
    STOP_TIMEOUT_S,
    Layout,
    ProcessSpec,
    api_spec,
    ensure,
    is_ours,
    live_pid,
    name_order,
    read_pid,
    reaper_spec,
    scale_workers,
    spec_for,
    stop_named,
    worker_spec,
)
from outlast.settings import Settings, describe

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="The local stack: database, API, reaper and workers as background processes.",
)

MAX_WORKERS = 64  # one machine; past this, run workers on more machines (deploy/k8s)
HEALTH_TIMEOUT_S = 120.0  # the first start imports LangGraph and compiles bytecode: be patient
LOG_TAIL_LINES = 40


# --- helpers for the commands -----------------------------------------------------------------


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"outlast stack: {message}", err=True)
    raise typer.Exit(code)


def check_workers(workers: int) -> None:
    if not 0 <= workers <= MAX_WORKERS:
        fail(f"--workers must be between 0 and {MAX_WORKERS}, got {workers}", 2)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        fail(f"bad configuration: {describe(exc)}", 2)


def layout_for(settings: Settings) -> Layout:
    return Layout(settings.data_dir.resolve())


def masked(url: str) -> str:
    """The URL with its password replaced, fit to print."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def child_env(url: str, settings: Settings) -> dict[str, str]:
    """The children get the resolved URL, so none of them starts the embedded server itself."""
    env = dict(os.environ)
    env["DATABASE_URL"] = url
    env["OUTLAST_DATA_DIR"] = str(settings.data_dir.resolve())
    env["PYTHONUNBUFFERED"] = "1"  # logs appear as they happen, not when a buffer fills
    return env


def api_base(settings: Settings) -> str:
    host = settings.api_host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - reading the bind address, not binding
        host = "127.0.0.1"
    return f"http://{host}:{settings.api_port}"


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def wait_healthy(layout: Layout, spec: ProcessSpec, pid: int, url: str) -> None:
    """Return once `url` answers 200; fail with the log's tail if the process dies or time is up."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while not healthy(url):
        if not is_ours(pid, spec.argv):
            fail_with_log(layout, spec.name, f"{spec.name} exited during start-up")
        if time.monotonic() > deadline:
            fail_with_log(layout, spec.name, f"{url} did not answer in {HEALTH_TIMEOUT_S:.0f}s")
        time.sleep(0.25)


def fail_with_log(layout: Layout, name: str, message: str) -> NoReturn:
    path = layout.log(name)
    typer.echo(f"--- last lines of {path}:\n{log_tail(path)}", err=True)
    fail(f"{message} (`outlast stack stop` ends what did start)")


def prepare_database(settings: Settings) -> str:
    """Start the embedded server (unless DATABASE_URL is set) and migrate; return the URL."""
    from db import migrate

    try:
        url = database.resolve_url(settings)
    except Exception as exc:  # any start failure becomes one line, never a traceback
        fail(f"cannot start the embedded Postgres: {exc}")
    try:
        migrate.upgrade(url)
    except Exception as exc:
        fail(f"migration failed on {masked(url)}: {exc}")
    return url


def check_survivors(layout: Layout, specs: Sequence[ProcessSpec]) -> None:
    """A worker or reaper that crashed on import is dead by the time the API answers."""
    for spec in specs:
        if live_pid(layout, spec) is None:
            fail_with_log(layout, spec.name, f"{spec.name} exited during start-up")


def print_started(settings: Settings, url: str, workers: int, new_key: str | None) -> None:
    base = api_base(settings)
    key_path = apikey.key_file(settings.data_dir)
    where = "external" if settings.database_url else f"embedded, data in {settings.data_dir}/pg"
    typer.echo("Outlast is running.")
    typer.echo(f"  API       {base}")
    typer.echo(f"  OpenAPI   {base}/docs")
    typer.echo(f"  Database  {masked(url)} ({where})")
    typer.echo(f"  Workers   {workers}  (make scale-worker N=...)")
    if new_key is not None:
        typer.echo(f"  Admin key {new_key}")
        typer.echo(f"            shown once; saved in {key_path} (0600), which the CLI reads")
    else:
        typer.echo(f"  Admin key in {key_path} (outlast keys list)")
    if settings.auth == "off":
        typer.echo("  WARNING   OUTLAST_AUTH=off: the API takes no key (local development only)")
    typer.echo(f"  Logs      {settings.data_dir}/logs  (make logs)")
    typer.echo("  Stop      make stop  (or: outlast stack stop)")


# --- commands ---------------------------------------------------------------------------------


@app.command()
def start(
    workers: int = typer.Option(1, "--workers", "-n", help="Worker processes to run."),
) -> None:
    """Start the database, the API, the reaper and N workers; print the URLs.

    Starts the embedded Postgres (unless DATABASE_URL is set) and migrates first. The first
    start makes an admin API key, prints it once and saves it in <data_dir>/admin.key.
    Idempotent: processes already running are kept, and the worker count is brought to N."""
    check_workers(workers)
    settings = load_settings()
    layout = layout_for(settings)
    api = api_spec()
    base = api_base(settings)
    if live_pid(layout, api) is None and port_in_use("127.0.0.1", settings.api_port):
        fail(f"port {settings.api_port} is taken by another process (set OUTLAST_API_PORT)")
    url = prepare_database(settings)
    new_key = admin_key.ensure(url, settings.data_dir.resolve())
    env = child_env(url, settings)
    api_pid, _ = ensure(layout, api, env)
    ensure(layout, reaper_spec(), env)
    scale_workers(layout, workers, env)
    wait_healthy(layout, api, api_pid, f"{base}/healthz")
    check_survivors(layout, [reaper_spec(), *(worker_spec(i) for i in range(1, workers + 1))])
    print_started(settings, url, workers, new_key)


@app.command()
def stop() -> None:
    """Stop every process of the stack, then the embedded Postgres.

    SIGTERM first (a worker releases its tasks), SIGKILL after 15 s. A Postgres named by
    DATABASE_URL is not ours and is left running."""
    settings = load_settings()
    layout = layout_for(settings)
    names = layout.recorded()
    killed = stop_named(layout, names, STOP_TIMEOUT_S)
    for name in killed:
        typer.echo(f"{name} did not exit within {STOP_TIMEOUT_S:.0f}s: killed")
    typer.echo(f"stopped {len(names)} process(es)" if names else "no process was running")
    if settings.database_url:
        typer.echo("DATABASE_URL is set: the external Postgres is left running")
        return
    try:
        stopped = database.embedded(settings).stop()
    except Exception as exc:  # pg_ctl's failure, in one line; its own log says more
        fail(f"could not stop the embedded Postgres: {exc}")
    typer.echo("embedded postgres stopped" if stopped else "embedded postgres was not running")


@app.command()
def scale(
    workers: int = typer.Option(..., "--workers", "-n", help="Worker processes wanted."),
) -> None:
    """Start or stop (SIGTERM) workers until exactly N run."""
    check_workers(workers)
    settings = load_settings()
    if not settings.database_url and not database.embedded(settings).is_running():
        fail("the stack is not running: start it first (make start)")
    layout = layout_for(settings)
    url = database.resolve_url(settings, start=False)
    started, stopped = scale_workers(layout, workers, child_env(url, settings))
    typer.echo(f"workers: {workers} (started {len(started)}, stopped {len(stopped)})")


def process_rows(layout: Layout) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in layout.recorded():
        spec = spec_for(name)
        pid = read_pid(layout.pid_file(name))
        alive = spec is not None and pid is not None and is_ours(pid, spec.argv)
        rows.append({"name": name, "pid": pid, "alive": alive})
    return rows


def task_counts(url: str) -> dict[str, int] | str:
    """Tasks per state (every state, zeros included), or why they could not be read."""
    import psycopg

    from db.states import TaskState

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            rows = conn.execute("SELECT state, count(*) FROM tasks GROUP BY state").fetchall()
    except psycopg.errors.UndefinedTable:
        return "not migrated (make db-migrate)"
    except psycopg.Error as exc:
        first_line = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        return f"unreachable: {first_line}"
    counts = {state.value: 0 for state in TaskState}
    counts.update({str(state): int(n) for state, n in rows})
    return counts


def print_status(report: dict[str, Any]) -> None:
    for row in report["processes"]:
        state = "alive" if row["alive"] else "dead"
        typer.echo(f"{row['name']:<12} pid {row['pid']!s:<8} {state}")
    if not report["processes"]:
        typer.echo("no process recorded (make start)")
    db = report["database"]
    typer.echo(f"{'database':<12} {db['url']} {'reachable' if db['reachable'] else 'unreachable'}")
    tasks = report["tasks"]
    if isinstance(tasks, dict):
        typer.echo("tasks        " + "  ".join(f"{k}={v}" for k, v in tasks.items()))
    else:
        typer.echo(f"tasks        {tasks}")


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead."),
) -> None:
    """Each process (name, pid, alive), whether the database answers, and tasks per state."""
    settings = load_settings()
    url = database.resolve_url(settings, start=False)
    tasks = task_counts(url)
    report = {
        "processes": process_rows(layout_for(settings)),
        "database": {"url": masked(url), "reachable": isinstance(tasks, dict)},
        "tasks": tasks,
    }
    if as_json:
        typer.echo(json.dumps(report))
    else:
        print_status(report)


@app.command()
def logs(
    name: str | None = typer.Argument(None, help="One process (api, reaper, worker-1, ...)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    lines: int = typer.Option(LOG_TAIL_LINES, "--lines", min=0, max=100_000, help="Lines each."),
) -> None:
    """Print the last lines of every log (or of NAME's), optionally following them."""
    layout = layout_for(load_settings())
    available = sorted((p.stem for p in layout.logs.glob("*.log")), key=name_order)
    if name is not None and name not in available:
        known = ", ".join(available) or "none yet"
        fail(f"no log named {name!r} (known: {known})", 2)
    paths = [layout.log(n) for n in ([name] if name else available)]
    if follow and paths:
        # tail -F survives log rotation and files that appear later; no need to rewrite it.
        result = subprocess.run(["tail", "-n", str(lines), "-F", *map(str, paths)], check=False)
        raise typer.Exit(result.returncode)
    for path in paths:
        typer.echo(f"==> {path} <==\n{log_tail(path, lines)}")
    if not paths:
        typer.echo("no logs yet (make start)")


if __name__ == "__main__":
    app()
