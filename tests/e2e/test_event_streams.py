"""Event streams are offsets into task_events (ADR 0015): a client that loses its API process
mid-stream and reconnects to another replica with Last-Event-ID gets every event once."""

from __future__ import annotations

import contextlib
import signal
import threading
import uuid

import httpx
import psycopg
import pytest

from tests.support.api import free_port
from tests.support.keys import AUTH
from tests.support.processes import Processes
from tests.support.sse import Event, events
from tests.support.wait import wait_until

TASKS = 60


def start_api(processes: Processes) -> str:
    port = free_port()
    processes.api(port)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        return False

    wait_until(healthy, 120, interval=0.2, message="the API to answer /healthz")
    return base


def event_ids(db_url: str, after: int) -> list[int]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT id FROM task_events WHERE id > %s AND tenant = 'default' ORDER BY id", (after,)
        ).fetchall()
    return [r[0] for r in rows]


def head(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM task_events").fetchone()
    assert row is not None
    return int(row[0])


def read(base: str, after: int, until: int | None, got: list[Event]) -> None:
    """Append the stream's events to `got` until `until` of them arrived (None: until cut)."""
    headers = {**AUTH, "Last-Event-ID": str(after)}
    with (
        contextlib.suppress(httpx.HTTPError),
        httpx.stream(
            "GET", f"{base}/v1/stream", headers=headers, timeout=httpx.Timeout(30, read=30)
        ) as response,
    ):
        assert response.status_code == 200, response.read()
        for event in events(response):
            got.append(event)
            if until is not None and len(got) >= until:
                return


def test_reconnect_to_another_replica_loses_and_duplicates_nothing(
    processes: Processes, db_url: str
) -> None:
    first, second = start_api(processes), start_api(processes)
    start = head(db_url)
    got: list[Event] = []
    reader = threading.Thread(target=read, args=(first, start, None, got), daemon=True)
    reader.start()
    processes.worker(concurrency=4)
    with httpx.Client(base_url=second, headers=AUTH) as api:
        for i in range(TASKS):
            assert (
                api.post("/v1/tasks", json={"graph": "echo", "input": {"n": i}}).status_code == 201
            )
            if i == TASKS // 3:
                # A forced disconnect: the first replica dies mid-stream, events still flowing.
                wait_until(lambda: len(got) > 10, 60, message="events on the first stream")
                processes.started[0].signal(signal.SIGKILL)
                reader.join(30)
    assert not reader.is_alive()
    cut = len(got)
    last = got[-1].id

    def finished() -> bool:
        with psycopg.connect(db_url) as conn:
            row = conn.execute("SELECT count(*) FROM tasks WHERE state <> 'completed'").fetchone()
        return row is not None and row[0] == 0

    wait_until(finished, 120, message="every task completed")
    expected = event_ids(db_url, start)
    read(second, last, len(expected), got)

    ids = [e.id for e in got]
    assert len(ids) == len(set(ids)), "an event came twice"
    assert ids == expected, f"{len(set(expected) - set(ids))} events lost"
    assert 0 < cut < len(expected)
    assert {e.data["task_id"] for e in got[cut:]}, "the second replica carried on"
    kinds = {e.data["kind"] for e in got}
    assert {"submitted", "claimed", "completed"} <= kinds, kinds


def test_a_task_stream_replays_its_history_then_follows(db_url: str, processes: Processes) -> None:
    base = start_api(processes)
    with httpx.Client(base_url=base, headers=AUTH) as api:
        task = api.post("/v1/tasks", json={"graph": "echo", "input": {}}).json()
        # The stream names the task: from its first event, before any worker runs it.
        url = f"/v1/tasks/{task['id']}/stream"
        with api.stream("GET", url, timeout=30) as response:
            assert response.status_code == 200
            stream = events(response)
            first = next(stream)
            assert first.data["kind"] == "submitted"
            processes.worker(concurrency=1)
            kinds = [first.data["to_state"]]
            for event in stream:
                kinds.append(event.data["to_state"])
                if event.data["to_state"] == "completed":
                    break
        assert kinds[0] == "queued" and kinds[-1] == "completed", kinds


@pytest.mark.parametrize("route", ["/v1/tasks/{id}/stream", "/v1/tasks/{unknown}/stream"])
def test_another_tenants_task_stream_is_not_found(
    db_url: str, processes: Processes, route: str
) -> None:
    base = start_api(processes)
    with httpx.Client(base_url=base, headers=AUTH) as api:
        task = api.post("/v1/tasks", json={"graph": "echo", "input": {}}).json()
        other = api.post("/v1/keys", json={"scopes": ["tasks:read"], "tenant": "acme"}).json()
        url = route.format(id=task["id"], unknown=uuid.uuid4())
        answer = httpx.get(
            f"{base}{url}", headers={"Authorization": f"Bearer {other['key']}"}, timeout=10
        )
        assert answer.status_code == 404, answer.text
