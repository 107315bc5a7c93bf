"""Postgres restarted in immediate mode under a real worker and a real API: once it is back the
API answers reads at once (no pooled connection left dead), and a task in flight finishes
without an attempt spent for the restart."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import psycopg
import pytest

from db import migrate
from outlast.embedded import EmbeddedPostgres, free_port
from tests.conftest import REPO
from tests.support import keys
from tests.support.database import FAST
from tests.support.observe import Observer
from tests.support.processes import Processes
from tests.support.wait import wait_until

# A lease long enough to outlast the restart: the restart must cost no attempt by itself.
SLOW_LEASE = {"OUTLAST_LEASE_TTL_S": "20"}


@pytest.fixture
def server() -> Iterator[EmbeddedPostgres]:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("restarts a dedicated embedded server")
    # Not under tmp_path: pytest prunes old tmp_path roots, which other sessions can do while
    # this server runs (as tests/conftest.py's session server does).
    root = Path(tempfile.mkdtemp(prefix="outlast-restart-"))
    pg = EmbeddedPostgres(root, free_port(), options=FAST)
    try:
        migrate.upgrade(pg.start())
        keys.install(pg.url())
        yield pg
    finally:
        pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def reachable(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


def test_a_restart_costs_no_attempt_and_no_error_once_postgres_is_back(
    server: EmbeddedPostgres, tmp_path: Path
) -> None:
    url = server.url()
    procs = Processes(url, tmp_path / "logs", REPO, dict(os.environ))
    port = free_port()
    try:
        procs.worker(2, **SLOW_LEASE)
        procs.start("outlast.cli", "api", "--port", str(port), **SLOW_LEASE)
        api = f"http://127.0.0.1:{port}"
        wait_until(lambda: _get(f"{api}/healthz") == 200, 60, message="the API is up")
        with closing(Observer(url)) as observe:
            task_id = observe.submit("pipeline", {"text": "One. Two. Three.", "delay_s": 1})
            wait_until(lambda: observe.checkpoints(task_id), 60, message="a first checkpoint")
        # Reads warm the API's pool: each of its connections dies with the restart.
        for _ in range(5):
            assert _get(f"{api}/v1/tasks/{task_id}") == 200

        server.stop("immediate")
        server.start()
        assert reachable(url)
        for _ in range(10):  # every pooled connection is dead; none may surface as an error
            assert _get(f"{api}/v1/tasks/{task_id}") == 200

        with closing(Observer(url)) as observe:
            done = wait_until(lambda: observe.state(task_id) == "completed", 120, interval=0.2)
            assert done
            assert observe.task(task_id)["attempts"] == 1
    finally:
        procs.kill_all()


def _get(address: str) -> int:
    try:
        return httpx.get(address, timeout=10, headers=keys.AUTH).status_code
    except httpx.TransportError:
        return 0
