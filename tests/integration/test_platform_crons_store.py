"""Crons and the store over HTTP where the SDK does not go (ADR 0029): a cron is a schedule in
`/v1/schedules` too, goes with its thread, and bad input is a 422 naming the field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support.api import api_client


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as c:
        yield c


def fields(response: object) -> list[str]:
    body = response.json()  # type: ignore[attr-defined]
    return [e["field"] for e in body.get("errors", [])]


def test_a_cron_is_a_schedule_and_goes_with_its_thread(client: TestClient) -> None:
    thread = client.post("/threads", json={}).json()["thread_id"]
    made = client.post(
        f"/threads/{thread}/runs/crons",
        json={"assistant_id": "pipeline", "schedule": "0 3 * * *", "input": {"text": "Hi."}},
    )
    assert made.status_code == 200, made.text
    cron_id = made.json()["cron_id"]
    listed = client.get("/v1/schedules").json()["items"]
    assert [s["name"] for s in listed] == [f"cron-{cron_id}"]
    assert listed[0]["graph"] == "pipeline" and listed[0]["cron"] == "0 3 * * *"
    paused = client.post(f"/v1/schedules/cron-{cron_id}/pause")
    assert paused.status_code == 200, paused.text
    found = client.post("/runs/crons/search", json={"enabled": False}).json()
    assert [c["cron_id"] for c in found] == [cron_id]
    assert client.delete(f"/threads/{thread}").status_code == 204
    assert client.post("/runs/crons/count", json={}).json() == 0


def test_bad_cron_and_store_input_names_the_field(client: TestClient) -> None:
    bad_cron = client.post("/runs/crons", json={"assistant_id": "pipeline", "schedule": "61 * * *"})
    assert bad_cron.status_code == 422 and fields(bad_cron) == ["body.schedule"]
    bad_zone = client.post(
        "/runs/crons",
        json={"assistant_id": "pipeline", "schedule": "0 3 * * *", "timezone": "Mars/Olympus"},
    )
    assert bad_zone.status_code == 422 and fields(bad_zone) == ["body.timezone"]
    made = client.post("/runs/crons", json={"assistant_id": "pipeline", "schedule": "0 3 * * *"})
    bad_update = client.patch(f"/runs/crons/{made.json()['cron_id']}", json={"schedule": "x"})
    assert bad_update.status_code == 422 and fields(bad_update) == ["body.schedule"]

    dotted = client.put("/store/items", json={"namespace": ["a.b"], "key": "k", "value": {}})
    assert dotted.status_code == 422 and fields(dotted) == ["body.namespace.0"]
    not_object = client.put("/store/items", json={"namespace": ["a"], "key": "k", "value": [1]})
    assert not_object.status_code == 422 and fields(not_object) == ["body.value"]
    empty = client.get("/store/items", params={"namespace": "a..b", "key": "k"})
    assert empty.status_code == 422 and fields(empty) == ["query.namespace"]
    deep = client.post("/store/namespaces", json={"max_depth": 0})
    assert deep.status_code == 422 and fields(deep) == ["body.max_depth"]


def test_a_store_read_with_a_nul_in_its_query_is_a_422_not_a_500(client: TestClient) -> None:
    """Postgres cannot hold a NUL: the query's namespace or key with one names the field."""
    for params, field in [
        ({"namespace": "a\x00b", "key": "k"}, "query.namespace"),
        ({"namespace": "a", "key": "k\x00"}, "query.key"),
        ({"namespace": "", "key": "k"}, "query.namespace"),
    ]:
        got = client.get("/store/items", params=params)
        assert got.status_code == 422, got.text
        assert got.json()["errors"][0]["field"] == field


def test_a_path_that_is_a_post_elsewhere_is_a_405(client: TestClient) -> None:
    """`/runs/crons/search` is not a cron id, nor `/threads/{id}/runs/crons` a run id."""
    thread = client.post("/threads", json={}).json()["thread_id"]
    assert client.patch("/runs/crons/search", json={}).status_code == 405
    assert client.delete("/runs/crons/count").status_code == 405
    assert client.get(f"/threads/{thread}/runs/crons").status_code == 405
