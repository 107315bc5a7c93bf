"""Property-based fuzzing of the real API on a real database: Schemathesis generates requests
from the OpenAPI document (valid ones and invalid ones), sends them, and runs every check on
the answers: no server error, status codes, content types, headers and bodies as documented,
valid requests accepted, invalid ones refused, Allow on 405.

Bounded and deterministic, so it cannot flake: a fixed number of examples per operation and
Schemathesis' deterministic generation (no random seed, no example database). Values the
document cannot enumerate (registered graphs, cursors, used Idempotency-Keys) are set by
tests/support/fuzz_hooks.py; two documented exceptions are in tests/support/schemathesis.toml.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.api import live_server
from tests.support.keys import TEST_KEY

REPO = Path(__file__).resolve().parents[2]
SUPPORT = REPO / "tests" / "support"
MAX_EXAMPLES = 25  # per operation and phase: about a minute on two busy cores


# Past the suite's 300 s: the LangGraph Platform API's routes (ADR 0018) added a fifth to the
# operations, and each runs every phase; still bounded by the subprocess timeout below.
@pytest.mark.timeout(660)
def test_the_api_does_what_its_openapi_document_says(db_url: str, tmp_path: Path) -> None:
    with live_server(db_url) as base:  # the suite's admin key is sent below
        st = Path(sys.executable).parent / "st"
        command = [
            str(st),
            "--config-file",
            str(SUPPORT / "schemathesis.toml"),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--generation-deterministic",
            "--workers",
            "1",
            # Nothing may depend on speed: no health check on generation time, generous waits.
            "--suppress-health-check",
            "all",
            "--request-timeout",
            "60",
            "--no-color",
            "--header",
            f"Authorization: Bearer {TEST_KEY}",
            "--report-dir",
            str(tmp_path),
        ]
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SCHEMATHESIS_HOOKS": "tests.support.fuzz_hooks",
        }
        done = subprocess.run(
            # cwd: Schemathesis keeps a cache in .schemathesis/ under it, not in the checkout.
            command,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 0, done.stdout[-20_000:] + done.stderr[-5_000:]
