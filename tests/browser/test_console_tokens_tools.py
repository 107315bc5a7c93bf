"""The console's later pages in a real browser: a running agent's tokens on its task page and a
replay from there, the tasks filters (agent, time, text), the cost chart on the overview, and
the tool servers page (register, then remove after a confirm)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import shot, sign_in, submit
from tests.support.api import free_port
from tests.support.fake_llm import OPENAI, FakeLLM, Reply
from tests.support.mcp_server import RunningServer, mcp_server
from tests.support.processes import Processes
from tests.support.wait import wait_until

ANSWER = "Forty-two, and here is how I worked it out step by step."
AGENT = {"name": "researcher", "provider": "openai", "model": "gpt-test", "max_tokens": 300}
MCP_TOKEN = "mcp-secret-token-0123456789"  # noqa: S105 - a test token for the local server


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    server = FakeLLM()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def mcp() -> Iterator[RunningServer]:
    with mcp_server(MCP_TOKEN) as server:
        yield server


@pytest.fixture
def api_url(processes: Processes) -> str:
    """The API allowed to reach the local MCP server (loopback)."""
    port = free_port()
    processes.api(port, OUTLAST_NET_ALLOW="127.0.0.0/8", OUTLAST_TOOL_TIMEOUT_S="10")
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        return False

    wait_until(healthy, 120, interval=0.2, message="the API to answer /healthz")
    return base


def worker_env(fake: FakeLLM, tmp_path: Path) -> dict[str, str]:
    prices = tmp_path / "prices.toml"
    prices.write_text('[openai."gpt-test"]\ninput = 2000\noutput = 10000\n')
    return {
        "OUTLAST_LEASE_TTL_S": "15",
        "OPENAI_API_KEY": "sk-dummy",
        "OPENAI_BASE_URL": f"{fake.url}/v1",
        "OUTLAST_MODEL_PRICES_FILE": str(prices),
    }


def test_tokens_replay_filters_and_cost(
    page: Page, api: httpx.Client, processes: Processes, fake: FakeLLM, tmp_path: Path
) -> None:
    fake.reset()
    fake.script(OPENAI, Reply(ANSWER, input_tokens=1200, output_tokens=300), Reply("Again."))
    assert api.post("/v1/agents", json=AGENT).status_code == 201
    made = api.post(
        "/v1/tasks",
        json={
            "agent": "researcher",
            "input": {"messages": [{"role": "user", "content": "what is six times seven?"}]},
        },
    )
    assert made.status_code == 201, made.text
    task_id = made.json()["id"]
    plain = submit(api, "echo", {"note": "nothing to see"})
    sign_in(page, then=f"/console/tasks/{task_id}")
    expect(page.get_by_role("status").filter(has_text="Live updates")).to_have_text(
        "Live updates: on"
    )
    processes.worker(concurrency=2, **worker_env(fake, tmp_path))
    # The call's text, streamed by the SDK, written as deltas, sent as `event: token`.
    expect(page.locator("#tokens pre")).to_have_text(ANSWER, timeout=60_000)
    expect(page.locator("#task [data-state]")).to_have_text("completed", timeout=60_000)
    # The rest of the page follows without a reload: the attempt, its worker, the model call.
    expect(page.locator("#task [data-attempts]")).to_have_text("1/3")
    expect(page.locator("#attempts tr")).to_have_count(1)
    expect(page.locator("#attempts")).not_to_contain_text("Not claimed yet")
    expect(page.locator("#models tbody tr")).to_have_count(1)
    expect(page.locator("#outcome")).to_contain_text("Result")
    shot(page, "task-tokens")

    page.reload()  # the replay form shows on a finished agent task
    page.get_by_label("From model call").fill("1")
    page.get_by_role("button", name="Replay").click()  # confirmed by the page fixture
    expect(page.get_by_role("status").first).to_contain_text(f"Replay of task {task_id}")
    replay_id = page.url.rsplit("/", 1)[-1].split("?")[0]
    assert replay_id != task_id
    assert api.get(f"/v1/tasks/{replay_id}").json()["replay_of"] == task_id

    # Filters: by agent, by text in the input, by a time range that ends before anything.
    page.goto("/console/tasks")
    page.get_by_label("Agent").fill("researcher")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f'tr[data-task="{plain}"]')).to_have_count(0)
    expect(page.locator(f'tr[data-task="{task_id}"]')).to_have_count(1)
    page.get_by_label("Agent").fill("")
    page.get_by_label("Text in input or error").fill("NOTHING TO SEE")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#tasks tbody tr")).to_have_count(1)
    expect(page.locator(f'tr[data-task="{plain}"]')).to_have_count(1)
    shot(page, "tasks-filtered")
    page.get_by_label("Text in input or error").fill("")
    page.get_by_label("to (UTC)").fill("2020-01-01T00:00:00")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#tasks tbody tr.empty")).to_have_count(1)

    page.goto("/console/")
    chart = page.locator('svg[aria-label^="Model cost per hour by agent"]')
    expect(chart).to_have_attribute("aria-label", re.compile(r"\d\$"))
    expect(chart.locator("text", has_text="researcher")).to_have_count(1)
    shot(page, "overview")


def test_tool_servers_register_then_remove(
    page: Page, api: httpx.Client, mcp: RunningServer
) -> None:
    sign_in(page, then="/console/tool-servers")
    expect(page.locator("#tool-servers tr.empty")).to_have_count(1)
    page.get_by_label("Name").fill("lookup")
    page.get_by_label("MCP endpoint URL").fill(mcp.url)
    page.get_by_label("Bearer token (optional)").fill(MCP_TOKEN)
    page.get_by_role("button", name="Register and discover tools").click()
    expect(page.get_by_role("status").first).to_contain_text("Tool server lookup registered")
    row = page.locator('tr[data-server="lookup"]')
    expect(row).to_contain_text("ok")
    expect(page.locator("body")).not_to_contain_text(MCP_TOKEN)  # never rendered back
    shot(page, "tool-servers")
    row.get_by_role("button", name="Remove lookup").click()  # confirmed by the page fixture
    expect(page.get_by_role("status").first).to_contain_text("Tool server lookup removed")
    assert api.get("/v1/tool-servers").json() == []
