"""Tools run by a real worker through call_tool (the `tooled` test graph): the artifact round
trip through the API (tenant-scoped), the allow-list refusal, a live read_url fetch from a
loopback server that only the test settings allow, with redirects re-checked, and calls to a
real MCP server on 127.0.0.1 registered over the API."""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import api_client
from tests.support.mcp_server import RunningServer, mcp_server
from tests.support.observe import Observer
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

GRAPHS = TEST_ENV["OUTLAST_GRAPHS"] + ",tooled=tests.support.tooled:tooled"
LOOPBACK = "127.0.0.0/8"
TOKEN = "mcp-token-" + uuid.uuid4().hex


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url, graphs=GRAPHS, net_allow=LOOPBACK) as client:
        yield client


def run(observe: Observer, calls: list[dict[str, Any]], **fields: Any) -> list[dict[str, Any]]:
    task_id = observe.submit("tooled", {"calls": calls, **fields})
    wait_until(lambda: observe.state(task_id) == "completed", 60, message="task completed")
    results: list[dict[str, Any]] = observe.task(task_id)["result"]["results"]
    return results


def test_artifacts_round_trip_in_the_tenant(
    api: TestClient, processes: Processes, observe: Observer
) -> None:
    processes.worker(concurrency=1, OUTLAST_GRAPHS=GRAPHS)
    calls = [
        {"tool": "create_text_artifact",
         "arguments": {"name": "report.md", "content": "# Done\nall good ✓",
                       "content_type": "text/markdown"}},
        {"tool": "create_text_artifact", "arguments": {"name": "data.csv", "content": "a,b\n1,2\n",
                                                        "content_type": "text/csv"}},
        {"tool": "create_text_artifact", "arguments": {"name": "../etc", "content": "x"}},
        {"tool": "calculator", "arguments": {"expression": "2 + 2"}},
        {"tool": "read_url", "arguments": {"url": "http://127.0.0.1:1/"}},
    ]  # fmt: skip
    task_id = observe.submit(
        "tooled", {"calls": calls, "allowed": ["create_text_artifact", "calculator"]}
    )
    wait_until(lambda: observe.state(task_id) == "completed", 60, message="task completed")
    made, csv, bad_name, sum_, refused = observe.task(task_id)["result"]["results"]
    assert made["content"]["url"] == f"/v1/tasks/{task_id}/artifacts/report.md"
    assert csv["error"] is None
    assert "name" in bad_name["error"]
    assert sum_["content"] == {"value": 4}
    assert "not allowed" in refused["error"]

    listed = api.get(f"/v1/tasks/{task_id}/artifacts")
    assert listed.status_code == 200
    assert [(a["name"], a["content_type"]) for a in listed.json()] == [
        ("data.csv", "text/csv"),
        ("report.md", "text/markdown"),
    ]
    got = api.get(made["content"]["url"])
    assert got.status_code == 200
    assert got.headers["content-type"] == "text/markdown; charset=utf-8"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.text == "# Done\nall good ✓"
    assert api.get(f"/v1/tasks/{task_id}/artifacts/missing.txt").status_code == 404
    assert api.get(f"/v1/tasks/{uuid.uuid4()}/artifacts").status_code == 404

    other = api.post("/v1/keys", json={"scopes": ["tasks:read"], "tenant": "acme"}).json()
    headers = {"Authorization": f"Bearer {other['key']}"}
    assert api.get(f"/v1/tasks/{task_id}/artifacts", headers=headers).status_code == 404
    assert api.get(made["content"]["url"], headers=headers).status_code == 404


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
        elif self.path == "/hop":
            self.send_response(301)
            self.send_header("Location", "/page")
            self.end_headers()
        else:
            body = b"<html><title>Hi</title><body><p>Hello <b>there</b></p>"
            body += b"<script>x()</script></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def pages() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_read_url_fetches_only_what_the_settings_allow(
    processes: Processes, observe: Observer, pages: str
) -> None:
    processes.worker(concurrency=1, OUTLAST_GRAPHS=GRAPHS, OUTLAST_NET_ALLOW=LOOPBACK)
    calls = [{"tool": "read_url", "arguments": {"url": f"{pages}{path}"}}
             for path in ("/page", "/hop", "/to-metadata")]  # fmt: skip
    page, hopped, metadata = run(observe, calls)
    assert page["content"]["title"] == "Hi"
    assert page["content"]["text"] == "Hi\n\nHello there"
    assert hopped["content"]["text"] == page["content"]["text"]
    assert "169.254.169.254" in metadata["error"] and "metadata" in metadata["error"]


def test_read_url_refuses_loopback_by_default(
    processes: Processes, observe: Observer, pages: str
) -> None:
    processes.worker(concurrency=1, OUTLAST_GRAPHS=GRAPHS)
    [refused] = run(observe, [{"tool": "read_url", "arguments": {"url": f"{pages}/page"}}])
    assert "loopback" in refused["error"]


@pytest.fixture
def mcp() -> Iterator[RunningServer]:
    with mcp_server(TOKEN) as server:
        yield server


def test_tools_on_a_registered_mcp_server(
    api: TestClient, processes: Processes, observe: Observer, mcp: RunningServer
) -> None:
    made = api.post("/v1/tool-servers", json={"name": "srv", "url": mcp.url, "token": TOKEN})
    assert made.status_code == 201, made.text
    assert TOKEN not in made.text
    assert {t["name"]: t["idempotent"] for t in made.json()["tools"]} == {
        "add": True,
        "send": False,
        "fail": False,
    }
    processes.worker(concurrency=1, OUTLAST_GRAPHS=GRAPHS, OUTLAST_NET_ALLOW=LOOPBACK)
    processes.reaper()  # a lease lost to a busy machine is recovered, and nothing runs twice
    calls = [
        {"tool": "srv.add", "arguments": {"a": 2, "b": 3}},
        {"tool": "srv.send", "arguments": {"to": "ana"}},
        {"tool": "srv.fail", "arguments": {}},
        {"tool": "srv.missing", "arguments": {}},
        {"tool": "other.add", "arguments": {"a": 1, "b": 1}},
    ]
    added, sent, failed, missing, refused = run(observe, calls, allowed=["srv.*"])
    assert added["content"] == {"result": 5}
    assert sent["content"] == {"result": "sent to ana"}
    assert "fail" in failed["error"]
    assert "has no tool 'missing'" in missing["error"]
    assert "not allowed" in refused["error"]
    by_tool = {c["tool"]: c for c in mcp.recorded.calls}
    assert by_tool["send"]["meta"]["dev.outlast/idempotency-key"] == sent["key"]
    assert set(mcp.recorded.authorizations) == {f"Bearer {TOKEN}"}
