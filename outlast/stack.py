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

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import typer

from outlast import database
from outlast.settings import Settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="The local stack: database, API, reaper and workers as background processes.",
)

MAX_WORKERS = 64  # one machine; past this, run workers on more machines (deploy/k8s)
STOP_TIMEOUT_S = 15.0  # SIGTERM lets a worker release its tasks; then SIGKILL
HEALTH_TIMEOUT_S = 120.0  # the first start imports LangGraph and compiles bytecode: be patient
LOG_TAIL_LINES = 40
WORKER_NAME = re.compile(r"^worker-([1-9][0-9]*)$")


@dataclass(frozen=True)
class ProcessSpec:
    """One managed process: its name (stem of its log and pid files) and the argv that runs it."""

    name: str
    argv: tuple[str, ...]


def api_spec() -> ProcessSpec:
    return ProcessSpec("api", (sys.executable, "-m", "outlast.cli", "api"))


def reaper_spec() -> ProcessSpec:
    return ProcessSpec("reaper", (sys.executable, "-m", "reaper"))


def worker_spec(index: int) -> ProcessSpec:
    return ProcessSpec(f"worker-{index}", (sys.executable, "-m", "worker"))


def spec_for(name: str) -> ProcessSpec | None:
    """The spec a recorded name stands for; None for a name we never start."""
    if name == "api":
        return api_spec()
    if name == "reaper":
        return reaper_spec()
    index = worker_index(name)
    return worker_spec(index) if index is not None else None


def worker_index(name: str) -> int | None:
    match = WORKER_NAME.match(name)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Layout:
    """Where the stack keeps its logs and pid files."""

    data_dir: Path

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def run(self) -> Path:
        return self.data_dir / "run"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def recorded(self) -> list[str]:
        """Names with a pid file: api, reaper, then workers by number."""
        names = [p.stem for p in self.run.glob("*.pid")] if self.run.is_dir() else []
        return sorted(names, key=_name_order)


def _name_order(name: str) -> tuple[int, int, str]:
    index = worker_index(name)
    rank = {"api": 0, "reaper": 1}.get(name, 2)
    return (rank, index or 0, name)


# --- pid files and liveness -------------------------------------------------------------------


def write_pid(path: Path, pid: int) -> None:
    """Write atomically, so a concurrent reader sees the old pid or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    os.replace(tmp, path)


def read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None


def is_ours(pid: int, argv: Sequence[str]) -> bool:
    """True while `pid` is alive and runs `argv`. The interpreter path (argv[0]) is not compared:
    the same venv can be reached by differently spelled paths. A zombie counts as dead."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return proc.cmdline()[1:] == list(argv[1:])
    except psutil.Error:
        return False


def live_pid(layout: Layout, spec: ProcessSpec) -> int | None:
    """The pid of `spec` if its pid file names a live process of ours."""
    pid = read_pid(layout.pid_file(spec.name))
    return pid if pid is not None and is_ours(pid, spec.argv) else None


# --- starting and stopping processes ----------------------------------------------------------


def launch(layout: Layout, spec: ProcessSpec, env: dict[str, str]) -> int:
    """Start `spec` detached (own session, no stdin), output appended to its log; record its pid."""
    log = layout.log(spec.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {spec.name}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    write_pid(layout.pid_file(spec.name), proc.pid)
    return proc.pid


def ensure(layout: Layout, spec: ProcessSpec, env: dict[str, str]) -> tuple[int, bool]:
    """Start `spec` unless it already runs; return (pid, started)."""
    pid = live_pid(layout, spec)
    if pid is not None:
        return pid, False
    return launch(layout, spec, env), True


def terminate(targets: Sequence[tuple[ProcessSpec, int]], timeout: float) -> list[str]:
    """SIGTERM every target, wait up to `timeout` for all, SIGKILL the process group of any left.
    Returns the names that had to be killed."""
    for _spec, pid in targets:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    left = list(targets)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [(spec, pid) for spec, pid in left if is_ours(pid, spec.argv)]
    for _spec, pid in left:
        _kill_group(pid)
    _wait_gone(left, 5.0)
    return [spec.name for spec, _pid in left]


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _kill_group(pid: int) -> None:
    # Each process leads its own session (start_new_session), so its group holds its children.
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        _signal(pid, signal.SIGKILL)


def _wait_gone(targets: Sequence[tuple[ProcessSpec, int]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(is_ours(pid, s.argv) for s, pid in targets) and time.monotonic() < deadline:
        time.sleep(0.05)


def stop_named(layout: Layout, names: Iterable[str], timeout: float) -> list[str]:
    """Stop the named processes that are alive and remove all their pid files; the killed ones."""
    targets: list[tuple[ProcessSpec, int]] = []
    for name in names:
        spec = spec_for(name)
        pid = live_pid(layout, spec) if spec is not None else None
        if spec is not None and pid is not None:
            targets.append((spec, pid))
    killed = terminate(targets, timeout)
    for name in names:
        layout.pid_file(name).unlink(missing_ok=True)
    return killed


# --- scaling ----------------------------------------------------------------------------------


def plan_scale(alive: Iterable[int], target: int) -> tuple[list[int], list[int]]:
    """Worker numbers to start and to stop so that exactly workers 1..target run."""
    running = set(alive)
    to_start = [i for i in range(1, target + 1) if i not in running]
    to_stop = sorted(i for i in running if i > target)
    return to_start, to_stop


def recorded_workers(layout: Layout) -> list[int]:
    return sorted(i for i in map(worker_index, layout.recorded()) if i is not None)


def scale_workers(layout: Layout, target: int, env: dict[str, str]) -> tuple[list[int], list[int]]:
    """Reach `target` workers; return (started, stopped) worker numbers."""
    recorded = recorded_workers(layout)
    alive = [i for i in recorded if live_pid(layout, worker_spec(i)) is not None]
    to_start, to_stop = plan_scale(alive, target)
    for index in to_start:
        launch(layout, worker_spec(index), env)
    # Dead workers past the target leave stale pid files behind: remove those too.
    stale = [i for i in recorded if i > target]
    stop_named(layout, [worker_spec(i).name for i in stale], STOP_TIMEOUT_S)
    return to_start, to_stop


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
    except ValueError as exc:  # pydantic names the variable and the rule
        fail(f"bad configuration: {exc}".replace("\n", " "), 2)


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


def print_started(settings: Settings, url: str, workers: int) -> None:
    base = api_base(settings)
    where = "external" if settings.database_url else f"embedded, data in {settings.data_dir}/pg"
    typer.echo("Outlast is running.")
    typer.echo(f"  API       {base}")
    typer.echo(f"  OpenAPI   {base}/docs")
    typer.echo(f"  Database  {masked(url)} ({where})")
    typer.echo(f"  Workers   {workers}  (make scale-worker N=...)")
    typer.echo(f"  Logs      {settings.data_dir}/logs  (make logs)")
    typer.echo("  Stop      make stop  (or: outlast stack stop)")


# --- commands ---------------------------------------------------------------------------------


@app.command()
def start(
    workers: int = typer.Option(1, "--workers", "-n", help="Worker processes to run."),
) -> None:
    """Start the database, the API, the reaper and N workers; print the URLs.

    Starts the embedded Postgres (unless DATABASE_URL is set) and migrates first. Idempotent:
    processes already running are kept, and the worker count is brought to N."""
    check_workers(workers)
    settings = load_settings()
    layout = layout_for(settings)
    api = api_spec()
    base = api_base(settings)
    if live_pid(layout, api) is None and port_in_use("127.0.0.1", settings.api_port):
        fail(f"port {settings.api_port} is taken by another process (set OUTLAST_API_PORT)")
    url = prepare_database(settings)
    env = child_env(url, settings)
    api_pid, _ = ensure(layout, api, env)
    ensure(layout, reaper_spec(), env)
    scale_workers(layout, workers, env)
    wait_healthy(layout, api, api_pid, f"{base}/healthz")
    check_survivors(layout, [reaper_spec(), *(worker_spec(i) for i in range(1, workers + 1))])
    print_started(settings, url, workers)


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
    available = sorted((p.stem for p in layout.logs.glob("*.log")), key=_name_order)
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
