"""The pure parts of the local process manager (outlast/cli/stack.py, outlast/cli/supervisor.py):
pid files, liveness against real child processes, scale arithmetic, and bad input. tests/e2e/test_make_start.py runs it all."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from outlast.cli import stack, supervisor
from tests.support.wait import wait_until

SLEEPER = (sys.executable, "-c", "import time; time.sleep(60)")


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(SLEEPER)
    # Until the child has exec'd, its command line is still ours (the parent's): a loaded
    # machine showed the tests here a forked-but-not-yet-exec'd sleeper.
    wait_until(lambda: supervisor.is_ours(proc.pid, SLEEPER), 10, message="sleeper exec'd")
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def layout(tmp_path: Path) -> supervisor.Layout:
    return supervisor.Layout(tmp_path)


# --- pid files --------------------------------------------------------------------------------


def test_pid_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "run" / "api.pid"
    supervisor.write_pid(path, 4242)
    assert supervisor.read_pid(path) == 4242
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize("content", [None, "", "not a pid", "-3", "0"])
def test_missing_or_garbled_pid_file_reads_as_none(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "x.pid"
    if content is not None:
        path.write_text(content)
    assert supervisor.read_pid(path) is None


def test_recorded_names_come_in_order(layout: supervisor.Layout) -> None:
    for name in ["worker-10", "worker-2", "reaper", "worker-1", "api"]:
        supervisor.write_pid(layout.pid_file(name), 1)
    assert layout.recorded() == ["api", "reaper", "worker-1", "worker-2", "worker-10"]
    assert supervisor.recorded_workers(layout) == [1, 2, 10]


@pytest.mark.parametrize(
    ("name", "index"),
    [("worker-1", 1), ("worker-12", 12), ("worker-0", None), ("worker-", None), ("api", None)],
)
def test_worker_index(name: str, index: int | None) -> None:
    assert supervisor.worker_index(name) == index


def test_spec_for_names() -> None:
    assert supervisor.spec_for("api") == supervisor.api_spec()
    assert supervisor.spec_for("worker-3") == supervisor.worker_spec(3)
    assert supervisor.spec_for("postgres") is None


# --- liveness ---------------------------------------------------------------------------------


def test_a_running_child_is_ours_only_with_its_own_command_line(
    sleeper: subprocess.Popen[bytes],
) -> None:
    assert supervisor.is_ours(sleeper.pid, SLEEPER)
    # A reused pid runs something else: the command line tells them apart.
    assert not supervisor.is_ours(sleeper.pid, (sys.executable, "-m", "worker"))


def test_a_dead_child_is_not_alive(sleeper: subprocess.Popen[bytes]) -> None:
    sleeper.kill()
    # Not yet reaped, it is a zombie: still dead for us.
    wait_until(lambda: not supervisor.is_ours(sleeper.pid, SLEEPER), 5, message="child gone")
    sleeper.wait(5)
    assert not supervisor.is_ours(sleeper.pid, SLEEPER)


def test_a_pid_that_never_existed_is_not_alive() -> None:
    assert not supervisor.is_ours(2**22 + 12345, SLEEPER)


def test_live_pid_reads_the_pid_file(
    layout: supervisor.Layout, sleeper: subprocess.Popen[bytes]
) -> None:
    spec = supervisor.ProcessSpec("sleeper", SLEEPER)
    assert supervisor.live_pid(layout, spec) is None
    supervisor.write_pid(layout.pid_file("sleeper"), sleeper.pid)
    assert supervisor.live_pid(layout, spec) == sleeper.pid


# --- launching and terminating ----------------------------------------------------------------


def test_launch_detaches_logs_and_records_the_pid(layout: supervisor.Layout) -> None:
    code = "print('hello'); import time; time.sleep(60)"
    spec = supervisor.ProcessSpec("echo", (sys.executable, "-c", code))
    pid = supervisor.launch(layout, spec, env={"PYTHONUNBUFFERED": "1"})
    try:
        assert supervisor.read_pid(layout.pid_file("echo")) == pid
        # Until the child has exec'd, its command line is still ours (the parent's).
        wait_until(lambda: supervisor.live_pid(layout, spec) == pid, 10, message="child exec'd")
        wait_until(lambda: "hello" in layout.log("echo").read_text(), 10, message="log line")
        assert supervisor.ensure(layout, spec, env={}) == (pid, False)  # already running: no second
    finally:
        assert supervisor.terminate([(spec, pid)], timeout=5) == []
    assert not supervisor.is_ours(pid, spec.argv)


def test_terminate_kills_what_ignores_sigterm(layout: supervisor.Layout) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready'); time.sleep(60)"
    )
    spec = supervisor.ProcessSpec("stubborn", (sys.executable, "-c", code))
    pid = supervisor.launch(layout, spec, env={"PYTHONUNBUFFERED": "1"})
    wait_until(lambda: "ready" in layout.log("stubborn").read_text(), 10, message="handler set")
    assert supervisor.terminate([(spec, pid)], timeout=0.5) == ["stubborn"]
    assert not supervisor.is_ours(pid, spec.argv)


def test_stop_named_removes_pid_files_of_dead_processes_too(layout: supervisor.Layout) -> None:
    supervisor.write_pid(layout.pid_file("worker-7"), 2**22 + 12345)
    assert supervisor.stop_named(layout, ["worker-7"], timeout=1) == []
    assert not layout.pid_file("worker-7").exists()


# --- scaling ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alive", "target", "to_start", "to_stop"),
    [
        ([], 3, [1, 2, 3], []),
        ([1, 2, 3], 3, [], []),
        ([1, 2, 3], 1, [], [2, 3]),
        ([1, 2, 3], 0, [], [1, 2, 3]),
        ([2, 5], 3, [1, 3], [5]),  # fill the holes a crash left, stop beyond the target
        ([], 0, [], []),
    ],
)
def test_plan_scale(alive: list[int], target: int, to_start: list[int], to_stop: list[int]) -> None:
    assert supervisor.plan_scale(alive, target) == (to_start, to_stop)


# --- small helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://postgres@127.0.0.1:54329/outlast",
            "postgresql://postgres@127.0.0.1:54329/outlast",
        ),
        ("postgresql://u:secret@db:5432/x", "postgresql://u:***@db:5432/x"),
    ],
)
def test_masked_hides_the_password(url: str, shown: str) -> None:
    assert stack.masked(url) == shown


def test_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert stack.log_tail(log, 2) == "line 98\nline 99"
    assert stack.log_tail(tmp_path / "missing.log") == ""


# --- bad input: one line, exit 2, before anything starts --------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["start", "--workers", "-1"],
        ["start", "--workers", "1000"],
        ["scale", "--workers", "-2"],
    ],
)
def test_bad_worker_counts_exit_2(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(stack.app, args, env={"OUTLAST_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "--workers must be between 0 and" in result.output
    assert not (tmp_path / "run").exists()


def test_unknown_log_name_exits_2(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "api.log").write_text("x\n")
    env = {"OUTLAST_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(stack.app, ["logs", "nope"], env=env)
    assert result.exit_code == 2
    assert "no log named 'nope' (known: api)" in result.output


def test_logs_prints_each_tail(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "api.log").write_text("started\n")
    (tmp_path / "logs" / "worker-1.log").write_text("claimed\n")
    result = CliRunner().invoke(stack.app, ["logs"], env={"OUTLAST_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0
    assert result.output.index("started") < result.output.index("claimed")
