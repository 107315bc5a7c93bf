"""The console's pages and forms without a browser (tests/browser/ drives a real one): sign-in
keeps the key in an HttpOnly SameSite=Strict cookie and never renders it, every form needs the
key's CSRF token, and every page reads through the API with the signed-in key."""

from __future__ import annotations

import re

import httpx
import psycopg
from fastapi.testclient import TestClient

from tests.support import keys
from tests.support.api import api_client, live_server, submit
from tests.support.keys import TEST_KEY
from tests.support.sse import events

PAGES = (
    "/console/",
    "/console/tasks",
    "/console/inbox",
    "/console/dead-letters",
    "/console/workers",
)


def sign_in(client: TestClient, key: str = TEST_KEY) -> None:
    form = client.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    answer = client.post(
        "/console/sign-in",
        data={"csrf": token.group(1), "key": key, "next": "/console/tasks"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie


def test_pages_need_a_key_and_never_show_it(db_url: str) -> None:
    with api_client(db_url) as client:
        client.headers.pop("Authorization")
        task = submit_as_admin(client)
        for path in PAGES:
            assert client.get(path, follow_redirects=False).status_code == 303
        sign_in(client)
        for path in (*PAGES, f"/console/tasks/{task['id']}"):
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[:500])
            assert keys.SECRET not in page.text
            assert "Content-Security-Policy" in page.headers


def submit_as_admin(client: TestClient) -> dict[str, str]:
    client.headers["Authorization"] = f"Bearer {TEST_KEY}"
    try:
        return submit(client, "flaky")
    finally:
        client.headers.pop("Authorization")


def test_a_form_without_the_csrf_token_does_nothing(db_url: str) -> None:
    with api_client(db_url) as client:
        task = submit_as_admin(client)
        sign_in(client)
        page = client.get(f"/console/tasks/{task['id']}").text
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token is not None
        path = f"/console/tasks/{task['id']}/cancel"
        assert client.post(path, data={}).status_code == 403
        assert client.post(path, data={"csrf": "0" * 64}).status_code == 403
        state = client.get(f"/v1/tasks/{task['id']}", headers=keys.AUTH).json()["state"]
        assert state == "queued"
        done = client.post(path, data={"csrf": token.group(1)}, follow_redirects=False)
        assert done.status_code == 303
        state = client.get(f"/v1/tasks/{task['id']}", headers=keys.AUTH).json()["state"]
        assert state == "cancelled"


def test_a_wrong_key_signs_nobody_in(db_url: str) -> None:
    with api_client(db_url) as client:
        client.headers.pop("Authorization")
        form = client.get("/console/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        wrong = TEST_KEY[:-4] + "zzzz"
        answer = client.post("/console/sign-in", data={"csrf": token.group(1), "key": wrong})
        assert answer.status_code == 401
        assert wrong not in answer.text


def test_a_key_without_a_scope_is_refused_by_the_api(db_url: str) -> None:
    with api_client(db_url) as client:
        reader = keys.create(client, "tasks:read", name="reader")
        client.headers.pop("Authorization")
        sign_in(client, reader["key"])
        tasks = client.get("/console/tasks").text
        assert 'href="/console/inbox"' not in tasks  # not in the menu
        inbox = client.get("/console/inbox").text
        assert "403" in inbox and "approvals:decide" in inbox


def test_the_console_stream_resumes_from_last_event_id(db_url: str) -> None:
    """The browser's EventSource reconnects through the console with Last-Event-ID; the console
    passes it on, so the resumed stream starts right after it."""
    with api_client(db_url) as admin:
        first, second = submit(admin, "flaky"), submit(admin, "flaky")
    with psycopg.connect(db_url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM task_events ORDER BY id").fetchall()]
    with live_server(db_url) as base, httpx.Client(base_url=base) as browser:
        form = browser.get("/console/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        browser.post("/console/sign-in", data={"csrf": token.group(1), "key": TEST_KEY})
        headers = {"Last-Event-ID": str(ids[0])}
        with browser.stream("GET", "/console/stream", headers=headers, timeout=30) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            event = next(events(response))
        assert event.id == ids[1]
        assert event.data["task_id"] == second["id"] != first["id"]
        unsigned = httpx.get(f"{base}/console/stream", follow_redirects=False)
        assert unsigned.status_code == 303
