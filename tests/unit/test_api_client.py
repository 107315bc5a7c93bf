"""The client's error mapping, against canned HTTP answers (no server)."""

from __future__ import annotations

import httpx
import pytest

from outlast.client import ApiError, Client


def client_answering(response: httpx.Response) -> Client:
    return Client("http://outlast.test", transport=httpx.MockTransport(lambda _: response))


def test_problem_json_becomes_api_error() -> None:
    problem = {
        "type": "https://outlast.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "task x does not exist",
    }
    with (
        client_answering(httpx.Response(404, json=problem)) as api,
        pytest.raises(ApiError) as caught,
    ):
        api.get("x")
    assert caught.value.status == 404 and caught.value.problem == problem
    assert str(caught.value) == "404 Not found: task x does not exist"


def test_html_error_page_still_gives_one_line() -> None:
    page = httpx.Response(502, text="<html>\n<h1>Bad gateway</h1>\n</html>")
    with client_answering(page) as api, pytest.raises(ApiError) as caught:
        api.list()
    assert caught.value.status == 502 and "\n" not in str(caught.value)


def test_success_that_is_not_json_is_an_api_error() -> None:
    with (
        client_answering(httpx.Response(200, text="hello")) as api,
        pytest.raises(ApiError) as caught,
    ):
        api.graphs()
    assert caught.value.problem["title"] == "not an Outlast API response"


def test_wait_polls_when_the_stream_is_refused() -> None:
    states = iter(["queued", "running", "waiting_for_input"])

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stream"):  # a proxy that refuses long responses
            return httpx.Response(502, text="<html>Bad gateway</html>")
        return httpx.Response(200, json={"id": "x", "state": next(states)})

    api = Client("http://outlast.test", transport=httpx.MockTransport(answer))
    with api:
        assert api.wait("x", timeout=30, poll_s=0.01)["state"] == "waiting_for_input"


def test_stream_parses_events_and_skips_pings() -> None:
    body = (
        ": ping\n\n"
        'event: task_event\nid: 7\ndata: {"id": 7, "kind": "submitted"}\n\n'
        'event: task_event\nid: 9\ndata: {"id": 9, "kind": "claimed"}\n\n'
    )

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Last-Event-ID"] == "5"
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    with Client("http://outlast.test", transport=httpx.MockTransport(answer)) as api:
        events = api.stream("x", last_event_id=5)
        assert [next(events)["kind"], next(events)["kind"]] == ["submitted", "claimed"]


def test_a_stream_the_api_keeps_ending_is_given_up_after_its_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("outlast.client.time.sleep", lambda _: None)
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers.get("Last-Event-ID"))
        return httpx.Response(200, text="", headers={"content-type": "text/event-stream"})

    api = Client("http://outlast.test", transport=httpx.MockTransport(answer))
    with api, pytest.raises(httpx.RemoteProtocolError):
        next(api.stream("x", last_event_id=3, retries=2))
    assert calls == ["3", "3", "3"]


def test_the_stream_reader_skips_token_deltas_and_resumes_after_them() -> None:
    """A task's stream carries the live tokens of its model calls (`event: token`, ids `E.D`,
    ADR 0022): the clients yield the task's events only, and reconnect after the last id seen."""
    from outlast.eventstream import Reader

    reader = Reader(0)
    lines = [
        "id: 7",
        'data: {"id": 7, "type": "claimed"}',
        "",
        "event: token",
        "id: 7.3",
        'data: {"text": "Hel"}',
        "",
    ]
    assert [e["type"] for e in reader.events(lines)] == ["claimed"]
    assert reader.headers()["Last-Event-ID"] == "7.3"
