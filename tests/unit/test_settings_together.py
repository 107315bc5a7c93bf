"""Settings that are each valid but impossible together are refused at start-up, with a message
naming them, and the processes exit 2 without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from outlast.settings import Settings
from worker.config import WorkerConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"lease_ttl_s": 3, "heartbeat_interval_s": 3}, "OUTLAST_HEARTBEAT_INTERVAL_S"),
        ({"lease_ttl_s": 3, "heartbeat_interval_s": 10}, "OUTLAST_LEASE_TTL_S"),
        ({"lease_ttl_s": 10, "heartbeat_interval_s": 8}, "80%"),
        ({"lease_ttl_s": 30, "worker_stale_s": 5}, "OUTLAST_WORKER_STALE_S"),
        ({"retry_base_s": 60, "retry_max_s": 10}, "OUTLAST_RETRY_BASE_S"),
    ],
)
def test_impossible_combinations_are_refused(fields: dict[str, float], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        Settings(**fields)  # type: ignore[arg-type]


def test_possible_combinations_pass() -> None:
    settings = Settings(lease_ttl_s=2, heartbeat_interval_s=0.2, worker_stale_s=1)  # type: ignore[call-arg]
    assert settings.heartbeat_every_s == 0.2
    assert Settings(lease_ttl_s=30).heartbeat_every_s == 10  # type: ignore[call-arg]


def test_a_worker_config_built_in_code_is_checked_too() -> None:
    with pytest.raises(ValueError, match="OUTLAST_HEARTBEAT_INTERVAL_S"):
        WorkerConfig(lease_ttl_s=1.0, heartbeat_every_s=1.0)


@pytest.mark.parametrize(
    "command", [["-m", "worker"], ["-m", "reaper"], ["-m", "outlast.cli", "worker"]]
)
def test_processes_exit_2_with_a_message_and_no_traceback(command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env.update(
        OUTLAST_LEASE_TTL_S="3",
        OUTLAST_HEARTBEAT_INTERVAL_S="5",
        DATABASE_URL="postgresql://outlast:s3cret@127.0.0.1:1/outlast",
        PYTHONPATH=str(REPO),
    )
    done = subprocess.run(
        [sys.executable, *command], env=env, capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert done.returncode == 2
    assert "OUTLAST_HEARTBEAT_INTERVAL_S (5)" in done.stderr
    assert "OUTLAST_LEASE_TTL_S (3)" in done.stderr
    assert "Traceback" not in done.stderr
    assert "s3cret" not in done.stderr
