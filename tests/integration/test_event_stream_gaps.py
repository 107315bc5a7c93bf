"""An event id taken by a transaction that has not committed holds the stream back, so a stream
never moves past an id that may still appear (ADR 0015); a rolled-back id is passed after
OUTLAST_STREAM_GAP_S. Filters and tenants narrow what a stream carries."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

import httpx
import psycopg

from tests.support.api import live_server
from tests.support.keys import AUTH
from tests.support.sse import Event, events
from tests.support.wait import wait_until

INSERT = (
    "INSERT INTO task_events (tenant, task_id, kind, to_state) VALUES (%s, %s, 'probe', %s)"
    " RETURNING id"
)


def head(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM task_events").fetchone()
    assert row is not None
    return int(row[0])


def follow(base: str, after: int, got: list[Event], query: str = "") -> threading.Thread:
    def run() -> None:
        headers = {**AUTH, "Last-Event-ID": str(after)}
        with (
            contextlib.suppress(httpx.HTTPError),
            httpx.stream(  # the server stops: the end
                "GET", f"{base}/v1/stream{query}", headers=headers, timeout=httpx.Timeout(60)
            ) as response,
        ):
            for event in events(response):
                got.append(event)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def insert(conn: psycopg.Connection, tenant: str = "default", state: str = "queued") -> int:
    row = conn.execute(INSERT, (tenant, uuid.uuid4(), state)).fetchone()
    assert row is not None
    return int(row[0])


def test_an_uncommitted_id_holds_back_the_ids_after_it(db_url: str) -> None:
    with live_server(db_url, stream_gap_s=60, stream_poll_s=0.1) as base:
        got: list[Event] = []
        follow(base, head(db_url), got)
        with psycopg.connect(db_url) as slow, psycopg.connect(db_url, autocommit=True) as fast:
            held = insert(slow)  # in an open transaction
            first = insert(fast)
            second = insert(fast)
            assert held < first < second
            # Several reads happen meanwhile (a poll every 0.1 s); none may pass the open id.
            time.sleep(1.0)
            assert got == []
            slow.commit()
        wait_until(lambda: len(got) == 3, 30, message="the three events")
        assert [e.id for e in got] == [held, first, second]


def test_a_rolled_back_id_is_passed_after_the_gap_time(db_url: str) -> None:
    with live_server(db_url, stream_gap_s=0.5, stream_poll_s=0.1) as base:
        got: list[Event] = []
        follow(base, head(db_url), got)
        with psycopg.connect(db_url) as aborted, psycopg.connect(db_url, autocommit=True) as conn:
            insert(aborted)
            aborted.rollback()
            after = insert(conn)
        wait_until(lambda: [e.id for e in got] == [after], 30, message="the event after the gap")


def test_a_stream_carries_its_tenant_and_filter_only(db_url: str) -> None:
    with live_server(db_url, stream_poll_s=0.1) as base:
        got: list[Event] = []
        follow(base, head(db_url), got, "?state=completed")
        with psycopg.connect(db_url, autocommit=True) as conn:
            insert(conn, "default", "queued")
            insert(conn, "acme", "completed")
            wanted = insert(conn, "default", "completed")
            last = insert(conn, "default", "completed")
        wait_until(lambda: len(got) >= 2, 30, message="the completed events")
        assert [e.id for e in got] == [wanted, last]


def test_bad_offsets_are_refused_naming_the_field(db_url: str) -> None:
    with live_server(db_url) as base:
        answer = httpx.get(f"{base}/v1/stream", headers={**AUTH, "Last-Event-ID": "x"})
        assert answer.status_code == 422
        assert "Last-Event-ID" in answer.text or "last-event-id" in answer.text.lower()
        answer = httpx.get(f"{base}/v1/stream", params={"after": -1}, headers=AUTH)
        assert answer.status_code == 422
        assert "after" in answer.text
