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
