"""Real Outlast processes for e2e and chaos tests: start, signal, kill, read their logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.support.functions import REGISTERED as FUNCTIONS
from tests.support.keys import TEST_KEY

# Test timings: short leases and fast reaping so crash recovery takes seconds, and a tiny
# retry backoff. Each test may override any of these.
TEST_ENV = {
    "OUTLAST_LEASE_TTL_S": "2",
    "OUTLAST_REAPER_INTERVAL_S": "0.5",
    "OUTLAST_POLL_INTERVAL_S": "0.5",
    "OUTLAST_RETRY_BASE_S": "0.05",
    "OUTLAST_RETRY_MAX_S": "0.5",
    "OUTLAST_LOG_LEVEL": "INFO",
    "OUTLAST_API_KEY": TEST_KEY,  # the CLI's key, should a test run it (tests/support/keys)
    # Tests poll the API as fast as they like; the limit has its own test (test_api_access.py).
    "OUTLAST_RATE_LIMIT_PER_S": "1e9",
    "OUTLAST_RATE_LIMIT_BURST": "1000000000",
    "OUTLAST_GRAPHS": "counted=tests.support.graphs:counted,review=tests.support.graphs:review,"
    "signed=tests.support.graphs:signed,notes=tests.support.graphs:notes,"
    "talk=tests.support.graphs:talk,nested=tests.support.graphs:nested,"
    "progress=tests.support.graphs:progress,"
    + ",".join(f"{name}={path}" for name, path in FUNCTIONS.items()),
}


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    app_name: str  # application_name of its database sessions (pg_stat_activity)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, sig: int) -> None:
        os.kill(self.popen.pid, sig)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Processes:
    db_url: str
    logs: Path
    cwd: Path
    base_env: dict[str, str]
    started: list[Proc] = field(default_factory=list)

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in self.base_env.items() if not k.startswith("OUTLAST_")}
        env.update(TEST_ENV)
        env.update(extra)
        env["DATABASE_URL"] = self.db_url
        env["PYTHONPATH"] = str(self.cwd)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self, module: str, *args: str, label: str | None = None, **env: str) -> Proc:
        self.logs.mkdir(parents=True, exist_ok=True)
        app_name = f"{label or module}-{len(self.started)}"
        log = self.logs / f"{app_name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                cwd=self.cwd,
                # libpq names every session the process opens, so a test can find them.
                env={**self._env(env), "PGAPPNAME": app_name},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(module, popen, log, app_name)
        self.started.append(proc)
        return proc

    def worker(self, concurrency: int = 4, **env: str) -> Proc:
        return self.start("worker", "--concurrency", str(concurrency), **env)

    def reaper(self, **env: str) -> Proc:
        return self.start("reaper", **env)

    def api(self, port: int, **env: str) -> Proc:
        """The API as `outlast api` runs it (uvicorn); wait for GET /healthz before using it."""
        return self.start("outlast.cli", "api", "--port", str(port), label="api", **env)

    def kill_all(self) -> None:
        for proc in self.started:
            if proc.alive():
                try:
                    os.killpg(proc.pid, signal.SIGCONT)
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.popen.wait(10)
        for child in psutil.Process().children(recursive=True):
            try:  # a child listed a moment ago may be reaped by now
                if child.name().startswith("python") and child.status() == psutil.STATUS_ZOMBIE:
                    child.wait(1)
            except psutil.NoSuchProcess:
                continue
