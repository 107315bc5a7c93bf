"""A real worker frozen (SIGSTOP) in the middle of a pipelined checkpoint write, on PostgreSQL 15:
no `transaction_timeout` (17+), and a backend waiting for the rest of a pipeline is not idle in
transaction, so no server setting ends the frozen transaction; the stopped process's kernel keeps
its connection alive. The reaper ends the sessions of a worker gone silent (ADR 0008), and the
task is recovered by another worker while the frozen one stays frozen."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO
from tests.support.observe import Observer, assert_linear
from tests.support.old_postgres import OldPostgres, require_binaries
from tests.support.processes import Processes
from tests.support.wait import wait_until

TEXT = "A worker stops mid-write. Its locks must not outlive its lease. Another worker finishes."
NODES = 6  # the counted pipeline


@pytest.fixture(scope="module")
def pg15() -> Iterator[OldPostgres]:
    require_binaries()
    server = OldPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg15_url(pg15: OldPostgres) -> str:
    return pg15.migrated_database(f"t_{uuid.uuid4().hex[:16]}")


@pytest.fixture
def on_pg15(pg15_url: str, tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(pg15_url, tmp_path / "logs", REPO, dict(os.environ))
    try:
        yield procs
    finally:
        procs.kill_all()


def lockers(observe: Observer, table: str) -> int:
    """Other sessions holding a lock on `table` (a row lock shows as a relation lock too)."""
    return int(
        observe.value(
            "SELECT count(DISTINCT pid) FROM pg_locks"
            " WHERE relation = %s::regclass AND pid <> pg_backend_pid()",
            table,
        )
    )


@pytest.mark.parametrize(("point", "locked"), [("writes", "checkpoint_writes"), ("fence", "tasks")])
def test_a_task_is_recovered_from_a_worker_frozen_mid_pipeline(
    on_pg15: Processes, pg15_url: str, tmp_path: Path, point: str, locked: str
) -> None:
    observe = Observer(pg15_url)
    try:
        assert observe.value("SHOW server_version_num").startswith("15")
        log = tmp_path / "nodes.log"
        frozen = on_pg15.start(
            "tests.support.freezing_worker", "--concurrency", "1", FREEZE_AT=point, FREEZE_ON="3"
        )
        task_id = observe.submit("counted", {"text": TEXT, "delay_s": 0.2, "log": str(log)})
        wait_until(
            lambda: psutil.Process(frozen.pid).status() == psutil.STATUS_STOPPED,
            60,
            message="the worker froze mid-write",
        )
        assert lockers(observe, locked) >= 1  # the frozen transaction holds its locks

        on_pg15.worker(concurrency=1)
        on_pg15.reaper()
        wait_until(lambda: observe.state(task_id) == "completed", 60, message="task completed")

        assert psutil.Process(frozen.pid).status() == psutil.STATUS_STOPPED  # still frozen
        history = observe.checkpoints(task_id)
        assert_linear(history)
        assert max(c["step"] for c in history) == NODES
        wait_until(lambda: lockers(observe, locked) == 0, 10, message="the frozen locks are gone")
    finally:
        observe.close()
