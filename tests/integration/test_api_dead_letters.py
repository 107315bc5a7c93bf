"""Dead letters over REST: list, get, groups, redrive one (modes, races), redrive by filter."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import add_checkpoints, api_client, counts, dead_letter

PROBLEMS = "https://outlast.dev/problems/"


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as c:
        yield c


def test_list_get_and_pages(client: TestClient) -> None:
    letters = [dead_letter(client, input={"n": i}) for i in range(5)]
    first = client.get("/v1/dead-letters", params={"limit": 2}).json()
    seen = [d["id"] for d in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        body = client.get("/v1/dead-letters", params={"limit": 2, "cursor": cursor}).json()
        seen += [d["id"] for d in body["items"]]
        cursor = body["next_cursor"]
    assert seen == [d["id"] for d in letters]  # oldest first, each once
    one = client.get(f"/v1/dead-letters/{letters[0]['id']}")
    assert one.status_code == 200
    detail = one.json()
    assert (detail["error_type"], detail["error_message"]) == ("FlakyError", "boom")
    assert detail["traceback"] == "Traceback: boom" and detail["attempts"] == 1
    assert detail["attempt_history"][-1]["kind"] == "failed"
    task = client.get(f"/v1/tasks/{detail['task_id']}").json()
    assert task["state"] == "failed" and task["error"]["type"] == "FlakyError"


def test_filters_and_groups(client: TestClient) -> None:
    a = dead_letter(client, error_type="FlakyError")
    dead_letter(client, error_type="FlakyError")
    c = dead_letter(client, error_type="Timeout")
    listed = client.get("/v1/dead-letters", params={"error_type": "Timeout"}).json()["items"]
    assert [d["id"] for d in listed] == [c["id"]]
    by_task = client.get("/v1/dead-letters", params={"task_id": a["task_id"]}).json()["items"]
    assert [d["id"] for d in by_task] == [a["id"]]
    assert client.get("/v1/dead-letters", params={"graph": "pipeline"}).json()["items"] == []
    groups = client.get("/v1/dead-letters/groups").json()
    assert [(g["graph"], g["error_type"], g["count"]) for g in groups["items"]] == [
        ("flaky", "FlakyError", 2),
        ("flaky", "Timeout", 1),
    ]
    assert groups["next_cursor"] is None


def test_unknown_dead_letter_is_404(client: TestClient) -> None:
    for response in (
        client.get(f"/v1/dead-letters/{uuid.uuid4()}"),
        client.post(f"/v1/dead-letters/{uuid.uuid4()}/redrive"),
    ):
        assert response.status_code == 404
        assert response.json()["type"] == PROBLEMS + "not-found"


def test_redrive_requeues_then_409_and_listing_hides_it(client: TestClient) -> None:
    letter = dead_letter(client)
    redriven = client.post(f"/v1/dead-letters/{letter['id']}/redrive", json={"max_attempts": 9})
    assert redriven.status_code == 200
    task = redriven.json()
    assert task["id"] == letter["task_id"]
    assert (task["state"], task["attempts"], task["max_attempts"]) == ("queued", 0, 9)
    again = client.post(f"/v1/dead-letters/{letter['id']}/redrive")
    assert again.status_code == 409
    assert again.json()["type"] == PROBLEMS + "conflict" and again.json()["state"] == "queued"
    assert client.get("/v1/dead-letters").json()["items"] == []
    everything = client.get("/v1/dead-letters", params={"include_redriven": True}).json()
    assert everything["items"][0]["redrive_mode"] == "last_checkpoint"
    kinds = [e["kind"] for e in client.get(f"/v1/tasks/{task['id']}/events").json()["items"]]
    assert kinds == ["submitted", "claimed", "failed", "redriven"]


def test_concurrent_redrives_one_wins(client: TestClient) -> None:
    letter = dead_letter(client)

    def redrive(_: int) -> int:
        return client.post(f"/v1/dead-letters/{letter['id']}/redrive").status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(redrive, range(2)))
    assert statuses == [200, 409]


def test_redrive_from_a_chosen_checkpoint(client: TestClient, db_url: str) -> None:
    letter = dead_letter(client)
    add_checkpoints(db_url, letter["task_id"], ["1ef-a", "1ef-b"])
    other = dead_letter(client)
    add_checkpoints(db_url, other["task_id"], ["1ef-z"])
    before = counts(db_url)
    foreign = client.post(
        f"/v1/dead-letters/{letter['id']}/redrive",
        json={"mode": "checkpoint", "checkpoint_id": "1ef-z"},
    )
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "body.checkpoint_id"
    assert foreign.json()["errors"][0]["rule"] == "task_checkpoint"
    assert counts(db_url) == before
    ok = client.post(
        f"/v1/dead-letters/{letter['id']}/redrive",
        json={"mode": "checkpoint", "checkpoint_id": "1ef-a"},
    )
    assert ok.status_code == 200 and ok.json()["state"] == "queued"
    detail = client.get(f"/v1/dead-letters/{letter['id']}").json()
    assert detail["redrive_mode"] == "checkpoint"


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"mode": "checkpoint"}, "body.checkpoint_id", "value_error"),
        ({"mode": "scratch", "checkpoint_id": "1ef-a"}, "body.checkpoint_id", "value_error"),
        ({"mode": "yesterday"}, "body.mode", "literal_error"),
        ({"max_attempts": 0}, "body.max_attempts", "greater_than_equal"),
        ({"max_attempts": 1.5}, "body.max_attempts", "int_type"),
        ({"force": True}, "body.force", "extra_forbidden"),
    ],
)
def test_bad_redrive_body(
    client: TestClient, db_url: str, body: dict[str, Any], field: str, rule: str
) -> None:
    letter = dead_letter(client)
    before = counts(db_url)
    response = client.post(f"/v1/dead-letters/{letter['id']}/redrive", json=body)
    assert response.status_code == 422
    assert {"field": field, "rule": rule} in [
        {"field": e["field"], "rule": e["rule"]} for e in response.json()["errors"]
    ]
    assert counts(db_url) == before
    assert client.get(f"/v1/dead-letters/{letter['id']}").json()["redriven_at"] is None


def test_redrive_by_filter_dry_run_writes_nothing(client: TestClient, db_url: str) -> None:
    letters = [dead_letter(client, error_type="FlakyError") for _ in range(3)]
    dead_letter(client, error_type="Other")
    before = counts(db_url)
    response = client.post(
        "/v1/dead-letters/redrive", json={"error_type": "FlakyError", "dry_run": True, "limit": 2}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True and body["count"] == 2 and body["tasks"] is None
    assert [d["id"] for d in body["dead_letters"]] == [d["id"] for d in letters[:2]]
    assert counts(db_url) == before
    assert len(client.get("/v1/dead-letters").json()["items"]) == 4


def test_redrive_by_filter_for_real(client: TestClient) -> None:
    letters = [dead_letter(client, error_type="FlakyError") for _ in range(3)]
    other = dead_letter(client, error_type="Other")
    body = client.post(
        "/v1/dead-letters/redrive",
        json={"graph": "flaky", "error_type": "FlakyError", "limit": 2, "mode": "scratch"},
    ).json()
    assert body["dry_run"] is False and body["count"] == 2 and body["dead_letters"] is None
    assert {t["id"] for t in body["tasks"]} == {d["task_id"] for d in letters[:2]}
    assert {t["state"] for t in body["tasks"]} == {"queued"}
    left = client.get("/v1/dead-letters").json()["items"]
    assert {d["id"] for d in left} == {letters[2]["id"], other["id"]}
    rest = client.post("/v1/dead-letters/redrive", json={"error_type": "FlakyError"}).json()
    assert rest["count"] == 1
    none = client.post("/v1/dead-letters/redrive", json={"error_type": "FlakyError"}).json()
    assert none == {"dry_run": False, "count": 0, "tasks": [], "dead_letters": None}


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"limit": 0}, "body.limit", "greater_than_equal"),
        ({"limit": 1001}, "body.limit", "less_than_equal"),
        ({"mode": "checkpoint"}, "body.mode", "literal_error"),
        ({"dry_run": "yes"}, "body.dry_run", "bool_type"),
        ({"graph": ""}, "body.graph", "string_too_short"),
        ({"error_type": "a\x00"}, "body.error_type", "no_nul_character"),
        ({"everything": True}, "body.everything", "extra_forbidden"),
    ],
)
def test_bad_redrive_by_filter_body(
    client: TestClient, db_url: str, body: dict[str, Any], field: str, rule: str
) -> None:
    dead_letter(client)
    before = counts(db_url)
    response = client.post("/v1/dead-letters/redrive", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        **response.json()["errors"][0],
        "field": field,
        "rule": rule,
    }
    assert counts(db_url) == before
    assert len(client.get("/v1/dead-letters").json()["items"]) == 1


def test_resolve_closes_a_dead_letter_without_a_redrive(client: TestClient) -> None:
    letter = dead_letter(client)
    url = f"/v1/dead-letters/{letter['id']}"
    resolved = client.post(f"{url}/resolve", json={"note": "obsolete input"})
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["resolved_at"] and body["resolution"] == "obsolete input"
    assert body["redriven_at"] is None
    assert client.get(f"/v1/tasks/{letter['task_id']}").json()["state"] == "failed"
    assert client.get("/v1/dead-letters").json()["items"] == []  # no longer open
    assert client.get("/v1/dead-letters/groups").json()["items"] == []
    listed = client.get("/v1/dead-letters", params={"include_redriven": True}).json()["items"]
    assert [d["id"] for d in listed] == [letter["id"]]
    for action in ("resolve", "redrive"):  # closed once: neither a second resolve nor a redrive
        again = client.post(f"{url}/{action}")
        assert again.status_code == 409, again.text
        assert "resolved" in again.json()["detail"]
    events = client.get(f"/v1/tasks/{letter['task_id']}/events").json()["items"]
    assert events[-1]["kind"] == "dead_letter_resolved"


def test_resolve_after_redrive_is_a_conflict_and_unknown_is_404(client: TestClient) -> None:
    letter = dead_letter(client)
    assert client.post(f"/v1/dead-letters/{letter['id']}/redrive").status_code == 200
    late = client.post(f"/v1/dead-letters/{letter['id']}/resolve")
    assert late.status_code == 409 and "redriven" in late.json()["detail"]
    missing = client.post(f"/v1/dead-letters/{uuid.uuid4()}/resolve")
    assert missing.status_code == 404
    bad = client.post(f"/v1/dead-letters/{letter['id']}/resolve", json={"note": "a\u0000b"})
    assert bad.status_code == 422
