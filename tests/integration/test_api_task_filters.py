"""GET /v1/tasks filters by agent, creation time range and text in the input or error, on the
server, within the caller's tenant; bad filter values are a 422 naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.support.api import api_client, submit

AGENT = {"name": "helper", "graph": "pipeline", "provider": "offline", "model": "offline"}


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as c:
        yield c


def ids(client: TestClient, headers: dict[str, str] | None = None, **params: Any) -> list[str]:
    answer = client.get("/v1/tasks", params=params, headers=headers or {})
    assert answer.status_code == 200, answer.text
    return [t["id"] for t in answer.json()["items"]]


def test_agent_time_and_text_filters(client: TestClient, db_url: str) -> None:
    assert client.post("/v1/agents", json=AGENT).status_code == 201, "agent"
    by_agent = client.post("/v1/tasks", json={"agent": "helper", "input": {"q": "Zebra crossing"}})
    assert by_agent.status_code == 201, by_agent.text
    agent_task = by_agent.json()["id"]
    plain = submit(client, "pipeline", input={"q": "plain words"})["id"]
    old = submit(client, "pipeline", input={"q": "old"})["id"]
    failed = submit(client, "pipeline", input={"q": "x"})["id"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE tasks SET created_at = created_at - interval '2 days' WHERE id = %s", (old,)
        )
        conn.execute(
            "UPDATE tasks SET state = 'failed', finished_at = now(),"
            ' error = \'{"type": "QuotaError", "message": "out of zebras"}\' WHERE id = %s',
            (failed,),
        )
    assert ids(client, agent="helper") == [agent_task]
    assert ids(client, agent="nobody") == []
    # Text: case-insensitive, in the input or the error.
    assert ids(client, text="zebra") == [failed, agent_task]
    assert ids(client, text="PLAIN") == [plain]
    assert ids(client, text="quotaerror") == [failed]
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    recent = ids(client, created_after=since)
    assert old not in recent and {plain, failed, agent_task} <= set(recent)
    assert ids(client, created_before=since) == [old]
    assert ids(client, created_after=since, text="zebra", agent="helper") == [agent_task]


def test_filters_stay_in_the_callers_tenant(client: TestClient) -> None:
    submit(client, "pipeline", input={"q": "secret plan"})
    made = client.post("/v1/keys", json={"scopes": ["tasks:read"], "tenant": "acme"})
    assert made.status_code == 201, made.text
    other = {"Authorization": f"Bearer {made.json()['key']}"}
    assert ids(client, other, text="secret") == []
    assert len(ids(client, text="secret")) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2026-01-01T00:00:00"}, "created_before"),  # no zone
        ({"created_before": "0.5"}, "created_before"),  # not a Unix time
        ({"created_after": "2026-02-30T00:00:00Z"}, "created_after"),  # no such day
        ({"text": "a\x00b"}, "text"),
        ({"text": "x" * 201}, "text"),
        ({"agent": ""}, "agent"),
    ],
)
def test_bad_filters_are_422_naming_the_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    answer = client.get("/v1/tasks", params=params)
    assert answer.status_code == 422, answer.text
    assert any(field in e["field"] for e in answer.json()["errors"])
