"""Secrets never land where they can leak (issue 13, item 5). Canary secrets are planted (a
model provider's key, an MCP server's bearer token), real processes use them (an API process
registers the tool server; a worker calls the model and the server's tools, at DEBUG log
level), and then every table (LangGraph's checkpoint tables included) and every process log is
searched for them; a rate limit makes the worker keep a bucket for the provider key, named
by its fingerprint. The one place a token may be is where it is kept: tool_servers.token."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.support.api import free_port
from tests.support.fake_llm import OPENAI, FakeLLM, Reply
from tests.support.keys import AUTH
from tests.support.mcp_server import RunningServer, mcp_server
from tests.support.observe import Observer
from tests.support.processes import TEST_ENV, Processes
from tests.support.wait import wait_until

GRAPHS = TEST_ENV["OUTLAST_GRAPHS"] + ",tooled=tests.support.tooled:tooled"
MCP_TOKEN = f"canary-mcp-{uuid.uuid4().hex}"
PROVIDER_KEY = f"sk-canary-{uuid.uuid4().hex}"
CANARIES = (MCP_TOKEN, PROVIDER_KEY)


@pytest.fixture
def mcp() -> Iterator[RunningServer]:
    with mcp_server(MCP_TOKEN) as server:
        yield server


def places_holding(db_url: str, secret: str) -> list[str]:
    """`table.column` for every column of every table whose text holds `secret` (bytea as its
    bytes: LangGraph keeps checkpoint blobs and writes as bytea)."""
    found = []
    with psycopg.connect(db_url, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT c.table_schema, c.table_name, c.column_name, c.data_type"
            " FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE t.table_type = 'BASE TABLE'"
            "   AND c.table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table, column, data_type in columns:
            binary = data_type == "bytea"
            where = sql.SQL(
                "position(%s::bytea in {}) > 0" if binary else "strpos({}::text, %s) > 0"
            ).format(sql.Identifier(column))
            query = sql.SQL("SELECT count(*) FROM {}.{} WHERE {}").format(
                sql.Identifier(schema), sql.Identifier(table), where
            )
            row = conn.execute(query, (secret.encode() if binary else secret,)).fetchone()
            if row and row[0]:
                found.append(f"{table}.{column}")
    return found


def test_canary_secrets_stay_where_they_are_kept(
    processes: Processes, observe: Observer, db_url: str, fake: FakeLLM, mcp: RunningServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    env = {
        "OUTLAST_GRAPHS": GRAPHS,
        "OUTLAST_NET_ALLOW": "127.0.0.0/8",
        "OUTLAST_LOG_LEVEL": "DEBUG",
        "OPENAI_API_KEY": PROVIDER_KEY,
        "OPENAI_BASE_URL": f"{fake.url}/v1",
    }
    port = free_port()
    processes.api(port, **env)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _up(base), 60, message="the API process")
    registered = httpx.post(
        f"{base}/v1/tool-servers",
        json={"name": "srv", "url": mcp.url, "token": MCP_TOKEN},
        headers=AUTH,
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    listed = httpx.get(f"{base}/v1/tool-servers", headers=AUTH, timeout=30)
    # A rate limit on the model, so the worker keeps a bucket for the key (by its fingerprint).
    limit = {"provider": "openai", "model": "gpt-test", "tokens_per_minute": None}
    limited = httpx.put(
        f"{base}/v1/rate-limits", json={**limit, "requests_per_minute": 100}, headers=AUTH
    )
    assert limited.status_code == 200, limited.text

    fake.script(OPENAI, Reply("the answer"))
    processes.worker(concurrency=1, **env)
    calls = [
        {"tool": "srv.add", "arguments": {"a": 1, "b": 2}},
        {"tool": "srv.fail", "arguments": {}},
    ]
    task_id = observe.submit("tooled", {"calls": calls, "question": "hi?"})
    wait_until(lambda: observe.state(task_id) == "completed", 60, message="task completed")
    task = httpx.get(f"{base}/v1/tasks/{task_id}", headers=AUTH, timeout=30)
    events = httpx.get(f"{base}/v1/tasks/{task_id}/events", headers=AUTH, timeout=30)
    buckets = httpx.get(f"{base}/v1/rate-limits", headers=AUTH, timeout=30)
    assert buckets.json()[0]["buckets"][0]["key_fingerprint"].startswith("sha256:")
    metrics = httpx.get(f"{base}/metrics", headers=AUTH, timeout=30)

    # The secrets were used: the model server saw the key, the MCP server the token.
    [request] = fake.requests(OPENAI)
    assert PROVIDER_KEY in str(request.headers)
    assert f"Bearer {MCP_TOKEN}" in mcp.recorded.authorizations
    assert observe.task(task_id)["result"]["results"][0]["content"] == {"result": 3}

    # The search reaches LangGraph's tables: the model's answer is in the checkpoints.
    assert {p.split(".")[0] for p in places_holding(db_url, "the answer")} >= {
        "checkpoint_writes",
        "llm_calls",
    }
    assert places_holding(db_url, MCP_TOKEN) == ["tool_servers.token"]
    assert places_holding(db_url, PROVIDER_KEY) == []
    responses = registered.text + listed.text + task.text + events.text + buckets.text
    responses += metrics.text
    logs = {proc.app_name: proc.output() for proc in processes.started}
    assert logs and all(logs.values())
    for canary in CANARIES:
        assert canary not in responses
        assert [name for name, text in logs.items() if canary in text] == []


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
