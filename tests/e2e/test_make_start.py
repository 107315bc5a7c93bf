"""`make start` end to end: the real `outlast stack` command starts the embedded Postgres, the
API, the reaper and workers as detached processes; scale and stop act on them for real.

Runs in a temporary data directory on free ports, so it never touches a developer's `.data`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from outlast.cli import stack
from outlast.embedded import EmbeddedPostgres, free_port

REPO = Path(__file__).resolve().parents[2]
OUTLAST = REPO / ".venv" / "bin" / "outlast"
START_TIMEOUT_S = 240  # first start: initdb, migrations, and every process importing LangGraph


@dataclass
class Stack:
    data_dir: Path
    api_port: int
    pg_port: int
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(OUTLAST), "stack", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, timeout: float = 60) -> str:
        result = self.run(*args, timeout=timeout)
        assert result.returncode == 0, f"stack {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result.stdout

    def status(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(self.ok("status", "--json"))
        return report

    def alive(self, prefix: str) -> list[int]:
        rows = self.status()["processes"]
        return [r["pid"] for r in rows if r["name"].startswith(prefix) and r["alive"]]

    @property
    def postgres(self) -> EmbeddedPostgres:
        return EmbeddedPostgres(self.data_dir, self.pg_port)


@pytest.fixture
def local_stack() -> Iterator[Stack]:
    # Not pytest's tmp_path: a later pytest session resets its root to mode 0700, and as root
    # the embedded server runs as another user who could then no longer reach its data.
    root = Path(tempfile.mkdtemp(prefix="outlast-e2e-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env.pop("DATABASE_URL", None)
    api_port, pg_port = free_port(), free_port()
    env.update(
        OUTLAST_DATA_DIR=str(root / "data"),
        OUTLAST_API_PORT=str(api_port),
        OUTLAST_EMBEDDED_PG_PORT=str(pg_port),
        OUTLAST_LOG_LEVEL="INFO",
    )
    local = Stack(root / "data", api_port, pg_port, env)
    try:
        yield local
    finally:
        _tear_down(local)
        shutil.rmtree(root, ignore_errors=True)


def _tear_down(local: Stack) -> None:
    """Whatever the test left running: stop it, then kill any survivor its pid file names."""
    local.run("stop", timeout=60)
    layout = stack.Layout(local.data_dir)
    for name in layout.recorded():
        spec = stack.spec_for(name)
        pid = stack.live_pid(layout, spec) if spec is not None else None
        if pid is not None:
            psutil.Process(pid).kill()
    local.postgres.stop()


def _running(pids: list[int]) -> list[int]:
    """The pids among `pids` still running (a zombie has finished running)."""
    still = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                still.append(pid)
        except psutil.NoSuchProcess:
            pass
    return still


def test_start_scale_status_stop(local_stack: Stack) -> None:
    out = local_stack.ok("start", "--workers", "2", timeout=START_TIMEOUT_S)
    base = f"http://127.0.0.1:{local_stack.api_port}"
    assert base in out
    assert f"{base}/docs" in out
    assert f"127.0.0.1:{local_stack.pg_port}" in out
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    key = check_admin_key(local_stack, out, base)

    report = local_stack.status()
    assert report["database"]["reachable"] is True
    assert report["tasks"]["queued"] == 0
    assert [r["name"] for r in report["processes"]] == ["api", "reaper", "worker-1", "worker-2"]
    assert all(r["alive"] for r in report["processes"])
    first_pids = [r["pid"] for r in report["processes"]]

    # Idempotent: a second start keeps every process it finds alive, and the key (unprinted).
    again = local_stack.ok("start", "--workers", "2", timeout=START_TIMEOUT_S)
    assert key not in again and "admin.key" in again
    assert [r["pid"] for r in local_stack.status()["processes"]] == first_pids

    local_stack.ok("scale", "--workers", "3")
    assert len(local_stack.alive("worker-")) == 3

    local_stack.ok("scale", "--workers", "1")
    assert len(local_stack.alive("worker-")) == 1
    all_pids = [r["pid"] for r in local_stack.status()["processes"]]

    out = local_stack.ok("stop", timeout=60)
    assert "embedded postgres stopped" in out
    assert _running(all_pids) == []
    assert not local_stack.postgres.is_running()
    assert stack.Layout(local_stack.data_dir).recorded() == []
    assert local_stack.status()["database"]["reachable"] is False


def check_admin_key(local_stack: Stack, out: str, base: str) -> str:
    """The first start printed an admin key once, saved it 0600, and the CLI uses it untold;
    the embedded Postgres's password file is 0600 too."""
    (key,) = re.findall(r"Admin key (olk_\S+)", out)
    saved = local_stack.data_dir / "admin.key"
    assert saved.read_text().strip() == key
    for secret_file in (saved, local_stack.data_dir / "pg-password"):
        assert secret_file.stat().st_mode & 0o777 == 0o600, secret_file
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{base}/v1/tasks", headers=headers, timeout=10).status_code == 200
    assert httpx.get(f"{base}/v1/tasks", timeout=10).status_code == 401
    listed = subprocess.run(
        [str(OUTLAST), "tasks", "list", "-o", "json", "--url", base],
        cwd=REPO,
        env=local_stack.env,  # OUTLAST_DATA_DIR, and no OUTLAST_API_KEY
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["items"] == []
    return str(key)


def test_bad_worker_count_is_refused_before_anything_starts(local_stack: Stack) -> None:
    result = local_stack.run("start", "--workers", "-1")
    assert result.returncode == 2
    assert "--workers must be between 0 and" in result.stderr
    assert not local_stack.data_dir.exists()
