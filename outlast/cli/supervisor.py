"""Supervising local processes: what each one runs (ProcessSpec), where its pid file and log live
(Layout), whether a pid is still the process we started, starting, stopping and scaling them.
The `outlast stack` commands (outlast/cli/stack.py) are built on this.

A pid file is trusted only while the pid runs the command line we started (pids are reused).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

STOP_TIMEOUT_S = 15.0  # SIGTERM lets a worker release its tasks; then SIGKILL
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
        return sorted(names, key=name_order)


def name_order(name: str) -> tuple[int, int, str]:
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
