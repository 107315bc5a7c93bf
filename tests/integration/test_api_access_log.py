"""The API process logs like every other process: one JSON object per line, its access log
included, with a hostile path (NUL, newline) escaped inside its field, never written raw."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.api import free_port
from tests.support.keys import AUTH, KEY_ID, SECRET
from tests.support.processes import Processes
from tests.support.wait import wait_until


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_access_log_is_json_with_the_path_escaped(processes: Processes) -> None:
    port = free_port()
    proc = processes.start("outlast.cli", "api", "--port", str(port))
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/readyz").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(ready, 60, message=f"the API to serve; log: {proc.output()}")
    hostile = '/v1/nothing%00here%0A{"level":"error","msg":"forged"}'
    assert httpx.get(base + hostile).status_code == 404

    def logged() -> bool:
        return any(e.get("status") == 404 for e in lines(proc.output()))

    wait_until(logged, 30, message=f"the access line; log: {proc.output()!r}")
    entries = lines(proc.output())  # every line parses: nothing raw broke a line
    access = next(e for e in entries if e.get("status") == 404)
    assert access["logger"] == "outlast.api.access" and access["process"] == "api"
    assert access["method"] == "GET"
    assert access["path"] == '/v1/nothing\x00here\n{"level":"error","msg":"forged"}'
    assert isinstance(access["duration_ms"], float)
    assert not any(e.get("msg") == "forged" for e in entries)


def test_access_log_names_the_key_by_its_public_id_never_its_secret(processes: Processes) -> None:
    port = free_port()
    proc = processes.start("outlast.cli", "api", "--port", str(port))
    base = f"http://127.0.0.1:{port}"

    def answered() -> bool:
        try:
            return httpx.get(f"{base}/v1/tasks", headers=AUTH).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answered, 60, message=f"the API to serve; log: {proc.output()}")
    assert httpx.get(f"{base}/v1/tasks").status_code == 401

    def both_logged() -> bool:
        statuses = {e.get("status") for e in lines(proc.output()) if e.get("path") == "/v1/tasks"}
        return {200, 401} <= statuses

    wait_until(both_logged, 30, message=f"the access lines; log: {proc.output()!r}")
    entries = [e for e in lines(proc.output()) if e.get("path") == "/v1/tasks"]
    assert {e["key"] for e in entries if e["status"] == 200} == {f"olk_{KEY_ID}"}
    assert {e["key"] for e in entries if e["status"] == 401} == {None}
    assert SECRET not in proc.output()
