"""Browser tests of the console: Playwright driving Debian's chromium (apt-get install chromium;
never a downloaded browser), against the API as a real process (`outlast api`).

OUTLAST_SCREENSHOTS=1 also writes each page's screenshot to docs/console/ (docs/console.md shows
them); without it nothing in the tree changes."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.api import free_port
from tests.support.keys import AUTH, TEST_KEY
from tests.support.processes import Processes
from tests.support.wait import wait_until

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="apt-get install chromium")


# Module scope, not session: Playwright's sync API runs an event loop in the main thread for as
# long as it is open, and every later test that calls asyncio.run (or an async test) would
# find it running ("Runner.run() cannot be called from a running event loop").
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture
def api_url(processes: Processes) -> str:
    port = free_port()
    processes.api(port)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        return False

    wait_until(healthy, 120, interval=0.2, message="the API to answer /healthz")
    return base


@pytest.fixture
def api(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, headers=AUTH, timeout=30) as client:
        yield client


@pytest.fixture
def page(browser: Browser, api_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=api_url, viewport={"width": 1366, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    opened.on("dialog", lambda dialog: dialog.accept())  # the confirm() of destructive forms
    yield opened
    context.close()


def sign_in(page: Page, key: str = TEST_KEY, then: str = "/console/tasks") -> None:
    page.goto(f"/console/sign-in?next={then}")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(then) + r"$"))


def shot(page: Page, name: str) -> None:
    """A screenshot for docs/console.md, only when OUTLAST_SCREENSHOTS=1."""
    if os.environ.get("OUTLAST_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def submit(api: httpx.Client, graph: str, graph_input: dict[str, Any]) -> str:
    response = api.post("/v1/tasks", json={"graph": graph, "input": graph_input})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def state_of(api: httpx.Client, task_id: str) -> str:
    return str(api.get(f"/v1/tasks/{task_id}").json()["state"])
