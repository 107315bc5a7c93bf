"""POST/GET/DELETE /v1/schedules and pause/resume: next runs in the schedule's time zone, the
tasks a schedule submitted once the reaper fired it, and bad input as a 4xx naming the field
(cron expression, time zone, graph, agent, a taken name). Other tenants: test_tenant_isolation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from db.connect import connect
from reaper.reaper import Reaper, ReaperConfig
from tests.support.api import api_client

NIGHTLY = {"name": "nightly", "cron": "30 2 * * *", "timezone": "Europe/Berlin"}


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as client:
        yield client


def problem(response: Any, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    if field is not None:
        assert [e["field"] for e in response.json()["errors"]] == [field]


def reap_at(db_url: str, when: datetime) -> int:
    async def run() -> int:
        conn = await connect(db_url)
        async with conn:
            await conn.execute("SELECT set_config('outlast.now', %s, false)", (when.isoformat(),))
            return (await Reaper(conn, ReaperConfig()).run_once()).schedules_fired

    return asyncio.run(run())


def test_create_read_fire_pause_resume_delete(api: TestClient, db_url: str) -> None:
    made = api.post("/v1/schedules", json={**NIGHTLY, "graph": "pipeline", "input": {"n": 2}})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["catch_up"] == "latest" and not body["paused"]
    runs = [datetime.fromisoformat(r) for r in body["next_runs"]]
    assert len(runs) == 5 and runs == sorted(runs) and body["next_run_at"] == body["next_runs"][0]
    berlin = [r.astimezone(ZoneInfo("Europe/Berlin")) for r in runs]
    assert {(b.hour, b.minute) for b in berlin} <= {(2, 30), (3, 30)}  # 03:30: a spring jump

    assert [s["name"] for s in api.get("/v1/schedules").json()["items"]] == ["nightly"]
    assert reap_at(db_url, runs[0] + timedelta(seconds=5)) == 1
    got = api.get("/v1/schedules/nightly").json()
    assert [datetime.fromisoformat(t["slot_at"]) for t in got["tasks"]] == [runs[0]]
    task = api.get(f"/v1/tasks/{got['tasks'][0]['task_id']}").json()
    assert task["graph"] == "pipeline" and task["input"] == {"n": 2}
    assert task["metadata"]["schedule"] == "nightly"
    assert datetime.fromisoformat(got["next_run_at"]) == runs[1]

    paused = api.post("/v1/schedules/nightly/pause").json()
    assert paused["paused"] and paused["next_run_at"] is None and paused["next_runs"] == []
    assert api.post("/v1/schedules/nightly/pause").json()["paused"]  # again: unchanged
    assert reap_at(db_url, runs[2] + timedelta(seconds=5)) == 0
    resumed = api.post("/v1/schedules/nightly/resume").json()
    assert not resumed["paused"] and len(resumed["next_runs"]) == 5

    assert api.delete("/v1/schedules/nightly").status_code == 204
    problem(api.delete("/v1/schedules/nightly"), 404)
    problem(api.get("/v1/schedules/nightly"), 404)
    problem(api.post("/v1/schedules/nightly/pause"), 404)
    problem(api.post("/v1/schedules/nightly/resume"), 404)
    assert api.get(f"/v1/tasks/{got['tasks'][0]['task_id']}").status_code == 200  # task stays


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cron": "61 * * * *"}, "body.cron"),
        ({"cron": "* * * * * *"}, "body.cron"),
        ({"timezone": "Mars/Olympus"}, "body.timezone"),
        ({"graph": "no-such-graph"}, "body.graph"),
        ({"graph": None, "agent": "nobody"}, "body.agent"),
        ({"graph": None}, "body.graph"),
        ({"catch_up": "sometimes"}, "body.catch_up"),
        ({"name": "Not A Slug"}, "body.name"),
    ],
)
def test_bad_input_names_the_field(api: TestClient, change: dict[str, Any], field: str) -> None:
    body = {**NIGHTLY, "graph": "pipeline", **change}
    problem(
        api.post("/v1/schedules", json={k: v for k, v in body.items() if v is not None}), 422, field
    )


def test_a_taken_name_is_a_conflict(api: TestClient) -> None:
    body = {**NIGHTLY, "graph": "pipeline"}
    assert api.post("/v1/schedules", json=body).status_code == 201
    problem(api.post("/v1/schedules", json=body), 409)


def test_an_agent_schedule_pins_its_version(api: TestClient) -> None:
    agent = api.post("/v1/agents", json={"name": "scout", "provider": "offline", "model": "echo"})
    assert agent.status_code == 201, agent.text
    made = api.post("/v1/schedules", json={**NIGHTLY, "agent": "scout", "input": {}})
    assert made.status_code == 201, made.text
    assert made.json()["agent"] == "scout" and made.json()["agent_version"] == 1
