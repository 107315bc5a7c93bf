"""Webhooks end to end against a loopback receiver that verifies every signature: the reaper's
dispatcher makes one delivery task per (webhook, event), the worker's executor sends it, a 5xx
is retried with the same Outlast-Webhook-Id until it is accepted exactly once, a dead receiver
ends in a dead letter that redrives, the dispatcher never makes a delivery twice (a second
pass, a cursor reset as after a lost commit, two reapers), and the secret is shown once and
found nowhere after. Bad input, private addresses and operator-only allow_private are 4xx
naming the field. Other tenants: tests/integration/test_tenant_isolation.py."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from db import lease
from db.connect import Pool, connect
from outlast.registry import Registry
from outlast.webhooks import WEBHOOK_GRAPH
from reaper.reaper import Reaper, ReaperConfig
from tests.support.api import api_client, dead_letter, on_app_loop, submit
from tests.support.queue import NO_BACKOFF, claim_one, complete, new_worker
from tests.support.webhook_receiver import Receiver, receiver
from worker.completions import Completions
from worker.config import WorkerConfig
from worker.executor import Executor
from worker.leases import Lease

EVENTS = ["task.completed", "task.failed", "task.waiting", "task.budget_paused"]
# Retries at once: the backoff is the queue's, tested with the queue. Loopback is reached
# because the webhooks here have allow_private (set by the operator's key).
WORKER = WorkerConfig(retry=NO_BACKOFF)


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    with api_client(db_url) as client:
        yield client


def problem(response: Any, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field], response.text


def make(api: TestClient, hook: Receiver, name: str = "ops", **body: Any) -> dict[str, Any]:
    """A webhook to the receiver (loopback: allowed by the operator's key), its secret kept."""
    fields = {"name": name, "url": hook.url, "events": EVENTS, "allow_private": True, **body}
    made = api.post("/v1/webhooks", json=fields)
    assert made.status_code == 201, made.text
    hook.secret = made.json()["secret"]
    return dict(made.json())


def dispatch(api: TestClient, **config: Any) -> int:
    """One reaper pass (events need not settle here); the delivery tasks it submitted."""

    async def run(pool: Pool) -> int:
        reaper = Reaper(pool, ReaperConfig(webhook_settle_s=0, **config))
        return (await reaper.run_once()).webhooks_dispatched

    return on_app_loop(api, run)


def send(api: TestClient, config: WorkerConfig = WORKER) -> int:
    """Claim every ready delivery and run each once through the worker's executor."""

    async def run(pool: Pool) -> int:
        worker_id = await new_worker(pool)
        claims = await lease.claim_many(
            pool, worker_id, limit=50, ttl_s=30, graphs=(WEBHOOK_GRAPH,)
        )
        executor = Executor(
            pool, Registry.from_spec(""), worker_id, config, Completions(pool, worker_id)
        )
        for claim in claims:
            await executor.execute(Lease(claim))
        return len(claims)

    return on_app_loop(api, run)


def send_until_idle(api: TestClient, rounds: int = 10) -> None:
    for _ in range(rounds):
        if send(api) == 0:
            return
    raise AssertionError("deliveries still ready after every round")


def completed_task(api: TestClient) -> str:
    task = submit(api, "pipeline")

    async def run(pool: Pool) -> None:
        worker_id = await new_worker(pool)
        claim = await claim_one(pool, worker_id)
        await complete(pool, worker_id, claim.task_id, claim.epoch, {"ok": True})

    on_app_loop(api, run)
    return str(task["id"])


def deliveries(db_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT d.event_type, d.task_id, t.state, t.attempts, t.input"
            " FROM webhook_deliveries d JOIN tasks t ON t.id = d.task_id ORDER BY d.event_id"
        ).fetchall()
    keys = ("event_type", "task_id", "state", "attempts", "input")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def test_a_refused_delivery_is_retried_and_accepted_once_with_one_id(
    api: TestClient, db_url: str
) -> None:
    with receiver(fail_first=2) as hook:
        make(api, hook)
        done = completed_task(api)
        failed = dead_letter(api)["task_id"]
        assert dispatch(api) == 2
        assert dispatch(api) == 0  # the cursor moved past them
        send_until_idle(api)

        made = deliveries(db_url)
        assert [(d["event_type"], d["state"]) for d in made] == [
            ("task.completed", "completed"),
            ("task.failed", "completed"),
        ]
        assert [d["attempts"] for d in made] == [3, 3]  # two 503s each, then accepted
        ids = [str(d["task_id"]) for d in made]
        assert all(s.verified for s in hook.seen)
        assert [s.delivery_id for s in hook.seen] == ids * 3  # one id on every attempt
        assert [s.status for s in hook.seen] == [503, 503, 503, 503, 200, 200]
        assert sorted(hook.accepted) == sorted(ids)  # exactly one accepted per event
        completed = hook.accepted[ids[0]]
        assert completed["type"] == "task.completed" and completed["id"] == ids[0]
        assert completed["data"]["task_id"] == done and completed["data"]["state"] == "completed"
        assert hook.accepted[ids[1]]["data"]["task_id"] == failed

        got = api.get("/v1/webhooks/ops").json()
        assert [d["task_id"] for d in got["deliveries"]] == ids[::-1]  # newest first


def test_the_dispatcher_never_makes_a_delivery_twice(api: TestClient, db_url: str) -> None:
    """A second pass, a cursor moved back (as if a reaper's commit were lost after it sent the
    statement) and two reapers at once: one delivery per (webhook, event), still."""
    with receiver() as hook:
        make(api, hook)
        for _ in range(3):
            completed_task(api)
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("UPDATE webhooks SET event_cursor = 0")

        async def two_reapers(pool: Pool) -> list[int]:
            reapers = [Reaper(pool, ReaperConfig(webhook_settle_s=0)) for _ in range(2)]
            results = await asyncio.gather(*(r.run_once() for r in reapers))
            return [r.webhooks_dispatched for r in results]

        assert sum(on_app_loop(api, two_reapers)) == 3
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("UPDATE webhooks SET event_cursor = 0")
        assert dispatch(api) == 0  # the key (webhook, event) holds
        assert len(deliveries(db_url)) == 3
        send_until_idle(api)
        assert len(hook.accepted) == 3
        # The deliveries' own completions are no events a webhook hears of.
        assert dispatch(api) == 0


def test_a_dead_receiver_ends_in_a_dead_letter_that_redrives(api: TestClient, db_url: str) -> None:
    with receiver() as dead:
        dead_url = dead.url
    with receiver() as hook:
        make(api, hook, url=dead_url)
        completed_task(api)
        assert dispatch(api, webhook_max_attempts=2) == 1
        send_until_idle(api)
        [made] = deliveries(db_url)
        assert (made["state"], made["attempts"]) == ("failed", 2)
        letters = api.get("/v1/dead-letters", params={"graph": WEBHOOK_GRAPH}).json()["items"]
        assert [d["task_id"] for d in letters] == [str(made["task_id"])]
        assert dispatch(api) == 0  # a delivery's dead letter is no event for the webhook

        moved = api.patch("/v1/webhooks/ops", json={"url": hook.url})
        assert moved.status_code == 200, moved.text
        redriven = api.post(f"/v1/dead-letters/{letters[0]['id']}/redrive")
        assert redriven.status_code == 200, redriven.text
        send_until_idle(api)
        assert list(hook.accepted) == [str(made["task_id"])]  # the same id as before
        assert deliveries(db_url)[0]["state"] == "completed"


def test_waiting_and_budget_paused_events_and_the_chosen_types_only(
    api: TestClient, db_url: str
) -> None:
    with receiver() as hook:
        make(api, hook, events=["task.waiting", "task.budget_paused"])
        completed_task(api)  # not chosen
        task = submit(api, "pipeline")
        with psycopg.connect(db_url, autocommit=True) as conn:  # as waits_park and budget do
            for to_state in ("waiting_for_approval", "paused"):
                conn.execute(
                    "INSERT INTO task_events (tenant, task_id, kind, from_state, to_state)"
                    " VALUES ('default', %s, 'test', 'running', %s)",
                    (task["id"], to_state),
                )
        assert dispatch(api) == 2
        send_until_idle(api)
        types = sorted(p["type"] for p in hook.accepted.values())
        assert types == ["task.budget_paused", "task.waiting"]


def test_pause_skips_events_resume_hears_new_ones_delete_ends_pending_deliveries(
    api: TestClient, db_url: str
) -> None:
    with receiver() as hook:
        make(api, hook)
        paused = api.post("/v1/webhooks/ops/pause")
        assert paused.status_code == 200 and paused.json()["paused"]
        completed_task(api)
        assert dispatch(api) == 0
        resumed = api.post("/v1/webhooks/ops/resume").json()
        assert not resumed["paused"]
        assert dispatch(api) == 0  # the pause's events are skipped
        completed_task(api)
        assert dispatch(api) == 1
        assert api.delete("/v1/webhooks/ops").status_code == 204
        send_until_idle(api)
        assert hook.seen == []  # deleted before it was sent: nothing goes out
        with psycopg.connect(db_url) as conn:
            row = conn.execute(
                "SELECT state, result FROM tasks WHERE graph = %s", (WEBHOOK_GRAPH,)
            ).fetchone()
        assert row is not None and row[0] == "completed" and row[1]["delivered"] is False
        assert api.get("/v1/webhooks/ops").status_code == 404


def test_the_secret_is_shown_once_and_found_nowhere_after(
    api: TestClient, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with receiver(fail_first=1) as hook:
        made = make(api, hook)
        secret = made["secret"]
        assert secret.startswith("whsec_") and len(secret) > 40
        completed_task(api)
        dispatch(api)
        send_until_idle(api)
        assert len(hook.accepted) == 1
        answers = [
            api.get("/v1/webhooks"),
            api.get("/v1/webhooks/ops"),
            api.patch("/v1/webhooks/ops", json={"events": ["task.completed"]}),
            api.post("/v1/webhooks/ops/pause"),
            api.post("/v1/webhooks/ops/resume"),
            api.get("/v1/tasks", params={"graph": WEBHOOK_GRAPH}),
        ]
        task_id = next(iter(hook.accepted))
        answers += [api.get(f"/v1/tasks/{task_id}"), api.get(f"/v1/tasks/{task_id}/events")]
        for answer in answers:
            assert answer.status_code == 200, answer.text
            assert secret not in answer.text and "secret" not in answer.json()
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT (SELECT string_agg(t::text, '|') FROM tasks t)"
            " || (SELECT string_agg(e::text, '|') FROM task_events e)"
            " || coalesce((SELECT string_agg(d::text, '|') FROM dead_letters d), '')"
        ).fetchone()
    assert stored is not None and secret not in stored[0]
    assert secret not in caplog.text


def test_private_addresses_are_refused_at_create(api: TestClient) -> None:
    body = {"name": "ops", "events": ["task.completed"]}
    for url in ("http://127.0.0.1:9/hook", "http://10.0.0.7/", "http://[::1]/", "http://0x7f.1/"):
        problem(api.post("/v1/webhooks", json={**body, "url": url}), 422, "body.url")
    refused = api.post("/v1/webhooks", json={**body, "url": "http://127.0.0.1:9/hook"})
    assert "loopback" in refused.json()["detail"]
    metadata = {**body, "url": "http://169.254.169.254/", "allow_private": True}
    problem(api.post("/v1/webhooks", json=metadata), 422, "body.url")  # even when allowed

    # Only the operator may set allow_private: an admin key of another tenant may not.
    key = api.post("/v1/keys", json={"scopes": ["admin"], "tenant": "acme"}).json()["key"]
    acme = {"Authorization": f"Bearer {key}"}
    private = {**body, "url": "http://127.0.0.1:9/hook", "allow_private": True}
    problem(api.post("/v1/webhooks", json=private, headers=acme), 403, "body.allow_private")
    assert api.get("/v1/webhooks", headers=acme).json()["items"] == []
    allowed = api.post("/v1/webhooks", json=private)
    assert allowed.status_code == 201, allowed.text
    patch = {"allow_private": True}
    problem(api.patch("/v1/webhooks/ops", json=patch, headers=acme), 403, "body.allow_private")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Not A Slug"}, "body.name"),
        ({"url": "ftp://example.com/"}, "body.url"),
        ({"url": "http://user@example.com/"}, "body.url"),
        ({"url": ""}, "body.url"),
        ({"events": []}, "body.events"),
        ({"events": ["task.exploded"]}, "body.events.0"),
        ({"events": "task.completed"}, "body.events"),
        ({"allow_private": "yes"}, "body.allow_private"),
        ({"secret": "mine"}, "body.secret"),
    ],
)
def test_bad_input_names_the_field(api: TestClient, change: dict[str, Any], field: str) -> None:
    body = {"name": "ops", "url": "http://127.0.0.1:9/", "events": ["task.completed"]}
    problem(api.post("/v1/webhooks", json={**body, "allow_private": True, **change}), 422, field)


def test_a_taken_name_is_a_conflict_and_unknown_names_are_404(api: TestClient) -> None:
    with receiver() as hook:
        make(api, hook)
        taken = api.post(
            "/v1/webhooks",
            json={"name": "ops", "url": hook.url, "events": EVENTS, "allow_private": True},
        )
        assert taken.status_code == 409, taken.text
    for response in (
        api.get("/v1/webhooks/nope"),
        api.patch("/v1/webhooks/nope", json={"events": ["task.failed"]}),
        api.post("/v1/webhooks/nope/pause"),
        api.post("/v1/webhooks/nope/resume"),
        api.delete("/v1/webhooks/nope"),
    ):
        assert response.status_code == 404, response.text


def test_a_task_submitted_as_a_delivery_by_hand_sends_nothing(api: TestClient) -> None:
    """Only the dispatcher's deliveries have a key: a task submitted to `outlast.webhook` with a
    payload of its own cannot borrow a webhook's URL or secret."""
    with receiver() as hook:
        make(api, hook)
        payload = {"id": str(uuid.uuid4()), "type": "task.completed"}
        forged = submit(api, WEBHOOK_GRAPH, input={"webhook": "ops", "payload": payload})
        send_until_idle(api)
        assert hook.seen == []
        task = api.get(f"/v1/tasks/{forged['id']}").json()
        assert task["state"] == "completed" and task["result"]["delivered"] is False


def test_retention_forgets_the_keys_of_pruned_deliveries(api: TestClient, db_url: str) -> None:
    with receiver() as hook:
        make(api, hook)
        completed_task(api)
        assert dispatch(api) == 1
        send_until_idle(api)
    assert len(hook.accepted) == 1

    async def reap_later() -> int:
        conn = await connect(db_url)
        async with conn:
            later = datetime.now(UTC) + timedelta(days=2)
            await conn.execute("SELECT set_config('outlast.now', %s, false)", (later.isoformat(),))
            config = ReaperConfig(retention_s=86_400, webhook_settle_s=0)
            return (await Reaper(conn, config).run_once()).tasks_pruned

    assert asyncio.run(reap_later()) == 2  # the task and its delivery
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM webhook_deliveries").fetchone() == (0,)
    assert api.get("/v1/webhooks/ops").json()["deliveries"] == []
